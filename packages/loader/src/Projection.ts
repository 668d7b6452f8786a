/**
 * Projections (read models) rebuilt from snapshots: start one aggregate's projection from its newest usable
 * snapshot and stream only the events after it; or feed every stream of a type from a global position.
 *
 * @since 0.1.0
 */
import { SnapshotStore } from "@effect-snapshots/store"
import * as Chunk from "effect/Chunk"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Aggregate from "./Aggregate.js"
import { EventStore, type EventStoreError, type StoredEvent } from "./EventStore.js"

/**
 * A decoded event with where it sits in its stream and in the global order.
 *
 * @since 0.1.0
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
  Stream.mapChunksEffect(stream, (chunk) => {
    const out: Array<Envelope<E>> = []
    for (const stored of chunk) {
      const decoded = Aggregate.decodeEvent(aggregate, stored)
      if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
      out.push(envelope(stored, decoded.right))
    }
    return Effect.succeed(Chunk.unsafeFromArray(out))
  })

/**
 * One aggregate's decoded events, from a version on (inclusive, default 1).
 *
 * @since 0.1.0
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
 * Rebuild one aggregate's projection: apply its newest usable snapshot (checked as `load` checks it: fingerprint,
 * migrations, decoding, and that the stream holds the event the snapshot was built from), then handle only
 * the events after it. Without a usable snapshot, start from the initial state and handle every event.
 *
 * @since 0.1.0
 */
export const rebuild = <S, SI, E extends { readonly _tag: string }, EI, Err, R>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  aggregateId: string,
  handler: Handler<S, E, Err, R>
): Effect.Effect<
  Rebuilt,
  Err | EventStoreError | Aggregate.EventDecodeError,
  R | EventStore | SnapshotStore.SnapshotStore
> =>
  Effect.gen(function*() {
    const events = yield* EventStore
    const snapshots = yield* SnapshotStore.SnapshotStore
    const probe = yield* Effect.option(snapshots.load(aggregate.type, aggregateId))
    let start: { readonly state: S; readonly version: number } | undefined
    if (Option.isSome(probe) && Option.isSome(probe.value)) {
      const snapshot = probe.value.value
      const restored = Aggregate.restoreState(aggregate, snapshot)
      if (Either.isRight(restored)) {
        // The stream must hold the very event the snapshot was built from.
        const head = yield* Stream.runHead(
          events.read(aggregate.type, aggregateId, { fromVersion: snapshot.version, toVersion: snapshot.version })
        )
        const expected = Aggregate.recordedPosition(snapshot.metadata)
        const matches = Option.isSome(head) && head.value.version === snapshot.version &&
          (Option.isNone(expected) || expected.value === head.value.position)
        if (matches) start = { state: restored.right.state, version: snapshot.version }
      }
    }
    const from = start ?? { state: aggregate.initial(aggregateId), version: 0 }
    yield* handler.applySnapshot(aggregateId, from.state, from.version)
    let version = from.version
    let handled = 0
    yield* Stream.runForEach(stream(aggregate, aggregateId, { fromVersion: from.version + 1 }), (env) =>
      Effect.map(handler.handle(env), () => {
        version = env.version
        handled++
      }))
    const rebuilt: Rebuilt = {
      version,
      snapshotVersion: start === undefined ? Option.none() : Option.some(start.version),
      handled
    }
    return rebuilt
  }).pipe(
    Effect.withSpan("Projection.rebuild", {
      attributes: { "aggregate.type": aggregate.type, "aggregate.id": aggregateId }
    })
  )

/**
 * Feed every event of the aggregate's type after `fromPosition` to `handle`, in global order. Answers the
 * position of the last event handled (or `fromPosition`), to resume from.
 *
 * @since 0.1.0
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
