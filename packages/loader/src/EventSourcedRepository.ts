/**
 * The event-sourced repository: `load` = newest snapshot + the events after it (or only the events after a
 * state this process knows, proven current by the stream), `save` = append + a snapshot decision taken after
 * the commit, `update` = load, decide, save, retried on conflicts. Commit-aware: inside a unit of work or a
 * SQL transaction nothing it remembers or writes outside that transaction changes before the commit.
 *
 * This module holds the public types and composes the parts of `internal/`: `load` (one start: cache, snapshot
 * or replay; one fold, `replay`), `save` (commit, decide, retry), `snapshotWriter`, `verify` and `rebuild`.
 *
 * @since 0.1.0
 */
import { BadArgument, SnapshotStrategy } from "@effect-snapshots/core"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Result from "effect/Result"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as Stream from "effect/Stream"
import * as Aggregate from "./Aggregate.js"
import { type ConcurrencyConflict, EventStore, type EventStoreError } from "./EventStore.js"
import * as ColdRead from "./internal/coldRead.js"
import * as Commit from "./internal/commit.js"
import * as Decision from "./internal/decision.js"
import { KnownStateCache } from "./internal/knownStateCache.js"
import * as Load from "./internal/load.js"
import * as Metadata from "./internal/metadata.js"
import * as MigrationCheck from "./internal/migrationCheck.js"
import * as Ops from "./internal/ops.js"
import * as Rebuild from "./internal/rebuild.js"
import * as Save from "./internal/save.js"
import * as SnapshotWriter from "./internal/snapshotWriter.js"
import { cut, oneLine, quote } from "./internal/text.js"
import * as Verify from "./internal/verify.js"
import type { AggregateNotFound, InvalidMetadata, StreamCorrupt } from "./RepositoryError.js"
import * as SnapshotMetrics from "./SnapshotMetrics.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  AggregateNotFound,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidMetadata,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidRepositoryOptions,
  /**
   * @since 0.2.0
   * @category errors
   */
  StreamCorrupt
} from "./RepositoryError.js"

export {
  /**
   * The optional one-statement cold load of the SQL stores (the newest snapshot and the first page of events
   * after it): `SqlEventStore.layer` provides it; `make` finds it with `Effect.serviceOption` and uses it when the
   * snapshot store is `SqlSnapshotStore.layer`'s own, undecorated, on the same client.
   *
   * @since 1.1.0
   * @category services
   */
  ColdRead
} from "./internal/coldRead.js"

/**
 * Why a load failed: no events, a stream that cannot be read (an event that does not decode, a version gap), or
 * the event store failed (`InvalidInput` for an id it refuses, such as `""`).
 *
 * @since 0.2.0
 * @category models
 */
export type LoadError = AggregateNotFound | Aggregate.EventDecodeError | StreamCorrupt | EventStoreError

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * What `save` / `update` accept as `metadata`: the Schema encodes it (its encoded side is what is stored with
   * each event) and refuses what does not match with `InvalidMetadata`. Without one, any plain JSON object is
   * stored as it is.
   */
  readonly metadataSchema?: Schema.Codec<unknown, unknown> | undefined
  /** When to snapshot, decided after every commit. */
  readonly strategy: SnapshotStrategy.SnapshotStrategy
  /** The named predicates of `SnapshotStrategy.custom` strategies. */
  readonly predicates?: SnapshotStrategy.CustomPredicates | undefined
  /**
   * `inline` (default): a snapshot is written before `save` returns. `background`: snapshot requests go to a
   * bounded queue drained by a fiber of the repository's scope.
   */
  readonly mode?: "inline" | "background" | undefined
  /** How many full replays (no snapshot, or an unusable one) may run at once (default 16). */
  readonly fallbackConcurrency?: number | undefined
  /** Background mode: how many snapshot requests may wait (default 1024); more are dropped, never blocked. */
  readonly queueCapacity?: number | undefined
  /** Background mode: how many snapshots (of distinct aggregates) are written at once (default 4). */
  readonly backgroundConcurrency?: number | undefined
  /**
   * The bound of the known-state cache, in bytes of the heap its states hold, estimated (default 64 MiB,
   * 0 disables the cache). The cache lets a load read only the events after a state this process already
   * knows (one query, no snapshot, no state decode), and `save` fold the new events onto it; an entry is used
   * only when the stream proves it current. See the README for how the size is estimated.
   */
  readonly cacheMaxBytes?: number | undefined
  /**
   * @deprecated Bound the cache by bytes with `cacheMaxBytes`. Still honoured as an additional bound on the
   * number of entries (0 disables the cache).
   */
  readonly cacheCapacity?: number | undefined
  /**
   * `update`'s retry policy on `ConcurrencyConflict` (default: up to 30 retries, jittered exponential backoff
   * from 2 ms doubling up to 500 ms: ~11.5 s of waiting at most, under sustained contention only). When it gives
   * up, `update` fails with the last conflict.
   */
  readonly retry?: Schedule.Schedule<unknown, ConcurrencyConflict> | undefined
}

