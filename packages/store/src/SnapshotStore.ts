/**
 * The SnapshotStore service: a history of snapshots per aggregate.
 *
 * @since 0.1.0
 */
import type { BadArgument } from "@effect-snapshots/core/BadArgument"
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Stream from "effect/Stream"
import * as backend from "./internal/backend.js"
import * as compression from "./internal/compressed.js"
import * as memory from "./internal/memory.js"
import * as resilience from "./internal/resilient.js"
import type { Snapshot, SnapshotInfo, SnapshotKey } from "./Snapshot.js"
import type * as SnapshotStoreBackend from "./SnapshotStoreBackend.js"
import type { SnapshotStoreError } from "./SnapshotStoreError.js"

/**
 * The store's error, from its own module (`SnapshotStoreError.ts`).
 *
 * @since 0.1.0
 * @category errors
 */
export { SnapshotStoreError, SnapshotStoreErrorReason } from "./SnapshotStoreError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface LoadOptions {
  /** Return the newest snapshot whose version is at or below this one. */
  readonly maxVersion?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
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
 * @category models
 */
export interface PruneOptions {
  readonly keepLast: number
  readonly olderThan?: Duration.Input | undefined
  readonly aggregateType?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PruneResult {
  /** How many snapshots were deleted. */
  readonly deleted: number
}

/**
 * Options of `saveIfDue`.
 *
 * @since 1.1.0
 * @category models
 */
export interface SaveIfDueOptions {
  /**
   * The due point: the snapshot is written unless the aggregate already has one at this version or above.
   * An integer from 1 to the snapshot's version (a due point above it would let a snapshot be written behind a
   * newer one); equal to the snapshot's version, it means only "never at or behind an existing snapshot".
   */
  readonly dueFrom: number
}

/**
 * What `saveIfDue` did: `Written` (this call stored the snapshot) or `AlreadyCovered` (the aggregate already
 * had a snapshot at or past the due point: nothing was written).
 *
 * @since 1.1.0
 * @category models
 */
export type SaveIfDueResult = "Written" | "AlreadyCovered"

/**
 * @since 0.1.0
 * @category models
 */
export interface SnapshotStoreService {
  /**
   * Store a snapshot. A store keeps a history per aggregate, keyed by (type, id, version): saving an older
   * version never hides a newer one, and saving the same version twice is idempotent (no error).
   */
  readonly save: (snapshot: Snapshot) => Effect.Effect<void, SnapshotStoreError>
  /**
   * Store a snapshot unless the aggregate already has one with a version >= `dueFrom`, decided atomically by
   * the store: of concurrent callers on one aggregate whose snapshots cover each other's due point (several
   * instances acting on the same due point), exactly one writes, the others answer `AlreadyCovered`. This is
   * how several instances' snapshot writers agree on one snapshot per due point. Validates like `save`, and
   * `dueFrom` (see `SaveIfDueOptions`).
   */
  readonly saveIfDue: (
    snapshot: Snapshot,
    options: SaveIfDueOptions
  ) => Effect.Effect<SaveIfDueResult, SnapshotStoreError>
  /**
   * The store's own clock, when it stamps snapshots with one (the SQL store's default `clock: "database"`):
   * the time a snapshot saved now would be stamped with, read without a round trip most of the time. Compare
   * a stored `createdAt` with this, not with the caller's clock, which may be off. Absent when the store keeps
   * each snapshot's own `createdAt` (memory, SQL with `clock: "application"`): the caller's clock is the one.
   */
  readonly now?: Effect.Effect<DateTime.Utc> | undefined
  /**
   * True for a store outside any transaction (Redis): inside a unit of work its writes wait for the commit
   * (never after a rollback), so a repository hands it its snapshots once the unit committed and reports them
   * `"queued"`, not `"written"`. Absent (or false) for stores whose writes join the unit (memory, SQL).
   */
  readonly writesAfterCommit?: boolean | undefined
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
 * @category services
 */
export class SnapshotStore extends Context.Service<SnapshotStore, SnapshotStoreService>()(
  "@effect-snapshots/store/SnapshotStore"
) {}

/**
 * The store on a narrow backend (a few primitive operations, see `SnapshotStoreBackend`): the checks, the
 * unit-of-work policy, error reasons, spans and failure metrics are added here, once for every backend.
 *
 * @since 1.1.0
 * @category constructors
 */
export const make: (backend: SnapshotStoreBackend.Backend) => SnapshotStoreService = backend.make

/**
 * An in-memory store (a backend of `make`): a `Ref` of histories, no dependencies. States are kept by
 * reference (not copied), so a caller must not mutate a state after saving it — Effect code treats states as
 * immutable anyway. `make` checks its input exactly as for every other backend. Inside a unit of work
 * (`UnitOfWork.transaction`) its writes (`save`, `saveIfDue`, `delete`, `prune`) stay the unit's, visible to
 * it alone, until it commits (then published, `saveIfDue`'s condition decided again) or rolls back (dropped);
 * outside one, a write is one `Ref` update.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<SnapshotStoreService> = memory.make

/**
 * The in-memory store as a layer: the one to swap in for tests. Each build is a fresh, empty store.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<SnapshotStore> = Layer.effect(SnapshotStore, makeMemory)

// ---------------------------------------------------------------------------------------------------------
// Decorators
// ---------------------------------------------------------------------------------------------------------

/**
 * Options of the `compressed` decorator.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompressOptions {
  /** States whose JSON is larger than this many bytes (UTF-8) are stored compressed; others untouched. */
  readonly thresholdBytes: number
  /** Default `"gzip"` (fast: ~2 ms for a 470 KB state at level 1). */
  readonly algorithm?: "gzip" | "brotli" | undefined
  /**
   * gzip level 0–9 (default 1) or brotli quality 0–11 (default 4). Brotli 11 compresses best but takes
   * ~0.5 s on a large state: not for the save path.
   */
  readonly level?: number | undefined
}

/**
 * The `compressed` decorator as a function on services: states above `thresholdBytes` are saved as
 * `CompressedState` (node:zlib) and inflated on `load` and `latestForType`; a payload that does not inflate
 * to JSON is a `Corrupt` error. The other methods are the inner store's. Fails with core's `BadArgument` on
 * bad options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCompressed = (
  inner: SnapshotStoreService,
  options: CompressOptions
): Effect.Effect<SnapshotStoreService, BadArgument> =>
  Effect.suspend(() => {
    const error = compression.checkOptions(options)
    return error === undefined ? Effect.succeed(compression.make(inner, options)) : Effect.fail(error)
  })

/**
 * Layer -> Layer: stores states above a size compressed (gzip or brotli), transparently for callers.
 *
 * ```ts
 * const Store = SqlSnapshotStore.layer.pipe(SnapshotStore.compressed({ thresholdBytes: 64 * 1024 }))
 * ```
 *
 * @since 0.1.0
 * @category decorators
 */
export const compressed = (options: CompressOptions) =>
<E, R>(
  inner: Layer.Layer<SnapshotStore, E, R>
): Layer.Layer<SnapshotStore, E | BadArgument, R> =>
  Layer.effect(SnapshotStore, Effect.flatMap(SnapshotStore, (service) => makeCompressed(service, options))).pipe(
    Layer.provide(inner)
  )

/**
 * Options of the `resilient` decorator.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResilientOptions {
  /**
   * The bound of each `save` and `load`, its retries included (default 2 seconds): at the deadline the call
   * fails with `Unavailable`. Outside a SQL transaction it returns at the deadline and the abandoned
   * statement's cancel finishes in the background; inside one it waits for the cancel (its savepoint must be
   * rolled back before the transaction goes on).
   */
  readonly timeout?: Duration.Input | undefined
  /** Timeout of `list`, `delete`, `latestForType`, `prune`, and of each page of `aggregates` (default 1 minute). */
  readonly maintenanceTimeout?: Duration.Input | undefined
  /**
   * How `save` and `load` retry an `Unavailable` failure, within the `timeout`; other reasons are never
   * retried. Default: two retries after ~25 ms and ~50 ms (exponential, jittered).
   */
  readonly retry?: Schedule.Schedule<unknown, SnapshotStoreError> | undefined
  /**
   * After `failureThreshold` consecutive `Unavailable` outcomes of `save`/`load` (after their retries) the
   * breaker opens: calls fail fast with `Unavailable` ("circuit open") without reaching the store for
   * `resetAfter`; then one trial call goes through, closing the breaker on success or opening it again.
   * Defaults: 5 failures, 30 seconds. `false` disables it.
   */
  readonly circuitBreaker?:
    | {
      readonly failureThreshold?: number | undefined
      readonly resetAfter?: Duration.Input | undefined
    }
    | false
    | undefined
}

