import { SnapshotStore } from "@effect-snapshots/store"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import { contract } from "./utils/contract.js"
import { saveIfDueSuite } from "./utils/saveIfDue.js"

describe("SnapshotStore contract", () => {
  layer(SnapshotStore.layerMemory)("layerMemory", (it) => contract(it, { large: true }))

  layer(SnapshotStore.layerMemory.pipe(SnapshotStore.compressed({ thresholdBytes: 256 })))(
    "layerMemory + compressed (gzip)",
    (it) => contract(it, { large: true })
  )

  layer(SnapshotStore.layerMemory.pipe(SnapshotStore.compressed({ thresholdBytes: 64, algorithm: "brotli" })))(
    "layerMemory + compressed (brotli)",
    (it) => contract(it)
  )

  layer(SnapshotStore.layerMemory.pipe(SnapshotStore.resilient()))(
    "layerMemory + resilient",
    (it) => contract(it)
  )

  layer(
    SnapshotStore.layerMemory.pipe(
      SnapshotStore.compressed({ thresholdBytes: 256 }),
      SnapshotStore.resilient({ timeout: "5 seconds" })
    )
  )("layerMemory + compressed + resilient", (it) => contract(it))

  layer(
    SnapshotStore.layerMemory.pipe(
      SnapshotStore.resilient(),
      SnapshotStore.compressed({ thresholdBytes: 256 })
    )
  )("layerMemory + resilient + compressed", (it) => contract(it))
})

describe("SnapshotStore.makeMemory: saveIfDue", () => {
  layer(Layer.empty)((it) => saveIfDueSuite(it, SnapshotStore.makeMemory))
})
