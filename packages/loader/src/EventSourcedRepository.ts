/**
 * The event-sourced repository: `load` = newest snapshot + the events after it, `save` = append + a snapshot
 * decision taken after the commit, `update` = load, decide, save, retried on conflicts.
 *
 * @since 0.1.0
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Aggregate from "./Aggregate.js"
import { ConcurrencyConflict, EventStore, type EventStoreError, type StoredEvent } from "./EventStore.js"
import * as jsonDiff from "./internal/jsonDiff.js"
import { Lru } from "./internal/lru.js"
import * as SnapshotMetrics from "./SnapshotMetrics.js"

/**
 * The aggregate has no events.
 *
 * @since 0.1.0
 */
export class AggregateNotFound extends Schema.TaggedError<AggregateNotFound>(
  "@effect-snapshots/loader/AggregateNotFound"
)("AggregateNotFound", {
  aggregateType: Schema.String,
  aggregateId: Schema.String
}) {
  override get message(): string {
    return `${this.aggregateType} ${JSON.stringify(this.aggregateId)} has no events`
  }
}

/**
 * The repository options are invalid (a non-positive budget, a negative capacity).
 *
 * @since 0.1.0
 */
export class InvalidRepositoryOptions extends Schema.TaggedError<InvalidRepositoryOptions>(
  "@effect-snapshots/loader/InvalidRepositoryOptions"
)("InvalidRepositoryOptions", { message: Schema.String }) {}

/**
 * @since 0.1.0
 */
export interface Options {
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
   * How many aggregates' latest state the repository remembers (default 4096, 0 disables), so that `save`
   * can fold the new events onto the known state instead of reading it back when a snapshot is due.
   */
  readonly cacheCapacity?: number | undefined
  /**
   * `update`'s retry policy on `ConcurrencyConflict` (default: up to 8 retries, jittered exponential backoff
   * from 2 ms). When it gives up, `update` fails with the last conflict.
   */
  readonly retry?: Schedule.Schedule<unknown, ConcurrencyConflict> | undefined
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
  /** How many events were folded (after the snapshot, or all of them). */
  readonly replayed: number
}

/**
 * What happened to the snapshot after a commit:
 * `none` (the strategy said no), `written` (inline), `queued` / `dropped` (background), `failed` (logged and
 * counted; the commit stands).
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
  readonly result: Either.Either<Verified, AggregateNotFound | Aggregate.EventDecodeError | EventStoreError>
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
 * @since 0.1.0
 */
export interface EventSourcedRepository<S, E extends { readonly _tag: string }> {
  readonly aggregateType: string
  /** Newest usable snapshot + the events after it; a full replay (within the fallback budget) otherwise. */
  readonly load: (
    id: string
  ) => Effect.Effect<Loaded<S>, AggregateNotFound | Aggregate.EventDecodeError | EventStoreError>
  /** Append with optimistic concurrency; then decide and (maybe) snapshot. A snapshot failure never fails it. */
  readonly save: (
    id: string,
    expectedVersion: number,
    events: ReadonlyArray<E>
  ) => Effect.Effect<Saved, ConcurrencyConflict | EventStoreError | Aggregate.EventEncodeError>
  /**
   * Load (or start from the initial state at version 0), decide, save; on `ConcurrencyConflict` reload and
   * decide again, as the retry policy allows.
   */
  readonly update: <Err, R>(
    id: string,
    decide: (state: S, version: number) => Effect.Effect<ReadonlyArray<E>, Err, R>
  ) => Effect.Effect<
    Updated<S, E>,
    Err | ConcurrencyConflict | EventStoreError | Aggregate.EventEncodeError | Aggregate.EventDecodeError,
    R
  >
  /**
   * Compare snapshot + tail with a full replay of the same stream up to the same version, and report where they
   * differ (snapshot drift: a snapshot written by an older fold, or corrupted in a way that still decodes).
   */
  readonly verify: (
    id: string,
    options?: VerifyOptions
  ) => Effect.Effect<Verified, AggregateNotFound | Aggregate.EventDecodeError | EventStoreError>
  /**
   * `verify` every aggregate of this type that has a snapshot (`SnapshotStore.aggregates`, streamed in pages),
   * `concurrency` at a time, as a stream of outcomes. Fails only when the store cannot list the aggregates.
   */
  readonly verifyStream: (options?: VerifyAllOptions) => Stream.Stream<VerifyResult, SnapshotStore.SnapshotStoreError>
  /** `verifyStream` summed up: counts, and the inconsistent and failed aggregates (up to `maxReported`). */
  readonly verifyAll: (options?: VerifyAllOptions) => Effect.Effect<VerifySummary, SnapshotStore.SnapshotStoreError>
  /** Background mode: wait until every queued snapshot request has been handled (immediate in inline mode). */
  readonly flush: Effect.Effect<void>
}

