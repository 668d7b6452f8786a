/**
 * The event-sourced repository: `load` = newest snapshot + the events after it (or only the events after a
 * state this process knows, proven current by the stream), `save` = append + a snapshot decision taken after
 * the commit, `update` = load, decide, save, retried on conflicts. Commit-aware: inside a unit of work or a
 * SQL transaction nothing it remembers or writes outside that transaction changes before the commit.
 *
 * This module is the composition; the parts live in `internal/`: `restore` (probe, classify, restore, first-row
 * check), `replay` (tail and full replay), `decision`, `snapshotWriter`, `knownStateCache`, `commit`, `verify`.
 *
 * @since 0.1.0
 */
import { BadArgument, SnapshotStrategy } from "@effect-snapshots/core"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as Stream from "effect/Stream"
import * as Aggregate from "./Aggregate.js"
import { ConcurrencyConflict, EventStore, type EventStoreError } from "./EventStore.js"
import * as ColdRead from "./internal/coldRead.js"
import * as Commit from "./internal/commit.js"
import * as Decision from "./internal/decision.js"
import { type Known, KnownStateCache, type LastSnapshot } from "./internal/knownStateCache.js"
import * as Metadata from "./internal/metadata.js"
import * as Ops from "./internal/ops.js"
import * as Rebuild from "./internal/rebuild.js"
import * as Replay from "./internal/replay.js"
import * as Restore from "./internal/restore.js"
import * as SnapshotWriter from "./internal/snapshotWriter.js"
import { cut, oneLine, quote } from "./internal/text.js"
import * as Verify from "./internal/verify.js"
import { AggregateNotFound, type InvalidMetadata } from "./RepositoryError.js"
import * as SnapshotMetrics from "./SnapshotMetrics.js"
import type { StreamCorrupt } from "./StreamCorrupt.js"

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
  InvalidRepositoryOptions
} from "./RepositoryError.js"

export {
  /**
   * @since 0.2.0
   * @category errors
   */
  StreamCorrupt
} from "./StreamCorrupt.js"

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
 */
export type SnapshotOutcome = "none" | "written" | "queued" | "dropped" | "failed"

/**
 * @since 0.1.0
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
  /** Whether the drifted snapshots were replaced by one of the full replay (`repair: true`). */
  readonly repaired: boolean
}

/**
 * @since 0.1.0
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
 */
export interface VerifyResult {
  readonly aggregateId: string
  readonly result: Result.Result<Verified, LoadError>
}

/**
 * The summary of `verifyAll`.
 *
 * @since 0.1.0
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

interface LoadedInternal<S> extends Known<S> {
  readonly snapshotVersion: Option.Option<number>
  readonly replayedCount: number
  readonly source: Loaded<S>["source"]
  /** The outcome of the replacement this load requested for an unusable (or migrated) snapshot. */
  readonly repaired: SnapshotOutcome | undefined
}

/** The longest wait between two attempts of `update` under the default retry policy. */
const maxRetryDelay = Duration.millis(500)

/**
 * `update`'s default retry on `ConcurrencyConflict`: a first retry after ~2 ms (a single conflict stays cheap),
 * doubling up to 500 ms (jittered ±20%), at most 30 retries (~11.5 s of waiting in all, only under sustained
 * contention). Measured on PostgreSQL with 16 writers x 25 updates of one aggregate, each in its own unit: the
 * old default (8 retries, uncapped: ~0.5 s) gave up on 51 of 400 commands; this one on none, with at most 15
 * attempts for a command (a cap of 250 ms needed up to 28: shorter waits keep more writers colliding).
 */
const defaultRetry: Schedule.Schedule<unknown, ConcurrencyConflict> = Schedule.max([
  Schedule.jittered(
    Schedule.modifyDelay(
      Schedule.exponential("2 millis"),
      ({ duration }) => Effect.succeed(Duration.min(duration, maxRetryDelay))
    )
  ),
  Schedule.recurs(30)
])

const defaultCacheMaxBytes = 64 * 1024 * 1024

const isConflict = (u: unknown): u is ConcurrencyConflict => u instanceof ConcurrencyConflict

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

const standardIssues = SchemaIssue.makeFormatterStandardSchemaV1()
const defaultIssue = SchemaIssue.makeFormatterDefault()

const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((key) => typeof key === "number" ? `[${key}]` : `[${JSON.stringify(String(key))}]`).join("")

