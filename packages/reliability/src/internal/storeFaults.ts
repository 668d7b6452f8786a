/** A SnapshotStore and an EventStore that fail, hang or corrupt a share of their calls. @internal */
import { EventStore, EventStoreError } from "@effect-snapshots/loader/EventStore"
import type { Snapshot } from "@effect-snapshots/store/Snapshot"
import { SnapshotStore, SnapshotStoreError } from "@effect-snapshots/store/SnapshotStore"
import type { SnapshotStoreService } from "@effect-snapshots/store/SnapshotStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Corruption } from "./corruption.js"
import { corruptions, corruptSnapshot } from "./corruption.js"
import type { Injector } from "./injector.js"
import { apply } from "./injector.js"

/**
 * @since 0.1.0
 */
export interface SnapshotStoreOptions {
  /** Which corruptions a corrupt load may answer (default: all of `corruptions`). */
  readonly corruptions?: ReadonlyArray<Corruption> | undefined
  /** Count of corrupt loads by kind, filled in as they are injected. */
  readonly corruptionCounts?: Partial<Record<Corruption, number>> | undefined
}

const unavailable = (method: string) => () =>
  new SnapshotStoreError({ reason: "Unavailable", message: `injected fault: SnapshotStore.${method} unavailable` })

/**
 * Wrap a SnapshotStore service: each call may fail ("Unavailable"), hang, be delayed, or (for `load` and
 * `latestForType`) answer a corrupt snapshot.
 *
 * @since 0.1.0
 */
export const snapshotStore = (
  inner: SnapshotStoreService,
  injector: Injector,
  options: SnapshotStoreOptions = {}
): SnapshotStoreService => {
  const kinds = options.corruptions ?? corruptions
  const corrupt = (o: Option.Option<Snapshot>): Option.Option<Snapshot> =>
    Option.map(o, (s) => {
      const kind = kinds[Math.floor(injector.random() * kinds.length)]!
      if (options.corruptionCounts) options.corruptionCounts[kind] = (options.corruptionCounts[kind] ?? 0) + 1
      return corruptSnapshot(s, kind, injector.random)
    })
  const wrap = <A>(
    method: string,
    effect: Effect.Effect<A, SnapshotStoreError>,
    onCorrupt?: (a: A) => A
  ): Effect.Effect<A, SnapshotStoreError> =>
    Effect.suspend(() => apply(injector.decide(onCorrupt !== undefined), effect, unavailable(method), onCorrupt))
  return {
    save: (snapshot) => wrap("save", inner.save(snapshot)),
    saveIfDue: (snapshot, opts) => wrap("saveIfDue", inner.saveIfDue(snapshot, opts)),
    ...(inner.now === undefined ? {} : { now: inner.now }),
    ...(inner.writesAfterCommit === undefined ? {} : { writesAfterCommit: inner.writesAfterCommit }),
    load: (type, id, opts) => wrap("load", inner.load(type, id, opts), corrupt),
    list: (type, id) => wrap("list", inner.list(type, id)),
    delete: (type, id, opts) => wrap("delete", inner.delete(type, id, opts)),
    latestForType: (type) => wrap("latestForType", inner.latestForType(type), corrupt),
    aggregates: (type) => Stream.unwrap(Effect.as(wrap("aggregates", Effect.void), inner.aggregates(type))),
    prune: (opts) => wrap("prune", inner.prune(opts))
  }
}

/**
 * The SnapshotStore decorator form: `SnapshotStore.layerMemory.pipe(Faults.layerSnapshotStore(injector))`.
 *
 * @since 0.1.0
 */
export const layerSnapshotStore =
  (injector: Injector, options: SnapshotStoreOptions = {}) =>
  <E, R>(inner: Layer.Layer<SnapshotStore, E, R>): Layer.Layer<SnapshotStore, E, R> =>
    Layer.effect(SnapshotStore, Effect.map(SnapshotStore, (s) => snapshotStore(s, injector, options))).pipe(
      Layer.provide(inner)
    )

// ---------------------------------------------------------------------------------------------------------------
// EventStore
// ---------------------------------------------------------------------------------------------------------------

const eventStoreUnavailable = (method: string) => () =>
  new EventStoreError({ reason: "Unavailable", message: `injected fault: EventStore.${method} unavailable` })

/**
 * Wrap an EventStore service: calls may fail ("Unavailable"), hang or be delayed. A failed `append` fails
 * BEFORE reaching the store, so nothing is written (use the SqlClient wrapper for faults inside a commit).
 * Latency widens race windows in concurrency tests.
 *
 * @since 0.1.0
 */
export const eventStore = (inner: EventStore["Service"], injector: Injector): EventStore["Service"] => {
  const wrap = <A, E>(method: string, effect: Effect.Effect<A, E | EventStoreError>) =>
    Effect.suspend(() => apply(injector.decide(false), effect, eventStoreUnavailable(method)))
  return {
    append: (type, id, expected, events) => wrap("append", inner.append(type, id, expected, events)),
    read: (type, id, opts) => Stream.unwrap(Effect.map(wrap("read", Effect.void), () => inner.read(type, id, opts))),
    readPage: (type, id, opts) => wrap("readPage", inner.readPage(type, id, opts)),
    readAll: (opts) => Stream.unwrap(Effect.map(wrap("readAll", Effect.void), () => inner.readAll(opts))),
    version: (type, id) => wrap("version", inner.version(type, id)),
    streams: (opts) => Stream.unwrap(Effect.map(wrap("streams", Effect.void), () => inner.streams(opts)))
  }
}

/**
 * @since 0.1.0
 */
export const layerEventStore =
  (injector: Injector) => <E, R>(inner: Layer.Layer<EventStore, E, R>): Layer.Layer<EventStore, E, R> =>
    Layer.effect(EventStore, Effect.map(EventStore, (s) => eventStore(s, injector))).pipe(Layer.provide(inner))
