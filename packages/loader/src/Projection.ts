/**
 * Projections (read models) rebuilt from snapshots: start one aggregate's projection from its newest usable
 * snapshot and stream only the events after it; or feed every stream of a type from a global position.
 *
 * @since 0.1.0
 */
import { SnapshotStore } from "@effect-snapshots/store"
import type * as Arr from "effect/Array"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Aggregate from "./Aggregate.js"
import { EventStore, type EventStoreError, type StoredEvent } from "./EventStore.js"
import * as Ops from "./internal/ops.js"
import * as Replay from "./internal/replay.js"
import * as Restore from "./internal/restore.js"
import { cut } from "./internal/text.js"
import type { StreamCorrupt } from "./RepositoryError.js"
import * as SnapshotMetrics from "./SnapshotMetrics.js"

/**
 * A decoded event with where it sits in its stream and in the global order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Envelope<E> {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly version: number
  readonly position: number
  readonly createdAt: DateTime.Utc
  readonly metadata: Readonly<Record<string, unknown>>
  readonly event: E
}

/**
 * What a projection does with a starting state and with each event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handler<S, E, Err, R> {
  /**
   * Reset the projection of one aggregate to a state: its newest usable snapshot's, or the initial state
   * at version 0 when there is none.
   */
  readonly applySnapshot: (aggregateId: string, state: S, version: number) => Effect.Effect<void, Err, R>
  /** Apply one event. */
  readonly handle: (envelope: Envelope<E>) => Effect.Effect<void, Err, R>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Rebuilt {
  /** The version of the last event handled (or of the snapshot, when no event came after it). */
  readonly version: number
  /** The snapshot the rebuild started from. */
  readonly snapshotVersion: Option.Option<number>
  /** How many events were handled. */
  readonly handled: number
}

const envelope = <E>(stored: StoredEvent, event: E): Envelope<E> => ({
  aggregateType: stored.aggregateType,
  aggregateId: stored.aggregateId,
  version: stored.version,
  position: stored.position,
  createdAt: stored.createdAt,
  metadata: stored.metadata,
  event
})

const decodeStream = <S, SI, E extends { readonly _tag: string }, EI, R>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  stream: Stream.Stream<StoredEvent, EventStoreError, R>
): Stream.Stream<Envelope<E>, EventStoreError | Aggregate.EventDecodeError, R> =>
  Stream.mapArrayEffect(stream, (rows) => {
    const out: Array<Envelope<E>> = []
    for (const stored of rows) {
      const decoded = Aggregate.decodeEvent(aggregate, stored)
      if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
      out.push(envelope(stored, decoded.success))
    }
    // One envelope per row of a non-empty array.
    return Effect.succeed(out as unknown as Arr.NonEmptyReadonlyArray<Envelope<E>>)
  })

/**
 * One aggregate's decoded events, from a version on (inclusive, default 1).
 *
 * @since 0.1.0
 * @category streams
 */
export const stream = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  aggregateId: string,
  options: { readonly fromVersion?: number | undefined } = {}
): Stream.Stream<Envelope<E>, EventStoreError | Aggregate.EventDecodeError, EventStore> =>
  Stream.unwrap(
    Effect.map(
      EventStore,
      (events) =>
        decodeStream(aggregate, events.read(aggregate.type, aggregateId, { fromVersion: options.fromVersion }))
    )
  )

/**
 * Every event of the aggregate's type, across all its streams, in global order after `fromPosition`
 * (exclusive, default: from the start).
 *
 * @since 0.1.0
 * @category streams
 */
export const streamAll = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  options: { readonly fromPosition?: number | undefined } = {}
): Stream.Stream<Envelope<E>, EventStoreError | Aggregate.EventDecodeError, EventStore> =>
  Stream.unwrap(
    Effect.map(EventStore, (events) =>
      decodeStream(
        aggregate,
        Stream.filter(events.readAll({ fromPosition: options.fromPosition }), (e) => e.aggregateType === aggregate.type)
      ))
  )

/**
 * @since 0.2.0
 * @category models
 */
export interface RebuildOptions {
  /**
   * The fallback budget: full replays (no usable snapshot) hold one permit while they run. Default: one budget
   * of 16 permits shared by every `rebuild` of the process, so that a mass snapshot failure does not turn
   * into a replay storm.
   */
  readonly fallback?: Semaphore.Semaphore | undefined
}

const defaultFallback = Semaphore.makeUnsafe(16)