// -----------------------------------------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------------------------------------

/** What the repository knows about an aggregate after a load or a save. */
interface Known<S> {
  readonly version: number
  readonly state: S
  /** Global position of the event at `version`. */
  readonly position: number
  readonly lastSnapshotVersion: Option.Option<number>
  readonly lastSnapshotAt: Option.Option<DateTime.Utc>
  /** The last load's replay count and duration, cleared once a snapshot has been written after it. */
  readonly replayed: Option.Option<number>
  readonly duration: Option.Option<Duration.Duration>
}

/** A snapshot to write. Without a state, the writer loads the aggregate first. */
interface Job<S> {
  readonly id: string
  readonly version: number
  readonly known: Option.Option<{ readonly state: S; readonly position: number }>
  /** A stored snapshot to delete first (an unusable one that a new snapshot at the same version would not hide). */
  readonly obsolete: Option.Option<number>
}

/** Raised inside a tail fold when the snapshot cannot be used; caught by `load`, which replays. */
class Unusable {
  readonly _tag = "Unusable"
  constructor(readonly reason: Aggregate.SkipReason, readonly message: string) {}
}

interface Acc<S> {
  state: S
  version: number
  position: number
  replayed: number
}

interface LoadedInternal<S> extends Known<S> {
  readonly snapshotVersion: Option.Option<number>
  readonly replayedCount: number
  /** Whether this load already wrote or queued a replacement for an unusable snapshot. */
  readonly repaired: boolean
}

const defaultRetry: Schedule.Schedule<unknown, ConcurrencyConflict> = Schedule.exponential("2 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(8))
)

/** Events a tail read asks for in its first page (the SQL store's default page size). */
const tailPageSize = 2000

const isConflict = (u: unknown): u is ConcurrencyConflict => u instanceof ConcurrencyConflict

const positiveInt = (name: string, value: number | undefined, fallback: number, min: number) => {
  const n = value ?? fallback
  return Number.isInteger(n) && n >= min
    ? Either.right(n)
    : Either.left(new InvalidRepositoryOptions({ message: `${name} must be an integer >= ${min}, got ${value}` }))
}

/**
 * Build a repository for one aggregate. The strategy is compiled here, once; in background mode the
 * snapshot writer is a fiber of the caller's scope, and pending requests are written when the scope closes.
 *
 * @since 0.1.0
 */
export const make = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  options: Options
): Effect.Effect<
  EventSourcedRepository<S, E>,
  SnapshotStrategy.UnknownCustomStrategy | InvalidRepositoryOptions,
  EventStore | SnapshotStore.SnapshotStore | Scope.Scope