/**
 * Metadata stored with every event of a commit (visible in `EventStore.read`, `readAll` and projection
 * envelopes). `correlationId` and `causationId` are conventions (strings when present); any other JSON field
 * may sit next to them. The key `eventVersion` is the library's.
 *
 * @since 0.3.0
 * @category models
 */
export interface EventMetadata {
  readonly correlationId?: string | undefined
  readonly causationId?: string | undefined
  readonly [key: string]: unknown
}

/**
 * The optional last argument of `save` and `update`.
 *
 * @since 0.3.0
 * @category models
 */
export interface SaveOptions {
  /** Stored with every event of the commit; checked (and encoded by `metadataSchema`) before anything is written. */
  readonly metadata?: EventMetadata | undefined
}

/**
 * The result of `load`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded<S> {
  readonly state: S
  /** The version of the last event folded in. */
  readonly version: number
  /** The version of the snapshot the load started from, if one was used. */
  readonly snapshotVersion: Option.Option<number>
  /** How many events were folded (after the snapshot or the cached state, or all of them). */
  readonly replayed: number
  /**
   * Where the load started: `cache` (a state this process knew, proven current by the stream: one query, no
   * snapshot read), `snapshot`, or `replay` (the whole stream).
   */
  readonly source: "cache" | "snapshot" | "replay"
}

/**
 * What happened to the snapshot after a commit:
 * `none` (the strategy said no, or the snapshot was already there), `written` (inline: the store stored it;
 * inside a transaction, stored in it), `queued` / `dropped` (background; in a unit of work, `queued` means
 * requested after the commit), `failed` (the store, or the state's encoding, failed: logged and counted; the
 * commit stands).
 *
 * @since 0.1.0
 * @category models
 */
export type SnapshotOutcome = "none" | "written" | "queued" | "dropped" | "failed"

/**
 * @since 0.1.0
 * @category models
 */
