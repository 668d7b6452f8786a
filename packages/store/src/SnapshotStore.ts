/**
 * The SnapshotStore service: a history of snapshots per aggregate.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { Snapshot, SnapshotInfo, SnapshotKey } from "./Snapshot.js"

/**
 * Why a store call failed:
 * - `InvalidInput`: the caller's arguments are wrong (empty id, version 0, a state that is not JSON); nothing was written.
 * - `Unavailable`: the backend could not be reached, failed, or timed out; retrying may help.
 * - `Corrupt`: a stored snapshot could not be read back (bad bytes, bad JSON, bad row).
 * - `Conflict`: the backend refused the write as conflicting (a constraint violation).
 *
 * @since 0.1.0
 */
export const SnapshotStoreErrorReason = Schema.Literal("InvalidInput", "Unavailable", "Corrupt", "Conflict")

/**
 * @since 0.1.0
 */
export type SnapshotStoreErrorReason = typeof SnapshotStoreErrorReason.Type

/**
 * The one error type of every SnapshotStore method.
 *
 * @since 0.1.0
 */
export class SnapshotStoreError extends Schema.TaggedError<SnapshotStoreError>(
  "@effect-snapshots/store/SnapshotStoreError"
)("SnapshotStoreError", {
  reason: SnapshotStoreErrorReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * @since 0.1.0
 */
export interface LoadOptions {
  /** Return the newest snapshot whose version is at or below this one. */
  readonly maxVersion?: number | undefined
}

/**
 * @since 0.1.0
 */
export interface DeleteOptions {
  /** Delete only this version; without it, the aggregate's whole history. */
  readonly version?: number | undefined
}

/**
 * Retention. For every aggregate (of `aggregateType`, when given) the `keepLast` newest snapshots are
 * always kept; an older one is deleted — only when it was created more than `olderThan` ago, if that is
 * given. `keepLast` is an integer >= 1, so the newest snapshot of an aggregate is never pruned.
 *
 * @since 0.1.0
 */
export interface PruneOptions {
  readonly keepLast: number
  readonly olderThan?: Duration.DurationInput | undefined
  readonly aggregateType?: string | undefined
}

/**
 * @since 0.1.0
 */
export interface PruneResult {
  /** How many snapshots were deleted. */
  readonly deleted: number
}

/**
 * @since 0.1.0
 */
export interface SnapshotStoreService {
  /**
   * Store a snapshot. A store keeps a history per aggregate, keyed by (type, id, version): saving an older
   * version never hides a newer one, and saving the same version twice is idempotent (no error).
   */
  readonly save: (snapshot: Snapshot) => Effect.Effect<void, SnapshotStoreError>
  /** The newest snapshot of an aggregate, or the newest at or below `maxVersion`. */
  readonly load: (
    aggregateType: string,
    aggregateId: string,
    options?: LoadOptions
  ) => Effect.Effect<Option.Option<Snapshot>, SnapshotStoreError>
  /** An aggregate's history without states, oldest first. */
  readonly list: (
    aggregateType: string,
    aggregateId: string
  ) => Effect.Effect<ReadonlyArray<SnapshotInfo>, SnapshotStoreError>
  /** Delete one version, or the whole history; answers how many snapshots were deleted. */
  readonly delete: (
    aggregateType: string,
    aggregateId: string,
    options?: DeleteOptions
  ) => Effect.Effect<number, SnapshotStoreError>
  /** The most recently created snapshot of any aggregate of this type. */
  readonly latestForType: (aggregateType: string) => Effect.Effect<Option.Option<Snapshot>, SnapshotStoreError>
  /** Every aggregate that has at least one snapshot, of one type when given; streamed in pages. */
  readonly aggregates: (aggregateType?: string) => Stream.Stream<SnapshotKey, SnapshotStoreError>
  /** Retention by count and age; see `PruneOptions`. */
  readonly prune: (options: PruneOptions) => Effect.Effect<PruneResult, SnapshotStoreError>
}

/**
 * @since 0.1.0
 */
export class SnapshotStore extends Context.Tag("@effect-snapshots/store/SnapshotStore")<
  SnapshotStore,
  SnapshotStoreService
>() {}
