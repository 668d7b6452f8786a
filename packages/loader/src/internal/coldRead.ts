/**
 * The cold load's first read in one go, when the stores can answer it together: the newest snapshot and the
 * first page of events from its version (from version 1 without one). An optional service: a backend's layers
 * provide it (the SQL stores of `@effect-snapshots/sql` answer it in one statement), and the repository finds it
 * with `Effect.serviceOption` and asks it for the very stores it was given. Any other pair of stores, or a
 * decorated store (a decorator wraps `load`: a statement of the repository's own would go around it), has none,
 * and the repository calls the two services.
 *
 * @internal
 */
import type { Snapshot, SnapshotStore, SnapshotStoreError } from "@effect-snapshots/store"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Result from "effect/Result"
import type { EventStoreError, EventStoreService, StoredEvent } from "../EventStore.js"

/** What the cold read answered. @internal */
export interface ColdRows {
  /** The newest snapshot as the snapshot store's `load` would have answered it. */
  readonly snapshot: Result.Result<Option.Option<Snapshot.Snapshot>, SnapshotStoreError.SnapshotStoreError>
  /** The size of the stored state in bytes (0 without a snapshot). */
  readonly stateBytes: number
  /** The events from the snapshot's version (from version 1 without one), at most a page, in version order. */
  readonly events: ReadonlyArray<StoredEvent>
}

/**
 * Reads one aggregate; none when the key is one the stores refuse (the two-call path reports that).
 *
 * @internal
 */
export type Read = (
  aggregateType: string,
  aggregateId: string,
  pageSize: number
) => Effect.Effect<Option.Option<ColdRows>, EventStoreError>

/** @internal */
export interface ColdReadService {
  /**
   * The read of `events` and `snapshots` together, when this service can answer for both (it was built with
   * them); none otherwise. Runs in the repository's context when the repository is built.
   */
  readonly readFor: (
    events: EventStoreService,
    snapshots: SnapshotStore.SnapshotStoreService
  ) => Effect.Effect<Option.Option<Read>>
}

/** @internal */
export class ColdRead extends Context.Service<ColdRead, ColdReadService>()("@effect-snapshots/loader/ColdRead") {}

/** The cold read of a pair of stores found in context, if a `ColdRead` in context answers for both. @internal */
export const find = (
  events: EventStoreService,
  snapshots: SnapshotStore.SnapshotStoreService
): Effect.Effect<Option.Option<Read>> =>
  Effect.flatMap(
    Effect.serviceOption(ColdRead),
    (cold) => Option.isSome(cold) ? cold.value.readFor(events, snapshots) : Effect.succeedNone
  )