/**
 * Counts the `save` and `load` failures that `resilient` passed on to its caller, after its retries, tagged
 * `operation` (save | load) and `reason` (Unavailable — timeouts included —, Corrupt, InvalidInput, Conflict,
 * CircuitOpen when the open breaker failed the call fast, Defect). `resilient` swallows nothing: the caller
 * (the repository) decides what a failure means.
 *
 * @since 0.2.0
 * @category metrics
 */
export const resilientFailures: Metric.Counter<number> = resilience.failures

/**
 * The old name of `resilientFailures` (the same counter, `effect_snapshots_store_resilient_failures`), from
 * when `resilient` swallowed the failures it counted. It swallows nothing any more.
 *
 * @deprecated use `resilientFailures`
 * @since 0.1.0
 * @category metrics
 */
export const failuresSwallowed: Metric.Counter<number> = resilience.failures

/**
 * Counts how often the `resilient` circuit breaker opened.
 *
 * @since 0.1.0
 * @category metrics
 */
export const circuitOpened: Metric.Counter<number> = resilience.circuitOpened

/**
 * The `resilient` decorator as a function on services; see `resilient`. Fails with core's `BadArgument` on
 * bad options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeResilient: (
  inner: SnapshotStoreService,
  options?: ResilientOptions
) => Effect.Effect<SnapshotStoreService, BadArgument> = resilience.make

/**
 * Layer -> Layer: each `save` and `load` is bounded by a timeout (retries included), `Unavailable` failures
 * are retried on a Schedule within it, and a circuit breaker stops calling a store that keeps being unavailable (an
 * open breaker fails calls fast with `Unavailable`, "circuit open"). Transparent otherwise: every failure
 * reaches the caller, nothing is swallowed (the repository owns that policy); failures are counted in
 * `resilientFailures`. The maintenance methods (`list`, `delete`, `latestForType`, `aggregates`, `prune`)
 * get a timeout only.
 *
 * @since 0.1.0
 * @category decorators
 */
export const resilient = (options: ResilientOptions = {}) =>
<E, R>(
  inner: Layer.Layer<SnapshotStore, E, R>
): Layer.Layer<SnapshotStore, E | BadArgument, R> =>
  Layer.effect(SnapshotStore, Effect.flatMap(SnapshotStore, (service) => makeResilient(service, options))).pipe(
    Layer.provide(inner)
  )
