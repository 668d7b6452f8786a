import { SnapshotStore } from "@effect-snapshots/store"
import { describe, layer } from "@effect/vitest"
import { contract } from "./utils/contract.js"

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