export interface Saved {
  readonly previousVersion: number
  readonly version: number
  /** Global positions of the appended events. */
  readonly positions: ReadonlyArray<number>
  readonly snapshot: SnapshotOutcome
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Updated<S, E> {
  readonly state: S
  readonly version: number
  /** The events the decision produced and that were committed (empty: nothing was written). */
  readonly events: ReadonlyArray<E>
  readonly snapshot: SnapshotOutcome
}

/**
 * Where the state loaded from snapshot + tail and the full replay differ: a JSON path into the encoded state
 * (`$.items[3].qty`), and each side's value as JSON text (truncated; "(absent)" for a missing key).
 *
 * @since 0.1.0
 * @category models
 */
export interface Difference {
  readonly path: string
  readonly snapshot: string
  readonly replay: string
}

/**
 * What `verify` found.
 *
 * @since 0.1.0
 * @category models
 */
export interface Verified {
  /** Whether snapshot + tail and a full replay (up to the same version) encode to the same state. */
  readonly consistent: boolean
  /** The version compared (the load's; the full replay stops there, so concurrent appends do not count). */
  readonly version: number
  /** The snapshot the load started from; none when there was no usable one (then both sides are replays). */
  readonly snapshotVersion: Option.Option<number>
  /** Events folded after the snapshot. */
  readonly replayed: number
  /** Where the two states differ, at most 10 paths; empty when consistent. */
  readonly differences: ReadonlyArray<Difference>
  /**
   * Whether the drifted snapshots were replaced by one of the full replay (`repair: true`), or queued for it in
   * background mode. A migrated snapshot that differs from the replay is replaced whatever `repair` says, as
   * every load replaces it.
   */
  readonly repaired: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface VerifyOptions {
  /**
   * When the states differ, delete the aggregate's snapshots and write one of the full replay (default false:
   * only report). A snapshot that cannot be used at all (stale fingerprint, corrupt, ...) is replaced by the
   * load itself, as every load does.
   */
  readonly repair?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface VerifyAllOptions extends VerifyOptions {
  /** How many aggregates are verified at once (default 4). */
  readonly concurrency?: number | undefined
  /** How many inconsistent and failed aggregates the summary lists (default 100; all are counted). */
  readonly maxReported?: number | undefined
}

/**
 * One aggregate's outcome in `verifyStream`: what `verify` found, or why it could not verify (an aggregate with
 * a snapshot but no events is `AggregateNotFound`: an orphan snapshot).
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifyResult {
  readonly aggregateId: string
  readonly result: Result.Result<Verified, LoadError>
}

/**
 * The summary of `verifyAll`.
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifySummary {
  /** Aggregates with at least one snapshot that were verified (or failed to). */
  readonly checked: number
  readonly consistent: number
  /** How many were inconsistent, and (up to `maxReported`) which, with their differences. */
  readonly inconsistentCount: number
  readonly inconsistent: ReadonlyArray<{ readonly aggregateId: string; readonly verified: Verified }>
  /** How many could not be verified, and (up to `maxReported`) why. */
  readonly failedCount: number
  readonly failed: ReadonlyArray<{ readonly aggregateId: string; readonly message: string }>
  /** How many inconsistent aggregates were repaired (`repair: true`). */
  readonly repaired: number
}

/**
 * @since 0.3.0
 * @category models
 */
export interface RebuildOptions {
  /**
   * Only aggregates without a usable snapshot at the current state fingerprint and schema version (none, stale,
   * corrupt, from an older schema version); default false: also move usable snapshots up to the stream's head.
   */
  readonly onlyStale?: boolean | undefined
  /** How many aggregates are rebuilt at once (default 4). */
  readonly concurrency?: number | undefined
  /** At most this many aggregates started per second (a token bucket, `Stream.throttle`); default: no limit. */
  readonly perSecond?: number | undefined
  /** Start after this aggregate id: the `checkpoint` of an earlier, interrupted rebuild. */
  readonly resumeFrom?: string | undefined
  /** `rebuild`: how many failed aggregates the summary lists (default 100; all are counted). */
  readonly maxReported?: number | undefined
}

/**
 * What `rebuild` did with one aggregate: `written` (a fresh snapshot is stored), `skipped` (a usable snapshot was
 * there: at the stream's head, or any with `onlyStale`), `queued` / `dropped` (a background-mode repository's
 * load handed the replacement of an unusable snapshot to its writer), `failed` (logged; see `message`).
 *
 * @since 0.3.0
 * @category models
 */
export type RebuildOutcome = "written" | "skipped" | "queued" | "dropped" | "failed"

/**
 * Aggregates a rebuild finished so far, and of each outcome.
 *
 * @since 0.3.0
 * @category models
 */
export interface RebuildCounts {
  readonly done: number
  readonly written: number
  readonly skipped: number
  readonly queued: number
  readonly dropped: number
  readonly failed: number
}

/**
 * One element of `rebuildStream`: the aggregate just finished and the running totals.
 *
 * @since 0.3.0
 * @category models
 */
export interface RebuildProgress extends RebuildCounts {
  readonly aggregateId: string
  readonly outcome: RebuildOutcome
  /** Why it failed (`failed` only). */
  readonly message?: string | undefined
  /** Streams of the type (after `resumeFrom`) when the rebuild started; more may have been created since. */
  readonly total: number
  /** Aggregates finished per second since the start. */
  readonly ratePerSecond: number
  /** Seconds to go at that rate. */
  readonly etaSeconds: number
  /** This aggregate and every one before it are finished: pass it as `resumeFrom` to continue after it. */
  readonly checkpoint: string
}

/**
 * The summary of `rebuild`.
 *
 * @since 0.3.0
 * @category models
 */
export interface RebuildSummary extends RebuildCounts {
  readonly total: number
  /** Up to `maxReported` failed aggregates and why. */
  readonly failures: ReadonlyArray<{ readonly aggregateId: string; readonly message: string }>
  readonly ratePerSecond: number
  /** The last aggregate finished (none when there was nothing to do). */
  readonly checkpoint: Option.Option<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface EventSourcedRepository<S, E extends { readonly _tag: string }> {
  readonly aggregateType: string
  /** Newest usable snapshot + the events after it; a full replay (within the fallback budget) otherwise. */
  readonly load: (id: string) => Effect.Effect<Loaded<S>, LoadError>
  /** Append with optimistic concurrency; then decide and (maybe) snapshot. A snapshot failure never fails it. */
  readonly save: (
    id: string,
    expectedVersion: number,
    events: ReadonlyArray<E>,
    options?: SaveOptions
  ) => Effect.Effect<Saved, ConcurrencyConflict | EventStoreError | Aggregate.EventEncodeError | InvalidMetadata>
  /**
   * Load (or start from the initial state at version 0), decide, save; on `ConcurrencyConflict` reload and
   * decide again, as the retry policy allows.
   */
  readonly update: <Err, R>(
    id: string,
    decide: (state: S, version: number) => Effect.Effect<ReadonlyArray<E>, Err, R>,
    options?: SaveOptions
  ) => Effect.Effect<
    Updated<S, E>,
    Err | ConcurrencyConflict | Aggregate.EventEncodeError | InvalidMetadata | Exclude<LoadError, AggregateNotFound>,
    R
  >
  /**
   * Compare snapshot + tail with a full replay of the same stream up to the same version, and report where they
   * differ (snapshot drift: a snapshot written by an older fold, or corrupted in a way that still decodes).
   */
  readonly verify: (id: string, options?: VerifyOptions) => Effect.Effect<Verified, LoadError>
  /**
   * `verify` every aggregate of this type that has a snapshot (`SnapshotStore.aggregates`, streamed in pages),
   * `concurrency` at a time, as a stream of outcomes. Fails only when the store cannot list the aggregates.
   */
  readonly verifyStream: (options?: VerifyAllOptions) => Stream.Stream<VerifyResult, SnapshotStore.SnapshotStoreError>
  /** `verifyStream` summed up: counts, and the inconsistent and failed aggregates (up to `maxReported`). */
  readonly verifyAll: (options?: VerifyAllOptions) => Effect.Effect<VerifySummary, SnapshotStore.SnapshotStoreError>
  /**
   * Bulk re-snapshot after a deploy: every stream of this type in the EVENT store (keyset-paged, in id order),
   * loaded and written as a fresh snapshot with the current fingerprint and schema version, `concurrency` at a
   * time and at most `perSecond` started per second. Each element is one finished aggregate with the running
   * totals, in id order, so its `checkpoint` can resume an interrupted rebuild. Interrupted, it lets the
   * aggregates in flight finish and stops: no snapshot is half-written. Fails only when the event store cannot
   * list the streams, or on bad options (`BadArgument`); an aggregate that fails is an element (`failed`).
   */
  readonly rebuildStream: (
    options?: RebuildOptions
  ) => Stream.Stream<RebuildProgress, EventStoreError | BadArgument.BadArgument>
  /** `rebuildStream` summed up. */
  readonly rebuild: (
    options?: RebuildOptions
  ) => Effect.Effect<RebuildSummary, EventStoreError | BadArgument.BadArgument>
  /** Background mode: wait until every queued snapshot request has been handled (immediate in inline mode). */
  readonly flush: Effect.Effect<void>
}

// -----------------------------------------------------------------------------------------------------------
// the composition
// -----------------------------------------------------------------------------------------------------------

const defaultCacheMaxBytes = 64 * 1024 * 1024

const intOption = (name: string, value: number | undefined, fallback: number, min: number) => {
  const n = value ?? fallback
  return Number.isInteger(n) && n >= min
    ? Effect.succeed(n)
    : Effect.fail(
      new BadArgument.BadArgument({
        module: "EventSourcedRepository.make",
        message: `${name} must be an integer >= ${min}, got ${value}`
      })
    )
}

/**
 * Build a repository for one aggregate. The strategy is compiled here, once; in background mode the
 * snapshot writer is a fiber of the caller's scope, and pending requests are written when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*<S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  options: Options
): Effect.fn.Return<
  EventSourcedRepository<S, E>,
  SnapshotStrategy.UnknownCustomStrategy | BadArgument.BadArgument,
  EventStore | SnapshotStore.SnapshotStore | Scope.Scope
> {
  const decider = yield* Effect.fromResult(SnapshotStrategy.compile(options.strategy, options.predicates))
  const fallbackConcurrency = yield* intOption("fallbackConcurrency", options.fallbackConcurrency, 16, 1)
  const queueCapacity = yield* intOption("queueCapacity", options.queueCapacity, 1024, 1)
  const backgroundConcurrency = yield* intOption("backgroundConcurrency", options.backgroundConcurrency, 4, 1)
  const cacheMaxBytes = yield* intOption("cacheMaxBytes", options.cacheMaxBytes, defaultCacheMaxBytes, 0)
  const cacheCapacity = yield* intOption("cacheCapacity", options.cacheCapacity, Number.MAX_SAFE_INTEGER, 0)

  const type = aggregate.type
  const events = yield* EventStore
  const snapshots = yield* SnapshotStore.SnapshotStore
  const ops = Ops.make(aggregate, Aggregate)
  const metrics = SnapshotMetrics.forAggregateType(type)
  const cache = new KnownStateCache<S>(cacheMaxBytes, cacheCapacity, {
    ...SnapshotMetrics.cacheForAggregateType(type),
    context: yield* Effect.context<never>()
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => cache.clear()))
  const decide = Decision.make({
    type,
    decider,
    monotone: Decision.isMonotone(options.strategy),
    readLast: Decision.readLast(snapshots, type)
  })

  const loader = Load.make({
    ops,
    events,
    snapshots,
    coldRead: yield* ColdRead.find(events, snapshots),
    cache,
    fallback: yield* Semaphore.make(fallbackConcurrency),
    migrationCheck: yield* MigrationCheck.make(aggregate, ops, metrics.migrationMismatches),
    metrics
  })

  const writer = yield* SnapshotWriter.make({
    ops,
    snapshots,
    metrics,
    decide,
    load: loader.load,
    written: Load.written(cache),
    background: options.mode === "background"
      ? { capacity: queueCapacity, concurrency: backgroundConcurrency }
      : false
  })

  /** A load whose replacement of an unusable (or migrated) snapshot, if it asked for one, is submitted. */
  const loadRepaired = (id: string, route: Commit.Route) =>
    Effect.tap(loader.load(id, route), (loaded) => writer.repair(id, loaded, route))

