import { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import { repositorySuite } from "./utils/repositorySuite.js"

const memory = Layer.merge(EventStore.layerMemoryWith({ pageSize: 3 }), SnapshotStore.layerMemory)

describe("EventSourcedRepository on the memory layers", () => {
  layer(memory, { timeout: "120 seconds" })("suite", (it) => {
    repositorySuite(it, { propertyRuns: 1000, multiConnection: false })
  })
})
