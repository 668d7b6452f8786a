/**
 * Set-based reports over SqlSnapshotStore's table that the `SnapshotStore` service has no method for yet:
 * per-type statistics, the share of stale snapshots, and what a `prune` would delete. Each is one SQL
 * statement (`stats` first looks up which state columns the table has); they read the table directly (its name from `SqlSnapshotStore`'s options, default
 * `effect_snapshots`), so they work on Postgres only.
 *
 * @since 0.1.0
 */
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as SqlClient from "effect/sql/SqlClient"
import type { AdminError } from "./AdminError.js"
import * as internal from "./internal/sqlStats.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** SqlSnapshotStore's table, optionally schema-qualified; default `effect_snapshots`. */
  readonly table?: string | undefined
}

/**
 * The snapshots of one aggregate type.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypeStats {
  readonly aggregateType: string
  /** Aggregates with at least one snapshot. */
  readonly aggregates: number
  readonly snapshots: number
  /**
   * What Postgres stores for the states (`pg_column_size` of `state`, `state_text` and `state_bytes`, after TOAST
   * compression).
   */
  readonly bytes: number
  /** The oldest and newest `createdAt`. */
  readonly oldest: DateTime.Utc
  readonly newest: DateTime.Utc
}

/**
 * What the running code writes for a type: `Aggregate.schemaVersion` and `Aggregate.fingerprint`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Current {
  readonly schemaVersion: number
  readonly fingerprint: string
  /** Other fingerprints the aggregate reads as current (`Aggregate.compatibleFingerprints`): not stale either. */
  readonly compatibleFingerprints?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Stale {
  /** Snapshots written at another `schemaVersion`, or at the current one with another state fingerprint. */
  readonly staleSnapshots: number
  /** Aggregates whose newest snapshot (the one a load starts from) is stale. */
  readonly staleAggregates: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PruneOptions {
  readonly keepLast: number
  readonly olderThan?: Duration.Input | undefined
  readonly aggregateType?: string | undefined
}

/**
 * What `SnapshotStore.prune` with the same options would delete, per type.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrunePlan {
  readonly aggregateType: string
  /** Snapshots that would be deleted. */
  readonly snapshots: number
  /** Aggregates that would lose at least one snapshot. */
  readonly aggregates: number
}

/**
 * Per-type statistics, one grouped pass over the table, ordered by type.
 *
 * @since 0.1.0
 * @category queries
 */
export const stats: (
  options?: Options
) => Effect.Effect<ReadonlyArray<TypeStats>, AdminError, SqlClient.SqlClient> = internal.stats

/**
 * How many snapshots of a type are stale for what the running code writes (one statement over the type's rows).
 *
 * @since 0.1.0
 * @category queries
 */
export const stale: (
  aggregateType: string,
  current: Current,
  options?: Options
) => Effect.Effect<Stale, AdminError, SqlClient.SqlClient> = internal.stale

/**
 * What `SnapshotStore.prune(options)` would delete now (the same selection: the `keepLast` newest of each
 * aggregate kept, older ones only when created before now − `olderThan`), counted, nothing deleted.
 *
 * @since 0.1.0
 * @category queries
 */
export const prunePlan: (
  plan: PruneOptions,
  options?: Options
) => Effect.Effect<ReadonlyArray<PrunePlan>, AdminError, SqlClient.SqlClient> = internal.prunePlan