  const saver = Save.make({
    aggregate,
    ops,
    events,
    cache,
    decide,
    now: snapshots.now ?? DateTime.now,
    readsClock: Decision.readsClock(options.strategy),
    writer,
    encodeMetadata: Metadata.make(type, options.metadataSchema),
    retry: options.retry ?? Save.defaultRetry,
    load: (id, route) => Effect.map(loadRepaired(id, route), (loaded) => loaded.known)
  })

  const load = (id: string) =>
    Effect.withSpan(
      Effect.flatMap(Commit.current, (route) =>
        Effect.flatMap(loader.load(id, route), (loaded) => {
          const { known, replayed, snapshotVersion, source } = loaded
          const annotated = Effect.as(
            Effect.annotateCurrentSpan({
              "snapshot.version": Option.getOrElse(snapshotVersion, () => -1),
              "events.replayed": replayed,
              "aggregate.version": known.version,
              "load.source": source
            }),
            { state: known.state, version: known.version, snapshotVersion, replayed, source } satisfies Loaded<S>
          )
          // The replacement of an unusable snapshot, when the load asked for one, is submitted first.
          return Option.isNone(loaded.repair) ? annotated : Effect.andThen(writer.repair(id, loaded, route), annotated)
        })),
      "EventSourcedRepository.load",
      {
        attributes: { "aggregate.type": type, "aggregate.id": cut(id) },
        // A stack trace per call is measurable on a sub-millisecond hot path; the span name says where.
        captureStackTrace: false
      }
    )