/** A Schema issue in short: its first problem and where ("Expected string, got 42 at ["note"]"), on one line. */
const shortIssue = (issue: SchemaIssue.Issue): string => {
  const { issues } = standardIssues(issue)
  const first = issues[0]
  if (first === undefined) return oneLine(defaultIssue(issue))
  const path = (first.path ?? []).map((segment) => typeof segment === "object" ? segment.key : segment)
  const where = path.length === 0 ? "" : ` at ${pathText(path)}`
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""
  return `${oneLine(first.message)}${oneLine(where)}${more}`
}

/**
 * `Aggregate.encodeEvents`' error as one line naming the aggregate, the id and the event's index in the batch,
 * with the Schema problem in short. The full issue stays on the error as its `cause` (a `Schema.SchemaError`).
 */
const encodeErrorOf = <E>(
  encodeEvent: (event: E) => Result.Result<unknown, SchemaIssue.Issue>,
  failure: Aggregate.EventEncodeError,
  batch: ReadonlyArray<E>
): Aggregate.EventEncodeError => {
  const again = encodeEvent(batch[failure.index]!)
  const issue = Result.isFailure(again) ? again.failure : undefined
  const error = new Aggregate.EventEncodeError({
    aggregateType: failure.aggregateType,
    aggregateId: failure.aggregateId,
    index: failure.index,
    eventType: failure.eventType,
    message: `${failure.aggregateType} ${quote(failure.aggregateId)}: events[${failure.index}] (${
      cut(failure.eventType, 100)
    }) does not encode: ${issue === undefined ? oneLine(failure.message) : shortIssue(issue)}`
  })
  if (issue !== undefined) {
    // As `new Error(message, { cause })` defines it (the error's Schema has no field for it).
    Object.defineProperty(error, "cause", {
      value: new Schema.SchemaError(issue),
      configurable: true,
      enumerable: false,
      writable: true
    })
  }
  return error
}

