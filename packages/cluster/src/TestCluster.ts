/**
 * Entities without a cluster: the same `EventSourcedEntity.layer` code on one in-process runner
 * (`effect/cluster`'s `TestRunner`: memory message and runner storage, no sockets) and the memory event and
 * snapshot stores, for an application's entity tests with no Postgres.
 *
 * @since 1.0.0
 */
import { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import type * as Runners from "effect/cluster/Runners"
import type * as Sharding from "effect/cluster/Sharding"
import * as TestRunner from "effect/cluster/TestRunner"
import * as Layer from "effect/Layer"

/**
 * One in-process runner and the memory stores. Provide it once, under the repositories and the entity layers.
 *
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<
  | Sharding.Sharding
  | Runners.Runners
  | MessageStorage.MessageStorage
  | MessageStorage.MemoryDriver
  | EventStore.EventStore
  | SnapshotStore.SnapshotStore
> = Layer.mergeAll(TestRunner.layer, EventStore.layerMemory, SnapshotStore.layerMemory)