  const storesOnly = (id: string, route: Commit.Route) => loader.load(id, route, false)

  const verifier = Verify.make({
    ops,
    snapshots,
    load: storesOnly,
    replayAll: loader.replayAll,
    writer,
    forget: (id) => Effect.sync(() => cache.delete(id)),
    failed: (id, version, message) =>
      Effect.andThen(
        Metric.update(metrics.failures, 1),
        Effect.logWarning(`Snapshot of ${type} ${quote(id)} at version ${version}: ${oneLine(message)}`)
      )
  })

  const rebuilder = Rebuild.make({ type, events, load: storesOnly, writer })

  const repository: EventSourcedRepository<S, E> = {
    aggregateType: type,
    load,
    save: saver.save,
    update: saver.update,
    verify: verifier.verify,
    verifyStream: verifier.verifyStream,
    verifyAll: verifier.verifyAll,
    rebuildStream: rebuilder.rebuildStream,
    rebuild: rebuilder.rebuild,
    flush: writer.flush
  }
  return repository
})

// -----------------------------------------------------------------------------------------------------------
// the repository as a service
// -----------------------------------------------------------------------------------------------------------

/**
 * The class `Tag` returns: a `Context.Service` key of the aggregate's repository, with its aggregate and its
 * layer.
 *
 * @since 0.3.0
 * @category models
 */
export interface TagClass<Self, Id extends string, S, SI, E extends { readonly _tag: string }, EI>
  extends Context.ServiceClass<Self, Id, EventSourcedRepository<S, E>>
{
  readonly aggregate: Aggregate.Aggregate<S, SI, E, EI>
  /**
   * The repository (`make(aggregate, options)`) in the layer's scope: a background writer drains its queue when
   * the layer is released. The options may come from an Effect (e.g. a strategy read from Config).
   */
  readonly layer: <OE = never, OR = never>(
    options: Options | Effect.Effect<Options, OE, OR>
  ) => Layer.Layer<
    Self,
    SnapshotStrategy.UnknownCustomStrategy | BadArgument.BadArgument | OE,
    EventStore | SnapshotStore.SnapshotStore | OR
  >
}

/**
 * Declare a repository as a service in one line:
 *
 * ```ts
 * class Carts extends EventSourcedRepository.Tag<Carts>()("app/Carts", Cart) {}
 * const CartsLive = Carts.layer({ strategy: SnapshotStrategy.everyNEvents(50) })
 * // yield* Carts: the EventSourcedRepository of Cart
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const Tag = <Self>() =>
<const Id extends string, S, SI, E extends { readonly _tag: string }, EI>(
  id: Id,
  aggregate: Aggregate.Aggregate<S, SI, E, EI>
): TagClass<Self, Id, S, SI, E, EI> => {
  const service = Context.Service<Self, EventSourcedRepository<S, E>>()(id)
  const layer = <OE, OR>(options: Options | Effect.Effect<Options, OE, OR>) =>
    Layer.effect(
      service,
      Effect.flatMap(Effect.isEffect(options) ? options : Effect.succeed(options), (resolved) =>
        make(aggregate, resolved))
    )
  return Object.assign(service, { aggregate, layer }) as TagClass<Self, Id, S, SI, E, EI>
}
