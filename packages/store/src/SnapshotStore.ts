/**
 * The SnapshotStore service: a history of snapshots per aggregate.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as compression from "./internal/compressed.js"
import * as resilience from "./internal/resilient.js"
import { withState } from "./internal/snapshot.js"
import * as validate from "./internal/validate.js"
import { Snapshot, SnapshotInfo, SnapshotKey } from "./Snapshot.js"

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

// ---------------------------------------------------------------------------------------------------------
// In-memory backend
// ---------------------------------------------------------------------------------------------------------

/** One aggregate's history, oldest first. */
interface History {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly snapshots: ReadonlyArray<Snapshot>
}

// NUL is rejected in types and ids, so it separates them unambiguously.
const memoryKey = (aggregateType: string, aggregateId: string): string => `${aggregateType}\u0000${aggregateId}`

const historyOf = (
  histories: HashMap.HashMap<string, History>,
  aggregateType: string,
  aggregateId: string
): ReadonlyArray<Snapshot> =>
  Option.match(HashMap.get(histories, memoryKey(aggregateType, aggregateId)), {
    onNone: () => [],
    onSome: (history) => history.snapshots
  })

// A caller may pass a structurally typed plain object; the store answers `Snapshot` instances.
const toSnapshot = (snapshot: Snapshot): Snapshot =>
  (snapshot as unknown) instanceof Snapshot ? snapshot : withState(snapshot, snapshot.state)

const toInfo = (snapshot: Snapshot): SnapshotInfo =>
  new SnapshotInfo({
    aggregateType: snapshot.aggregateType,
    aggregateId: snapshot.aggregateId,
    version: snapshot.version,
    schemaVersion: snapshot.schemaVersion,
    createdAt: snapshot.createdAt,
    metadata: snapshot.metadata
  }, true)

// Which of two snapshots of one type `latestForType` prefers: later createdAt, then higher version, then id.
const isLater = (a: Snapshot, b: Snapshot): boolean => {
  const ta = DateTime.toEpochMillis(a.createdAt)
  const tb = DateTime.toEpochMillis(b.createdAt)
  if (ta !== tb) return ta > tb
  if (a.version !== b.version) return a.version > b.version
  return a.aggregateId > b.aggregateId
}

/**
 * An in-memory store: a `Ref` of histories, no dependencies. States are kept by reference (not copied), so
 * a caller must not mutate a state after saving it — Effect code treats states as immutable anyway.
 * It validates its input exactly like the SQL backend.
 *
 * @since 0.1.0
 */