/**
 * Rebuild one aggregate's projection: apply its newest usable snapshot (checked as `load` checks it: the
 * aggregate type and id the store answered, fingerprint, migrations, decoding, and that the stream holds the
 * event the snapshot was built from, at the position it recorded), then handle only the events after it.
 * Without a usable snapshot, start from the initial state and handle every event, inside the fallback budget.
 * Two round trips with a snapshot on SQL (the probe, and the first page of the tail read from the snapshot's
 * version, whose first row is the check).
 *
 * @since 0.1.0
 * @category constructors
 */
export const rebuild = <S, SI, E extends { readonly _tag: string }, EI, Err, R>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  aggregateId: string,
  handler: Handler<S, E, Err, R>,
  options: RebuildOptions = {}
): Effect.Effect<
  Rebuilt,
  Err | EventStoreError | Aggregate.EventDecodeError | StreamCorrupt,
  R | EventStore | SnapshotStore.SnapshotStore
> =>
  Effect.gen(function*() {
    const events = yield* EventStore
    const snapshots = yield* SnapshotStore.SnapshotStore
    const type = aggregate.type
    const ops = Ops.make(aggregate, Aggregate)
    const skipped = SnapshotMetrics.forAggregateType(type).skipped
    const probed = yield* Restore.probe(snapshots, ops, aggregateId, skipped)

    /** The replay from `from` into the handler: `start` (the starting state) runs before the first page. */
    const project = (from: Replay.From, start: Effect.Effect<void, Err, R>, fallback?: Semaphore.Semaphore) => {
      const page: Array<Envelope<E>> = []
      const pending = { start: Option.some(start) }
      return Replay.run(events, type, aggregateId, from, { fallback }, {
        take: (stored) => {
          const decoded = Aggregate.decodeEvent(aggregate, stored)
          if (Result.isFailure(decoded)) return decoded.failure
          page.push(envelope(stored, decoded.success))
          return undefined
        },
        flush: Effect.suspend(() => {
          const first = Option.getOrElse(pending.start, () => Effect.void)
          pending.start = Option.none()
          return Effect.andThen(first, Effect.forEach(page.splice(0), handler.handle, { discard: true }))
        })
      })
    }

    if (probed._tag === "Usable") {
      const { snapshot } = probed
      const from = { version: snapshot.version, position: ops.recordedPosition(snapshot.metadata) }
      const rebuilt = yield* project(from, handler.applySnapshot(aggregateId, probed.state, snapshot.version)).pipe(
        Effect.map((reached): Rebuilt | undefined => ({
          version: reached.version,
          snapshotVersion: Option.some(snapshot.version),
          handled: reached.replayed
        })),
        Effect.catchIf(
          (e): e is Replay.Unusable => e instanceof Replay.Unusable,
          (bad) =>
            Effect.as(Restore.skip(type, aggregateId, skipped, bad.reason, bad.message, snapshot.version), undefined)
        )
      )
      if (rebuilt !== undefined) return rebuilt
    }
    // No usable snapshot: the initial state and every event, reading inside the fallback budget.
    yield* handler.applySnapshot(aggregateId, aggregate.initial(aggregateId), 0)
    const reached = yield* project(
      { version: 0, position: undefined },
      Effect.void,
      options.fallback ?? defaultFallback
    )
      .pipe(Effect.catchIf((e): e is Replay.Unusable => e instanceof Replay.Unusable, Effect.die)) // a replay from version 0 has no head to disprove
    const rebuilt: Rebuilt = { version: reached.version, snapshotVersion: Option.none(), handled: reached.replayed }
    return rebuilt
  }).pipe(
    Effect.withSpan("Projection.rebuild", {
      attributes: { "aggregate.type": aggregate.type, "aggregate.id": cut(aggregateId) }
    })
  )

/**
 * Feed every event of the aggregate's type after `fromPosition` to `handle`, in global order. Answers the
 * position of the last event handled (or `fromPosition`), to resume from.
 *
 * @since 0.1.0
 * @category constructors
 */
export const runAll = <S, SI, E extends { readonly _tag: string }, EI, Err, R>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  handle: (envelope: Envelope<E>) => Effect.Effect<void, Err, R>,
  options: { readonly fromPosition?: number | undefined } = {}
): Effect.Effect<
  { readonly position: number; readonly handled: number },
  Err | EventStoreError | Aggregate.EventDecodeError,
  R | EventStore
> =>
  Effect.suspend(() => {
    let position = options.fromPosition ?? 0
    let handled = 0
    return Stream.runForEach(streamAll(aggregate, options), (env) =>
      Effect.map(handle(env), () => {
        position = env.position
        handled++
      })).pipe(Effect.map(() => ({ position, handled })))
  }).pipe(Effect.withSpan("Projection.runAll", { attributes: { "aggregate.type": aggregate.type } }))