const hint = (last: LastSnapshot | undefined): LastSnapshot | undefined =>
  last === undefined || last.source === "hint" ? last : { ...last, source: "hint" }

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
  const retry = options.retry ?? defaultRetry
  const encodeMetadata = Metadata.make(aggregate.type, options.metadataSchema)

  const events = yield* EventStore
  const snapshots = yield* SnapshotStore.SnapshotStore
  const coldRead = ColdRead.make(events, snapshots)
  const fallback = yield* Semaphore.make(fallbackConcurrency)
  const cache = new KnownStateCache<S>(cacheMaxBytes, cacheCapacity, {
    ...SnapshotMetrics.cacheForAggregateType(aggregate.type),
    context: yield* Effect.context<never>()
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => cache.clear()))
  const metrics = SnapshotMetrics.forAggregateType(aggregate.type)
  const ops = Ops.make(aggregate, Aggregate)
  const type = aggregate.type
  const decide = Decision.make({
    type,
    decider,
    monotone: Decision.isMonotone(options.strategy),
    readLast: Decision.readLast(snapshots, type)
  })

  /** A stream without events: its state is known without reading anything. */
  const empty = (id: string): Known<S> => ({
    version: 0,
    state: aggregate.initial(id),
    position: 0,
    lastSnapshot: undefined,
    replayed: Option.none(),
    duration: Option.none(),
    encodedBytes: undefined
  })

  /** Remember what this fiber learned, once it is committed; never inside a bare transaction. */
  const remember = (id: string, known: Known<S>, route: Commit.Route) =>
    route.cacheable
      ? route.afterCommit(Effect.sync(() => cache.set(id, { ...known, lastSnapshot: hint(known.lastSnapshot) })))
      : Effect.sync(() => cache.delete(id))

  // ---------------------------------------------------------------------------------------------------
  // load
  // ---------------------------------------------------------------------------------------------------

  const finish = Effect.fnUntraced(
    function*(id: string, loaded: LoadedInternal<S>, start: bigint, route: Commit.Route) {
      const duration = Duration.nanos((yield* Clock.currentTimeNanos) - start)
      const result: LoadedInternal<S> = {
        ...loaded,
        replayed: loaded.source === "cache" ? loaded.replayed : Option.some(loaded.replayedCount),
        duration: loaded.source === "cache" ? loaded.duration : Option.some(duration)
      }
      yield* Metric.update(
        loaded.source === "cache" ? metrics.cacheHits : loaded.source === "snapshot" ? metrics.hits : metrics.misses,
        1
      )
      yield* Metric.update(metrics.replayed, loaded.replayedCount)
      yield* Metric.update(metrics.duration, duration)
      if (loaded.source !== "cache" || loaded.replayedCount > 0) yield* remember(id, result, route)
      return result
    }
  )

  /** The hot path: only the events after a cached state, in one query; none when the stream disproves it. */
  const fromCache = (id: string, cached: Known<S>) =>
    Replay.tail(events, ops, id, { state: cached.state, version: cached.version, position: cached.position }).pipe(
      Effect.map((acc): LoadedInternal<S> | undefined => ({
        ...cached,
        version: acc.version,
        state: acc.state,
        position: acc.position,
        lastSnapshot: hint(cached.lastSnapshot),
        encodedBytes: acc.replayed === 0 ? cached.encodedBytes : undefined,
        snapshotVersion: Option.none(),
        replayedCount: acc.replayed,
        source: "cache",
        repaired: undefined
      })),
      Effect.catchTag("Unusable", () => Effect.as(Effect.sync(() => cache.delete(id)), undefined))
    )

  /**
   * The stores' newest snapshot and first page of events in one statement, when they are SQL on one client;
   * none otherwise, or when that statement failed (the two calls then find out what is wrong, as on any
   * other stores).
   */
  const readCold = (id: string): Effect.Effect<Option.Option<ColdRead.ColdRows>> =>
    Option.match(coldRead, {
      onNone: () => Effect.succeedNone,
      onSome: (read) =>
        Effect.catch(read(type, id, Replay.tailPageSize), (error) =>
          Effect.as(
            Effect.logDebug(`Cold load of ${type} ${quote(id)} in one statement failed, reading with two calls`).pipe(
              Effect.annotateLogs({ aggregateType: type, aggregateId: cut(id), cause: error.message })
            ),
            Option.none()
          ))
    })

  /** The cold path: probe, restore and tail, or a full replay; an unusable snapshot is replaced. */
  const fromStores = Effect.fnUntraced(function*(id: string, route: Commit.Route) {
    const cold = Option.getOrUndefined(yield* readCold(id))
    const probed = cold === undefined
      ? yield* Restore.probe(snapshots, ops, id, metrics.skipped)
      : yield* Restore.classify(snapshots, ops, id, metrics.skipped, cold.snapshot)
    let acc: Replay.Acc<S> | undefined
    /** The version of a stored snapshot that cannot be used (-1 when unknown), to be replaced. */
    let unusable: number | undefined = probed._tag === "Unusable" ? (probed.version ?? -1) : undefined
    if (probed._tag === "Usable") {
      const { snapshot } = probed
      const from = {
        state: probed.state,
        version: snapshot.version,
        position: ops.recordedPosition(snapshot.metadata)
      }
      acc = yield* (cold === undefined
        ? Replay.tail(events, ops, id, from)
        : Replay.tailFrom(events, ops, id, from, cold.events, Replay.tailPageSize)).pipe(
          Effect.catchTag(
            "Unusable",
            (e) => Effect.as(Restore.skip(type, id, metrics.skipped, e.reason, e.message, snapshot.version), undefined)
          )
        )
      if (acc === undefined) unusable = snapshot.version
    }
    const used = probed._tag === "Usable" && acc !== undefined ? probed : undefined
    if (acc === undefined) {
      acc = yield* (cold !== undefined && probed._tag === "Absent"
        ? Replay.fullFrom(events, ops, id, fallback, cold.events, Replay.tailPageSize)
        : Replay.full(events, ops, id, fallback))
      if (acc.version === 0) return yield* new AggregateNotFound({ aggregateType: type, aggregateId: id })
    }
    const lastSnapshot: LastSnapshot | undefined = used !== undefined
      ? { version: Option.some(used.snapshot.version), at: Option.some(used.snapshot.createdAt), source: "real" }
      : probed._tag === "Absent" && !probed.known
      ? undefined
      : { version: Option.none(), at: Option.none(), source: "real" }
    // The snapshot's encoded length when the one-statement read measured it (a state folded further is measured
    // by the cache).
    const encodedBytes = used !== undefined && cold !== undefined && acc.replayed === 0 ? cold.stateBytes : undefined
    const loaded: LoadedInternal<S> = {
      version: acc.version,
      state: acc.state,
      position: acc.position,
      lastSnapshot,
      replayed: Option.none(),
      duration: Option.none(),
      encodedBytes,
      snapshotVersion: used === undefined ? Option.none() : Option.some(used.snapshot.version),
      replayedCount: acc.replayed,
      source: used === undefined ? "replay" : "snapshot",
      repaired: undefined
    }
    if (unusable === undefined && !used?.migrated) return loaded
    // Replace the unusable (or migrated) snapshot by one of the state just rebuilt. A new snapshot at a
    // higher version hides the old one; at the same or a lower version the old one must go first (of an
    // unreadable one whose version is unknown, whatever is stored at the new snapshot's version).
    const old = unusable ?? used!.snapshot.version
    const repaired = yield* writer.submit({
      id,
      version: loaded.version,
      known: Option.some({ version: loaded.version, state: loaded.state, position: loaded.position }),
      obsolete: old === -1 ? [loaded.version] : old >= loaded.version ? [old] : [],
      decide: Option.none()
    }, route)
    return { ...loaded, repaired }
  })

  /** `useCache: false` reads the stores (verify compares what they hold). */
  const loadInternal: (
    id: string,
    route: Commit.Route,
    useCache?: boolean
  ) => Effect.Effect<LoadedInternal<S>, LoadError> = Effect.fnUntraced(
    function*(id: string, route: Commit.Route, useCache = true) {
      const start = yield* Clock.currentTimeNanos
      const cached = useCache ? cache.get(id) : undefined
      const hot = cached === undefined ? undefined : yield* fromCache(id, cached)
      return yield* finish(id, hot ?? (yield* fromStores(id, route)), start, route)
    }
  )

  const load = (id: string) =>
    Effect.flatMap(Commit.current, (route) => loadInternal(id, route)).pipe(
      Effect.tap((loaded) =>
        Effect.annotateCurrentSpan({
          "snapshot.version": Option.getOrElse(loaded.snapshotVersion, () => -1),
          "events.replayed": loaded.replayedCount,
          "aggregate.version": loaded.version,
          "load.source": loaded.source
        })
      ),
      Effect.map((loaded): Loaded<S> => ({
        state: loaded.state,
        version: loaded.version,
        snapshotVersion: loaded.snapshotVersion,
        replayed: loaded.replayedCount,
        source: loaded.source
      })),
      Effect.withSpan(
        "EventSourcedRepository.load",
        { attributes: { "aggregate.type": type, "aggregate.id": cut(id) } },
        // A stack trace per call is measurable on a sub-millisecond hot path; the span name says where.
        { captureStackTrace: false }
      )
    )

  // ---------------------------------------------------------------------------------------------------
  // the snapshot writer
  // ---------------------------------------------------------------------------------------------------

  const writer: SnapshotWriter.Writer<S> = yield* SnapshotWriter.make({
    ops,
    snapshots,
    metrics,
    decide,
    load: (id, route) => loadInternal(id, route),
    written: (id, version, at, bytes) =>
      Effect.sync(() =>
        cache.modify(id, (known) =>
          Option.getOrElse(known.lastSnapshot?.version ?? Option.none(), () => 0) > version ?
            known :
            {
              ...known,
              lastSnapshot: { version: Option.some(version), at: Option.some(at), source: "hint" },
              replayed: Option.none(),
              duration: Option.none(),
              encodedBytes: known.version === version ? bytes : known.encodedBytes
            })
      ),
    background: options.mode === "background"
      ? { capacity: queueCapacity, concurrency: backgroundConcurrency }
      : false
  })

  // ---------------------------------------------------------------------------------------------------
  // save
  // ---------------------------------------------------------------------------------------------------

  const commit = Effect.fnUntraced(
    function*(
      id: string,
      expectedVersion: number,
      batch: ReadonlyArray<E>,
      given: Known<S> | undefined,
      saveOptions: SaveOptions | undefined
    ) {
      const encoded = Aggregate.encodeEvents(aggregate, id, batch)
      if (Result.isFailure(encoded)) {
        return yield* encodeErrorOf(aggregate.codec.encodeEvent, encoded.failure, batch)
      }
      const metadata = encodeMetadata(id, saveOptions?.metadata)
      if (Result.isFailure(metadata)) {
        return yield* metadata.failure
      }
      const result = yield* events.append(
        type,
        id,
        expectedVersion,
        Metadata.attach(encoded.success, metadata.success)
      )
      // The commit stands from here on: nothing below may fail the save.
      const route = yield* Commit.current
      const base = given ?? (expectedVersion === 0 ? empty(id) : cache.get(id))
      // The state at expectedVersion is known only when the append proves it: the event it appended after
      // is the one that state was built from (a rolled-back transaction's positions are never reused).
      const proven = base !== undefined && base.version === expectedVersion &&
        base.position === result.previousPosition
      const input: Decision.Input = {
        id,
        previousVersion: result.previousVersion,
        currentVersion: result.version,
        eventTypes: batch.map((event) => event._tag),
        now: yield* DateTime.now,
        replayed: proven ? base.replayed : Option.none(),
        duration: proven ? base.duration : Option.none(),
        last: base?.lastSnapshot
      }
      const decided = yield* decide(input)
      let known: Known<S> | undefined
      if (proven) {
        known = {
          ...base,
          version: result.version,
          state: Aggregate.fold(aggregate, base.state, batch),
          position: result.positions[result.positions.length - 1] ?? base.position,
          lastSnapshot: decided.last,
          encodedBytes: undefined
        }
        yield* remember(id, known, route)
      } else {
        yield* Effect.sync(() => cache.delete(id))
      }
      const outcome: SnapshotOutcome = decided.decision.take
        ? yield* writer.submit({
          id,
          version: result.version,
          known: known === undefined ? Option.none() : Option.some(known),
          obsolete: [],
          // Without the state, the writer loads it and decides again on what that load learned; with it, the
          // background writer confirms the decision right before it writes a queued job.
          decide: Option.some(input)
        }, route)
        : "none"
      yield* Effect.annotateCurrentSpan({
        "aggregate.version": result.version,
        "events.appended": batch.length,
        "snapshot.outcome": outcome,
        "snapshot.reasons": decided.decision.reasons.join(",")
      })
      const saved: Saved = {
        previousVersion: result.previousVersion,
        version: result.version,
        positions: result.positions,
        snapshot: outcome
      }
      return saved
    },
    (effect, id, expectedVersion) =>
      Effect.withSpan(
        effect,
        "EventSourcedRepository.save",
        {
          attributes: { "aggregate.type": type, "aggregate.id": cut(id), "expected.version": expectedVersion },
          captureStackTrace: false
        }
      )
  )

  const save = (id: string, expectedVersion: number, batch: ReadonlyArray<E>, saveOptions?: SaveOptions) =>
    commit(id, expectedVersion, batch, undefined, saveOptions)

  // ---------------------------------------------------------------------------------------------------
  // update
  // ---------------------------------------------------------------------------------------------------

  const attempt = <Err, R>(
    id: string,
    f: (state: S, version: number) => Effect.Effect<ReadonlyArray<E>, Err, R>,
    saveOptions: SaveOptions | undefined
  ) =>
    Effect.gen(function*() {
      const route = yield* Commit.current
      const known = yield* Effect.catchTag(loadInternal(id, route), "AggregateNotFound", () =>
        Effect.sync(() =>
          empty(id)
        ))
      const batch = yield* f(known.state, known.version)
      if (batch.length === 0) {
        return { state: known.state, version: known.version, events: batch, snapshot: "none" } as Updated<S, E>
      }
      const saved = yield* commit(id, known.version, batch, known, saveOptions)
      return {
        state: Aggregate.fold(aggregate, known.state, batch),
        version: saved.version,
        events: batch,
        snapshot: saved.snapshot
      } as Updated<S, E>
    })

  const update = <Err, R>(
    id: string,
    f: (state: S, version: number) => Effect.Effect<ReadonlyArray<E>, Err, R>,
    saveOptions?: SaveOptions
  ) =>
    // Only conflicts reach the retry policy (a user's schedule may look at the conflict): every other failure
    // leaves the error channel around the retry, and comes back after it.
    attempt(id, f, saveOptions).pipe(
      Effect.map(Result.succeed),
      Effect.catch((e) => isConflict(e) ? Effect.fail(e) : Effect.succeed(Result.fail(e))),
      Effect.retry(retry),
      Effect.flatMap(Effect.fromResult),
      Effect.withSpan("EventSourcedRepository.update", {
        attributes: { "aggregate.type": type, "aggregate.id": cut(id) }
      })
    )

  const verifier = Verify.make({
    ops,
    snapshots,
    load: (id) => Effect.flatMap(Commit.current, (route) => loadInternal(id, route, false)),
    replayAll: (id, toVersion) => Replay.full(events, ops, id, fallback, toVersion),
    writer,
    forget: (id) => Effect.sync(() => cache.delete(id)),
    failed: (id, version, message) =>
      Effect.andThen(
        Metric.update(metrics.failures, 1),
        Effect.logWarning(`Snapshot of ${type} ${quote(id)} at version ${version}: ${oneLine(message)}`)
      )
  })

  const rebuilder = Rebuild.make({ type, events, load: (id, route) => loadInternal(id, route, false), writer })

  const repository: EventSourcedRepository<S, E> = {
    aggregateType: type,
    load,
    save,
    update,
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