> =>
  Effect.gen(function*() {
    const decide = yield* SnapshotStrategy.compile(options.strategy, options.predicates)
    const fallbackConcurrency = yield* positiveInt("fallbackConcurrency", options.fallbackConcurrency, 16, 1)
    const queueCapacity = yield* positiveInt("queueCapacity", options.queueCapacity, 1024, 1)
    const backgroundConcurrency = yield* positiveInt("backgroundConcurrency", options.backgroundConcurrency, 4, 1)
    const cacheCapacity = yield* positiveInt("cacheCapacity", options.cacheCapacity, 4096, 0)
    const retry = options.retry ?? defaultRetry
    const background = options.mode === "background"

    const events = yield* EventStore
    const snapshots = yield* SnapshotStore.SnapshotStore
    const fallback = yield* Effect.makeSemaphore(fallbackConcurrency)
    const cache = new Lru<string, Known<S>>(cacheCapacity)
    const metrics = SnapshotMetrics.forAggregateType(aggregate.type)
    const type = aggregate.type

    /** A stream without events: its state is known without reading anything. */
    const empty = (id: string): Known<S> => ({
      version: 0,
      state: aggregate.initial(id),
      position: 0,
      lastSnapshotVersion: Option.none(),
      lastSnapshotAt: Option.none(),
      replayed: Option.none(),
      duration: Option.none()
    })

    const remember = (id: string, known: Known<S>) =>
      Effect.sync(() => {
        const current = cache.get(id)
        if (current === undefined || current.version <= known.version) cache.set(id, known)
      })

    // ---------------------------------------------------------------------------------------------------
    // load
    // ---------------------------------------------------------------------------------------------------

    const foldRows = (id: string, acc: Acc<S>, rows: ReadonlyArray<StoredEvent>, from: number) => {
      for (let i = from; i < rows.length; i++) {
        const stored = rows[i]!
        if (stored.version !== acc.version + 1) {
          return Effect.fail(
            new Aggregate.EventDecodeError({
              aggregateType: type,
              aggregateId: id,
              version: stored.version,
              eventType: stored.type,
              message: `version gap: expected ${acc.version + 1}`
            })
          )
        }
        const decoded = Aggregate.decodeEvent(aggregate, stored)
        if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
        acc.state = aggregate.evolve(acc.state, decoded.right)
        acc.version = stored.version
        acc.position = stored.position
        acc.replayed++
      }
      return Effect.void
    }

    const foldChunk = (id: string, acc: Acc<S>, chunk: Chunk.Chunk<StoredEvent>) =>
      foldRows(id, acc, Chunk.toReadonlyArray(chunk), 0)

    const replayAll = (id: string, toVersion?: number) =>
      Effect.suspend(() => {
        const acc: Acc<S> = { state: aggregate.initial(id), version: 0, position: 0, replayed: 0 }
        const stream = toVersion === undefined ? events.read(type, id) : events.read(type, id, { toVersion })
        return Stream.runForEachChunk(stream, (chunk) => foldChunk(id, acc, chunk)).pipe(Effect.as(acc))
      }).pipe(fallback.withPermits(1))

    /**
     * Fold the tail onto a restored snapshot; the first row read must be the snapshot's own event. The first
     * page is read as a plain Effect (a snapshot's tail nearly always fits in it); only a full page goes on
     * with the `read` stream from the version after it.
     */
    const replayTail = (
      id: string,
      snapshot: Snapshot.Snapshot,
      state: S
    ): Effect.Effect<Acc<S>, Aggregate.EventDecodeError | EventStoreError | Unusable> =>
      Effect.flatMap(events.readPage(type, id, { fromVersion: snapshot.version, limit: tailPageSize }), (
        rows
      ): Effect.Effect<Acc<S>, Aggregate.EventDecodeError | EventStoreError | Unusable> => {
        if (rows.length === 0) {
          return Effect.fail(
            new Unusable("AboveStream", `the snapshot is at version ${snapshot.version}, above its stream`)
          )
        }
        const head = rows[0]!
        if (head.version !== snapshot.version) {
          // The stream has no event at the snapshot's version but has later ones: a gap, the stream is corrupt.
          return Effect.fail(
            new Aggregate.EventDecodeError({
              aggregateType: type,
              aggregateId: id,
              version: head.version,
              eventType: head.type,
              message: `version gap: expected ${snapshot.version}`
            })
          )
        }
        const expected = Aggregate.recordedPosition(snapshot.metadata)
        if (Option.isSome(expected) && expected.value !== head.position) {
          return Effect.fail(
            new Unusable(
              "StreamMismatch",
              `the event at version ${snapshot.version} has position ${head.position}, ` +
                `the snapshot was built at position ${expected.value}`
            )
          )
        }
        const acc: Acc<S> = { state, version: snapshot.version, position: head.position, replayed: 0 }
        const folded = foldRows(id, acc, rows, 1)
        if (rows.length < tailPageSize) return Effect.as(folded, acc)
        return folded.pipe(
          Effect.zipRight(Effect.suspend(() =>
            Stream.runForEachChunk(
              events.read(type, id, { fromVersion: acc.version + 1 }),
              (chunk) => foldChunk(id, acc, chunk)
            )
          )),
          Effect.as(acc)
        )
      })

    const skip = (id: string, reason: Aggregate.SkipReason, message: string, version: Option.Option<number>) =>
      Effect.zipRight(
        Metric.increment(metrics.skipped(reason)),
        Effect.logWarning(`Snapshot of ${type} ${JSON.stringify(id)} not used (${reason}): ${message}`).pipe(
          Effect.annotateLogs({ aggregateType: type, aggregateId: id, snapshotVersion: Option.getOrNull(version) })
        )
      )

    const loadInternal = (id: string): Effect.Effect<
      LoadedInternal<S>,
      AggregateNotFound | Aggregate.EventDecodeError | EventStoreError
    > =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeNanos
        const probe = yield* Effect.either(snapshots.load(type, id))
        let acc: Acc<S> | undefined
        let used: Snapshot.Snapshot | undefined
        /** The version of a stored snapshot that cannot be used (-1 when unknown), to be replaced. */
        let unusable: number | undefined
        let migrated = false
        if (Either.isLeft(probe)) {
          if (probe.left.reason === "Corrupt") {
            // The store holds a snapshot it cannot read back (bad bytes, bad JSON): skip it like one that does
            // not decode, and find its version (`list` reads no state) so that its replacement takes its place.
            const history = yield* Effect.either(snapshots.list(type, id))
            const newest = Either.isRight(history) ? history.right[history.right.length - 1] : undefined
            unusable = newest === undefined ? -1 : newest.version
            yield* skip(
              id,
              "DecodeFailure",
              `the store could not read it: ${probe.left.message}`,
              Option.fromNullable(newest?.version)
            )
          } else {
            yield* skip(id, "Unavailable", probe.left.message, Option.none())
          }
        } else if (Option.isSome(probe.right)) {
          const snapshot = probe.right.value
          const restored = snapshot.aggregateType !== type || snapshot.aggregateId !== id
            ? Either.left<Aggregate.Skipped>({
              reason: "StreamMismatch",
              message: `the store answered a snapshot of ${snapshot.aggregateType} ${
                JSON.stringify(snapshot.aggregateId)
              }`
            })
            : Aggregate.restoreState(aggregate, snapshot)
          if (Either.isLeft(restored)) {
            yield* skip(id, restored.left.reason, restored.left.message, Option.some(snapshot.version))
            unusable = snapshot.version
          } else {
            const tail = yield* replayTail(id, snapshot, restored.right.state).pipe(
              Effect.catchIf(
                (e): e is Unusable => e instanceof Unusable,
                (e) => Effect.as(skip(id, e.reason, e.message, Option.some(snapshot.version)), undefined)
              )
            )
            if (tail === undefined) {
              unusable = snapshot.version
            } else {
              acc = tail
              used = snapshot
              migrated = restored.right.migrated
            }
          }
        }
        if (acc === undefined) {
          acc = yield* replayAll(id)
          if (acc.version === 0) return yield* new AggregateNotFound({ aggregateType: type, aggregateId: id })
        }
        const duration = Duration.nanos((yield* Clock.currentTimeNanos) - start)
        const loaded: LoadedInternal<S> = {
          version: acc.version,
          state: acc.state,
          position: acc.position,
          lastSnapshotVersion: used === undefined ? Option.none() : Option.some(used.version),
          lastSnapshotAt: used === undefined ? Option.none() : Option.some(used.createdAt),
          replayed: Option.some(acc.replayed),
          duration: Option.some(duration),
          snapshotVersion: used === undefined ? Option.none() : Option.some(used.version),
          replayedCount: acc.replayed,
          repaired: unusable !== undefined || migrated
        }
        yield* Metric.increment(used === undefined ? metrics.misses : metrics.hits)
        yield* Metric.update(metrics.replayed, acc.replayed)
        yield* Metric.update(metrics.duration, duration)
        yield* remember(id, loaded)
        if (loaded.repaired) {
          // Replace the unusable (or migrated) snapshot by one of the state just rebuilt. A new snapshot at a
          // higher version hides the old one; at the same or a lower version the old one must go first (of
          // an unreadable one whose version is unknown, whatever is stored at the new snapshot's version).
          const old = unusable ?? used!.version
          yield* request({
            id,
            version: loaded.version,
            known: Option.some({ state: loaded.state, position: loaded.position }),
            obsolete: old === -1
              ? Option.some(loaded.version)
              : old >= loaded.version
              ? Option.some(old)
              : Option.none()
          })
        }
        return loaded
      })

    const load = (id: string) =>
      Effect.tap(loadInternal(id), (loaded) =>
        Effect.annotateCurrentSpan({
          "snapshot.version": Option.getOrElse(loaded.snapshotVersion, () => -1),
          "events.replayed": loaded.replayedCount,
          "aggregate.version": loaded.version
        })).pipe(
          Effect.map((loaded): Loaded<S> => ({
            state: loaded.state,
            version: loaded.version,
            snapshotVersion: loaded.snapshotVersion,
            replayed: loaded.replayedCount
          })),
          Effect.withSpan("EventSourcedRepository.load", {
            attributes: { "aggregate.type": type, "aggregate.id": id },
            // A stack trace per call is measurable on a sub-millisecond hot path; the span name says where.
            captureStackTrace: false
          })
        )

    // ---------------------------------------------------------------------------------------------------
    // snapshot writing
    // ---------------------------------------------------------------------------------------------------

    const failed = (id: string, version: number, message: string, cause?: unknown) =>
      Effect.zipRight(
        Metric.increment(metrics.failures),
        Effect.logWarning(`Snapshot of ${type} ${JSON.stringify(id)} at version ${version} not written: ${message}`)
          .pipe(Effect.annotateLogs({ aggregateType: type, aggregateId: id, version, cause: String(cause) }))
      ).pipe(Effect.as("failed" as const))

    const writeState = (id: string, version: number, state: S, position: number, obsolete: Option.Option<number>) =>
      Effect.gen(function*() {
        const encoded = Aggregate.encodeState(aggregate, state)
        if (Either.isLeft(encoded)) return yield* failed(id, version, `the state does not encode: ${encoded.left}`)
        const createdAt = yield* DateTime.now
        const snapshot = yield* Effect.try(() =>
          Snapshot.Snapshot.make({
            aggregateType: type,
            aggregateId: id,
            version,
            state: encoded.right,
            schemaVersion: aggregate.schemaVersion,
            createdAt,
            metadata: Aggregate.snapshotMetadata(aggregate, position)
          })
        ).pipe(Effect.either)
        if (Either.isLeft(snapshot)) return yield* failed(id, version, "invalid snapshot", snapshot.left)
        const saved = yield* Effect.either(
          Option.match(obsolete, {
            onNone: () => snapshots.save(snapshot.right),
            onSome: (old) =>
              Effect.zipRight(snapshots.delete(type, id, { version: old }), snapshots.save(snapshot.right))
          })
        )
        if (Either.isLeft(saved)) return yield* failed(id, version, saved.left.message, saved.left)
        yield* Metric.increment(metrics.written)
        yield* Effect.sync(() => {
          const known = cache.get(id)
          if (known !== undefined && Option.getOrElse(known.lastSnapshotVersion, () => 0) <= version) {
            cache.set(id, {
              ...known,
              lastSnapshotVersion: Option.some(version),
              lastSnapshotAt: Option.some(createdAt),
              replayed: Option.none(),
              duration: Option.none()
            })
          }
        })
        return "written" as const
      })

    /** Write one job: with its state when known, otherwise after loading the aggregate. */
    const runJob = (job: Job<S>): Effect.Effect<"written" | "failed" | "none"> =>
      Option.match(job.known, {
        onSome: ({ position, state }) => writeState(job.id, job.version, state, position, job.obsolete),
        onNone: () =>
          loadInternal(job.id).pipe(
            Effect.matchEffect({
              onFailure: (e) => failed(job.id, job.version, `the aggregate could not be loaded: ${e.message}`, e),
              onSuccess: (loaded) =>
                loaded.repaired || Option.getOrElse(loaded.lastSnapshotVersion, () => 0) >= loaded.version
                  ? Effect.succeed("none" as const)
                  : writeState(job.id, loaded.version, loaded.state, loaded.position, Option.none())
            })
          )
      })

    const queue = yield* Queue.dropping<Job<S>>(queueCapacity)
    /** Opened when a job is queued; the writer closes it before it empties the queue. */
    const wake = yield* Effect.makeLatch(false)
    const pending = yield* SubscriptionRef.make(0)

    /** Hand a job to the writer: inline, or to the background queue (dropped when full). */
    const request = (job: Job<S>): Effect.Effect<SnapshotOutcome> => {
      if (!background) return runJob(job)
      // After the repository's scope closed, the queue is shut down (an offer would interrupt the caller):
      // the request is dropped like one that finds the queue full.
      const offer = Effect.flatMap(
        Queue.isShutdown(queue),
        (down) => down ? Effect.succeed(false) : Queue.offer(queue, job)
      )
      return Effect.flatMap(SubscriptionRef.update(pending, (n) => n + 1), () =>
        Effect.flatMap(offer, (accepted) =>
          accepted
            ? Effect.as(wake.open, "queued" as const)
            : Effect.zipRight(
              Effect.zipRight(SubscriptionRef.update(pending, (n) => n - 1), Metric.increment(metrics.drops)),
              Effect.as(
                Effect.logWarning(
                  `Snapshot request for ${type} ${JSON.stringify(job.id)} dropped: queue full or repository closed`
                ),
                "dropped" as const
              )
            )))
    }

    /** One batch: the newest job per aggregate, distinct aggregates written concurrently. */
    const runBatch = (batch: Chunk.Chunk<Job<S>>) => {
      const newest = new Map<string, Job<S>>()
      for (const job of batch) {
        const seen = newest.get(job.id)
        if (seen === undefined || seen.version < job.version || Option.isSome(job.obsolete)) {
          newest.set(job.id, job)
        }
      }
      return Effect.forEach(newest.values(), runJob, { concurrency: backgroundConcurrency, discard: true }).pipe(
        Effect.ensuring(SubscriptionRef.update(pending, (n) =>
          n - Chunk.size(batch)))
      )
    }

    /**
     * A batch runs to its end even when the writer is interrupted (its scope closing), yet stays interruptible
     * inside: in an uninterruptible region a timeout cannot interrupt the call it times out, so a store call
     * that hangs would stall the writer, `flush` and the scope's closing forever, whatever `resilient`'s
     * timeout. The batch runs in its own interruptible fiber, joined uninterruptibly; a daemon, because an
     * interruption sent to a fiber reaches its children at once, even while it is uninterruptible.
     */
    const runBatchToEnd = (batch: Chunk.Chunk<Job<S>>) =>
      Effect.flatMap(Effect.forkDaemon(Effect.interruptible(runBatch(batch))), Fiber.join)

    if (background) {
      // The writer waits (interruptibly) for the wake-up latch, then empties the queue and writes the batch
      // (uninterruptibly). Waiting on the latch rather than in a blocking take means an interruption can never
      // swallow a job a taker had already received. Closing the scope interrupts the writer (which finishes
      // its batch), then writes whatever is still queued: pending work is flushed, and the same aggregate is
      // never snapshotted by two fibers at once.
      const writer = Effect.uninterruptibleMask((restore) =>
        restore(wake.await).pipe(
          Effect.zipRight(wake.close),
          Effect.zipRight(Queue.takeAll(queue)),
          Effect.flatMap(runBatchToEnd)
        )
      ).pipe(Effect.forever)
      yield* Effect.acquireRelease(
        // acquireRelease acquires uninterruptibly, and a forked fiber inherits that: make the writer interruptible.
        Effect.forkDaemon(Effect.interruptible(writer)),
        (fiber) =>
          Fiber.interrupt(fiber).pipe(
            Effect.zipRight(Effect.flatMap(Queue.takeAll(queue), runBatchToEnd)),
            Effect.zipRight(Queue.shutdown(queue))
          )
      )
    }

    const flush: Effect.Effect<void> = background
      ? pending.changes.pipe(Stream.takeUntil((n) => n <= 0), Stream.runDrain)
      : Effect.void

    // ---------------------------------------------------------------------------------------------------
    // save
    // ---------------------------------------------------------------------------------------------------

    const contextOf = (
      id: string,
      previousVersion: number,
      currentVersion: number,
      eventTypes: ReadonlyArray<string>,
      known: Known<S> | undefined,
      now: DateTime.Utc
    ): SnapshotStrategy.DecisionContext => ({
      aggregateType: type,
      aggregateId: id,
      previousVersion,
      currentVersion,
      eventTypes,
      lastSnapshotVersion: known === undefined ? Option.none() : known.lastSnapshotVersion,
      lastSnapshotAt: known === undefined ? Option.none() : known.lastSnapshotAt,
      now,
      replayedEvents: known === undefined ? Option.none() : known.replayed,
      replayDuration: known === undefined ? Option.none() : known.duration
    })

    const commit = (id: string, expectedVersion: number, batch: ReadonlyArray<E>, given: Known<S> | undefined) =>
      Effect.gen(function*() {
        const encoded = Aggregate.encodeEvents(aggregate, id, batch)
        if (Either.isLeft(encoded)) return yield* encoded.left
        const result = yield* events.append(type, id, expectedVersion, encoded.right)
        // The commit stands from here on: nothing below may fail the save.
        const base = given ?? (yield* Effect.sync(() => expectedVersion === 0 ? empty(id) : cache.get(id)))
        const known: Known<S> | undefined = base !== undefined && base.version === expectedVersion
          ? {
            ...base,
            version: result.version,
            state: Aggregate.fold(aggregate, base.state, batch),
            position: result.positions[result.positions.length - 1] ?? base.position
          }
          : undefined
        if (known === undefined) yield* Effect.sync(() => cache.delete(id))
        else yield* remember(id, known)
        const eventTypes = batch.map((event) => event._tag)
        const now = yield* DateTime.now
        let decision = decide(contextOf(id, result.previousVersion, result.version, eventTypes, known, now))
        let outcome: SnapshotOutcome = "none"
        if (decision.take) {
          if (known !== undefined) {
            outcome = yield* request({
              id,
              version: known.version,
              known: Option.some({ state: known.state, position: known.position }),
              obsolete: Option.none()
            })
          } else if (background) {
            outcome = yield* request({ id, version: result.version, known: Option.none(), obsolete: Option.none() })
          } else {
            // The state at the commit is unknown here: read it back (snapshot + tail), then decide again with
            // what that load taught us about the last snapshot.
            const loaded = yield* Effect.either(loadInternal(id))
            if (Either.isLeft(loaded)) {
              outcome = yield* failed(id, result.version, `the aggregate could not be loaded: ${loaded.left.message}`)
            } else if (!loaded.right.repaired) {
              decision = decide(contextOf(id, result.previousVersion, result.version, eventTypes, loaded.right, now))
              if (
                decision.take && Option.getOrElse(loaded.right.lastSnapshotVersion, () => 0) < loaded.right.version
              ) {
                outcome = yield* writeState(
                  id,
                  loaded.right.version,
                  loaded.right.state,
                  loaded.right.position,
                  Option.none()
                )
              }
            } else {
              outcome = "written"
            }
          }
        }
        yield* Effect.annotateCurrentSpan({
          "aggregate.version": result.version,
          "events.appended": batch.length,
          "snapshot.outcome": outcome,
          "snapshot.reasons": decision.reasons.join(",")
        })
        const saved: Saved = {
          previousVersion: result.previousVersion,
          version: result.version,
          positions: result.positions,
          snapshot: outcome
        }
        return saved
      }).pipe(
        Effect.withSpan("EventSourcedRepository.save", {
          attributes: { "aggregate.type": type, "aggregate.id": id, "expected.version": expectedVersion },
          captureStackTrace: false
        })
      )

    const save = (id: string, expectedVersion: number, batch: ReadonlyArray<E>) =>
      commit(id, expectedVersion, batch, undefined)

    // ---------------------------------------------------------------------------------------------------
    // update
    // ---------------------------------------------------------------------------------------------------

    const loadOrInitial = (id: string) =>
      Effect.catchTag(loadInternal(id), "AggregateNotFound", () => Effect.sync((): Known<S> => empty(id)))

    const update = <Err, R>(
      id: string,
      f: (state: S, version: number) => Effect.Effect<ReadonlyArray<E>, Err, R>
    ) => {
      type Other = Err | EventStoreError | Aggregate.EventEncodeError | Aggregate.EventDecodeError
      const attempt = Effect.gen(function*() {
        const known = yield* loadOrInitial(id)
        const batch = yield* f(known.state, known.version)
        if (batch.length === 0) {
          return { state: known.state, version: known.version, events: batch, snapshot: "none" } as Updated<S, E>
        }
        const saved = yield* commit(id, known.version, batch, known)
        return {
          state: Aggregate.fold(aggregate, known.state, batch),
          version: saved.version,
          events: batch,
          snapshot: saved.snapshot
        } as Updated<S, E>
      })
      // Only conflicts are retried: every other failure is moved out of the error channel around the retry.
      const conflictsOnly: Effect.Effect<Either.Either<Updated<S, E>, Other>, ConcurrencyConflict, R> = attempt.pipe(
        Effect.map(Either.right),
        Effect.catchAll((e) => isConflict(e) ? Effect.fail(e) : Effect.succeed(Either.left(e as Other)))
      )
      return Effect.retry(conflictsOnly, retry).pipe(
        Effect.flatMap((result) => result),
        Effect.withSpan("EventSourcedRepository.update", { attributes: { "aggregate.type": type, "aggregate.id": id } })
      )
    }

    // ---------------------------------------------------------------------------------------------------
    // verify
    // ---------------------------------------------------------------------------------------------------

    const verify = (id: string, options: VerifyOptions = {}) =>
      Effect.gen(function*() {
        const loaded = yield* loadInternal(id)
        const replayed = yield* replayAll(id, loaded.version)
        const a = Aggregate.encodeState(aggregate, loaded.state)
        const b = Aggregate.encodeState(aggregate, replayed.state)
        const differences: Array<Difference> = Either.isRight(a) && Either.isRight(b)
          ? jsonDiff.diff(a.right, b.right)
          : [{
            path: "$",
            snapshot: Either.isLeft(a) ? `(does not encode: ${a.left})` : "(encodes)",
            replay: Either.isLeft(b) ? `(does not encode: ${b.left})` : "(encodes)"
          }]
        if (loaded.version !== replayed.version) {
          differences.unshift({ path: "(version)", snapshot: String(loaded.version), replay: String(replayed.version) })
        }
        const consistent = differences.length === 0
        let repaired = false
        if (!consistent && options.repair === true && replayed.version > 0) {
          // Every snapshot of the aggregate is suspect: delete them all, then write one of the full replay.
          const deleted = yield* Effect.either(snapshots.delete(type, id))
          if (Either.isRight(deleted)) {
            const outcome = yield* writeState(id, replayed.version, replayed.state, replayed.position, Option.none())
            repaired = outcome === "written"
            if (repaired) yield* Effect.sync(() => cache.delete(id))
          } else {
            yield* failed(id, replayed.version, `drifted snapshots not deleted: ${deleted.left.message}`, deleted.left)
          }
        }
        if (!consistent) {
          yield* Effect.logWarning(
            `Snapshot of ${type} ${JSON.stringify(id)} at version ${
              Option.getOrElse(loaded.snapshotVersion, () => "-")
            } + ${loaded.replayedCount} events differs from the full replay at ${differences[0]!.path}`
          ).pipe(Effect.annotateLogs({ aggregateType: type, aggregateId: id, repaired }))
        }
        const verified: Verified = {
          consistent,
          version: loaded.version,
          snapshotVersion: loaded.snapshotVersion,
          replayed: loaded.replayedCount,
          differences,
          repaired
        }
        return verified
      }).pipe(
        Effect.withSpan("EventSourcedRepository.verify", { attributes: { "aggregate.type": type, "aggregate.id": id } })
      )

    const verifyStream = (
      options: VerifyAllOptions = {}
    ): Stream.Stream<VerifyResult, SnapshotStore.SnapshotStoreError> =>
      snapshots.aggregates(type).pipe(
        Stream.mapEffect(
          (key) =>
            Effect.map(Effect.either(verify(key.aggregateId, options)), (result): VerifyResult => ({
              aggregateId: key.aggregateId,
              result
            })),
          { concurrency: options.concurrency ?? 4 }
        )
      )

    const verifyAll = (options: VerifyAllOptions = {}) => {
      const maxReported = options.maxReported ?? 100
      return Stream.runFold(
        verifyStream(options),
        {
          checked: 0,
          consistent: 0,
          inconsistentCount: 0,
          inconsistent: [] as Array<{ readonly aggregateId: string; readonly verified: Verified }>,
          failedCount: 0,
          failed: [] as Array<{ readonly aggregateId: string; readonly message: string }>,
          repaired: 0
        },
        (summary, { aggregateId, result }) => {
          summary.checked++
          if (Either.isLeft(result)) {
            summary.failedCount++
            if (summary.failed.length < maxReported) {
              summary.failed.push({
                aggregateId,
                message: result.left._tag === "AggregateNotFound"
                  ? `${result.left.message} (an orphan snapshot)`
                  : result.left.message
              })
            }
          } else if (result.right.consistent) {
            summary.consistent++
          } else {
            summary.inconsistentCount++
            if (result.right.repaired) summary.repaired++
            if (summary.inconsistent.length < maxReported) {
              summary.inconsistent.push({ aggregateId, verified: result.right })
            }
          }
          return summary
        }
      ).pipe(
        Effect.map((summary): VerifySummary => summary),
        Effect.withSpan("EventSourcedRepository.verifyAll", { attributes: { "aggregate.type": type } })
      )
    }

    const repository: EventSourcedRepository<S, E> = {
      aggregateType: type,
      load,
      save,
      update,
      verify,
      verifyStream,
      verifyAll,
      flush
    }
    return repository
  })
