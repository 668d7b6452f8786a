/** `rebuild` and `EventStore.streams` on the memory stores (one fresh pair per test). */
import { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { rebuildSuite } from "./utils/rebuildSuite.js"

const Stores = Layer.merge(EventStore.layerMemoryWith({ pageSize: 3 }), SnapshotStore.layerMemory)

describe("EventSourcedRepository.rebuild on memory", () => {
  rebuildSuite(it, (effect) => Effect.provide(effect, Stores))
})