export const makeMemory: Effect.Effect<SnapshotStoreService> = Effect.map(
  Ref.make(HashMap.empty<string, History>()),
  (ref): SnapshotStoreService => {
    type Histories = HashMap.HashMap<string, History>
    // A persistent map: a reader holding it sees a consistent state while writers replace it.
    const update = <A>(f: (histories: Histories) => readonly [A, Histories | undefined]) =>
      Ref.modify(ref, (histories) => {
        const [result, next] = f(histories)
        return [result, next ?? histories]
      })
    return {
      save: (snapshot) =>
        Effect.suspend(() => {
          const error = validate.checkSnapshot(snapshot)
          if (error !== undefined) return Effect.fail(error)
          const stored = toSnapshot(snapshot)
          const key = memoryKey(stored.aggregateType, stored.aggregateId)
          return update((histories) => {
            const snapshots = Option.match(HashMap.get(histories, key), {
              onNone: () => [] as ReadonlyArray<Snapshot>,
              onSome: (history) => history.snapshots
            })
            // Insert at its place in version order; an existing version is kept as it is (idempotent).
            let index = snapshots.length
            while (index > 0 && snapshots[index - 1]!.version > stored.version) index--
            if (index > 0 && snapshots[index - 1]!.version === stored.version) return [undefined, undefined]
            return [
              undefined,
              HashMap.set(histories, key, {
                aggregateType: stored.aggregateType,
                aggregateId: stored.aggregateId,
                snapshots: [...snapshots.slice(0, index), stored, ...snapshots.slice(index)]
              })
            ]
          })
        }),
      load: (aggregateType, aggregateId, options) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkMaxVersion(options?.maxVersion)
          if (error !== undefined) return Effect.fail(error)
          const maxVersion = options?.maxVersion ?? Number.POSITIVE_INFINITY
          return Effect.map(Ref.get(ref), (histories) => {
            const snapshots = historyOf(histories, aggregateType, aggregateId)
            for (let i = snapshots.length - 1; i >= 0; i--) {
              if (snapshots[i]!.version <= maxVersion) return Option.some(snapshots[i]!)
            }
            return Option.none()
          })
        }),
      list: (aggregateType, aggregateId) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId)
          if (error !== undefined) return Effect.fail(error)
          return Effect.map(
            Ref.get(ref),
            (histories) => historyOf(histories, aggregateType, aggregateId).map(toInfo)
          )
        }),
      delete: (aggregateType, aggregateId, options) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkDeleteVersion(options?.version)
          if (error !== undefined) return Effect.fail(error)
          const key = memoryKey(aggregateType, aggregateId)
          return update((histories) => {
            const history = Option.getOrUndefined(HashMap.get(histories, key))
            if (history === undefined) return [0, undefined]
            const version = options?.version
            const kept = version === undefined ? [] : history.snapshots.filter((s) => s.version !== version)
            const deleted = history.snapshots.length - kept.length
            if (deleted === 0) return [0, undefined]
            return [
              deleted,
              kept.length === 0
                ? HashMap.remove(histories, key)
                : HashMap.set(histories, key, { ...history, snapshots: kept })
            ]
          })
        }),
      latestForType: (aggregateType) =>
        Effect.suspend(() => {
          const error = validate.checkType(aggregateType)
          if (error !== undefined) return Effect.fail(error)
          return Effect.map(Ref.get(ref), (histories) => {
            let latest: Snapshot | undefined
            for (const history of HashMap.values(histories)) {
              if (history.aggregateType !== aggregateType) continue
              for (const snapshot of history.snapshots) {
                if (latest === undefined || isLater(snapshot, latest)) latest = snapshot
              }
            }
            return Option.fromNullable(latest)
          })
        }),
      aggregates: (aggregateType) =>
        Stream.unwrap(Effect.suspend(() => {
          const error = aggregateType === undefined ? undefined : validate.checkType(aggregateType)
          if (error !== undefined) return Effect.fail(error)
          return Effect.map(Ref.get(ref), (histories) => {
            const keys: Array<SnapshotKey> = []
            for (const history of HashMap.values(histories)) {
              if (aggregateType === undefined || history.aggregateType === aggregateType) {
                keys.push(
                  new SnapshotKey({ aggregateType: history.aggregateType, aggregateId: history.aggregateId }, true)
                )
              }
            }
            keys.sort((a, b) =>
              a.aggregateType < b.aggregateType ? -1 : a.aggregateType > b.aggregateType ?
                1 :
                a.aggregateId < b.aggregateId
                ? -1
                : a.aggregateId > b.aggregateId
                ? 1
                : 0
            )
            return Stream.fromChunk(Chunk.unsafeFromArray(keys))
          })
        })),
      prune: (options) =>
        Effect.suspend(() => {
          const checked = validate.checkPrune(options)
          if (checked instanceof SnapshotStoreError) return Effect.fail(checked)
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const cutoff = checked.olderThanMillis === undefined ? undefined : now - checked.olderThanMillis
            return update((histories): readonly [PruneResult, Histories | undefined] => {
              let deleted = 0
              let next = histories
              for (const [key, history] of histories) {
                if (options.aggregateType !== undefined && history.aggregateType !== options.aggregateType) continue
                const snapshots = history.snapshots
                const firstKept = snapshots.length - options.keepLast
                if (firstKept <= 0) continue
                const kept = snapshots.filter((snapshot, index) =>
                  index >= firstKept || (cutoff !== undefined && DateTime.toEpochMillis(snapshot.createdAt) >= cutoff)
                )
                if (kept.length === snapshots.length) continue
                deleted += snapshots.length - kept.length
                next = HashMap.set(next, key, { ...history, snapshots: kept })
              }
              return [{ deleted }, next]
            })
          })
        })
    }
  }
)

