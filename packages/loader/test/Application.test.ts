/**
 * The repository the way an application uses it (issue 9), on the memory stores: several instances on one
 * store, background mode, `resilient`.
 */
import { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import { memoryUnitScenarios, sharedScenarios } from "./ApplicationScenarios.js"

const Stores = Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory).pipe(
  // the scenarios provoke warnings on purpose
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error"))
)

describe("the repository in an application, on the memory stores", () => {
  layer(Stores, { excludeTestServices: true })((it) => {
    sharedScenarios(it, "Mem")
  })
  layer(Layer.merge(Stores, UnitOfWork.layerMemory), { excludeTestServices: true })((it) => {
    memoryUnitScenarios(it, "MemUnit")
  })
})