/**
 * The in-memory store as a layer: the one to swap in for tests. Each build is a fresh, empty store.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<SnapshotStore> = Layer.effect(SnapshotStore, makeMemory)

// ---------------------------------------------------------------------------------------------------------
// Decorators
// ---------------------------------------------------------------------------------------------------------

/**
 * Options of the `compressed` decorator.
 *
 * @since 0.1.0
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
 * to JSON is a `Corrupt` error. The other methods are the inner store's. Fails with `InvalidInput` on bad
 * options.
 *
 * @since 0.1.0
 */
export const makeCompressed = (
  inner: SnapshotStoreService,
  options: CompressOptions
): Effect.Effect<SnapshotStoreService, SnapshotStoreError> =>
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
 */
export const compressed = (options: CompressOptions) =>
<E, R>(
  inner: Layer.Layer<SnapshotStore, E, R>
): Layer.Layer<SnapshotStore, E | SnapshotStoreError, R> =>
  Layer.effect(SnapshotStore, Effect.flatMap(SnapshotStore, (service) => makeCompressed(service, options))).pipe(
    Layer.provide(inner)
  )

/**
 * Options of the `resilient` decorator.
 *
 * @since 0.1.0
 */
export interface ResilientOptions {
  /** Timeout of each attempt of `save` and `load` (default 2 seconds). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Timeout of `list`, `delete`, `latestForType`, `prune`, and of each page of `aggregates` (default 1 minute). */
  readonly maintenanceTimeout?: Duration.DurationInput | undefined
  /**
   * How `save` and `load` retry an `Unavailable` failure (a timeout included); other reasons are never
   * retried. Default: two retries after ~25 ms and ~50 ms (exponential, jittered).
   */
  readonly retry?: Schedule.Schedule<unknown, SnapshotStoreError> | undefined
  /**
   * After `failureThreshold` consecutive `Unavailable` outcomes of `save`/`load` (after their retries) the
   * breaker opens: calls skip the store for `resetAfter`; then one trial call goes through, closing the
   * breaker on success or opening it again. Defaults: 5 failures, 30 seconds. `false` disables it.
   */
  readonly circuitBreaker?:
    | {
      readonly failureThreshold?: number | undefined
      readonly resetAfter?: Duration.DurationInput | undefined
    }
    | false
    | undefined
}

/**
 * Counts what `resilient` swallowed, tagged `operation` (save | load) and `reason` (Unavailable, Corrupt,
 * InvalidInput, Conflict, CircuitOpen when the breaker skipped the call, Defect).
 *
 * @since 0.1.0
 */
export const failuresSwallowed: Metric.Metric.Counter<number> = resilience.failuresSwallowed

/**
 * Counts how often the `resilient` circuit breaker opened.
 *
 * @since 0.1.0
 */
export const circuitOpened: Metric.Metric.Counter<number> = resilience.circuitOpened

/**
 * The `resilient` decorator as a function on services; see `resilient`. Fails with `InvalidInput` on bad
 * options.
 *
 * @since 0.1.0
 */
export const makeResilient: (
  inner: SnapshotStoreService,
  options?: ResilientOptions
) => Effect.Effect<SnapshotStoreService, SnapshotStoreError> = resilience.make

/**
 * Layer -> Layer for the command path: a failed `save` is logged and swallowed; a failed or timed-out
 * `load` is logged and answered with `Option.none()` (the caller replays events instead). Each attempt has
 * a timeout, `Unavailable` failures are retried on a Schedule, and a circuit breaker stops calling a store
 * that keeps failing. What was swallowed is logged and counted in `failuresSwallowed`. The maintenance
 * methods (`list`, `delete`, `latestForType`, `aggregates`, `prune`) still fail normally, with a timeout.
 *
 * @since 0.1.0
 */
export const resilient = (options: ResilientOptions = {}) =>
<E, R>(
  inner: Layer.Layer<SnapshotStore, E, R>
): Layer.Layer<SnapshotStore, E | SnapshotStoreError, R> =>
  Layer.effect(SnapshotStore, Effect.flatMap(SnapshotStore, (service) => makeResilient(service, options))).pipe(
    Layer.provide(inner)
  )
