/**
 * `rebuild` from the outside, on any stores: a deploy changes the state Schema's fingerprint, every snapshot is
 * stale; rebuild writes fresh ones for every stream in the event store (with and without a snapshot), after which
 * loads come from snapshots; `onlyStale` skips what is usable; an interrupted rebuild resumes from its checkpoint.
 * Each test uses its own aggregate type, so tests sharing one database do not see each other's streams.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { evolve, initial, LedgerEvent, LedgerState } from "./Ledger.js"
import { deposits } from "./repositorySuite.js"

/** What the suite needs of `it` (the plain one, or a `layer`'s). */
interface It<R> {
  readonly effect: (name: string, self: () => Effect.Effect<unknown, unknown, R>) => unknown
}
type Env = EventStore.EventStore | SnapshotStore.SnapshotStore

let counter = 0
const freshType = (name: string) => `Rb${name}_${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`

/** The Ledger under its own type, as deployed before (v1) and after (v2: a state Schema with one more field). */
export const deployments = (type: string) => {
  const v1 = Aggregate.make({ type, state: LedgerState, initial, events: LedgerEvent, evolve })
  const StateV2 = Schema.Struct({ ...LedgerState.fields, memo: Schema.optional(Schema.String) })
  const v2 = Aggregate.make({
    type,
    state: StateV2,
    initial,
    events: LedgerEvent,
    evolve: evolve as (state: typeof StateV2.Type, event: LedgerEvent) => typeof StateV2.Type
  })
  return { v1, v2 }
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `a-${String(i).padStart(3, "0")}`)

/** `count` aggregates of 7 events with v1; every other one also snapshotted (at 5). */
const seed = (aggregate: ReturnType<typeof deployments>["v1"], count: number) =>
  Effect.scoped(Effect.gen(function*() {
    const writer = yield* EventSourcedRepository.make(aggregate, { strategy: SnapshotStrategy.never })
    const snapshotting = yield* EventSourcedRepository.make(aggregate, { strategy: SnapshotStrategy.everyNEvents(5) })
    for (const [i, id] of ids(count).entries()) {
      yield* (i % 2 === 0 ? snapshotting : writer).save(id, 0, deposits(7))
    }
  }))

export const rebuildSuite = <R>(
  it: It<R>,
  layer: <A, E>(effect: Effect.Effect<A, E, Env>) => Effect.Effect<A, unknown, R>
) => {
  it.effect("after a deploy that changes the fingerprint: rebuild writes a fresh snapshot for every stream, then loads come from snapshots", () =>
    layer(Effect.gen(function*() {
      const { v1, v2 } = deployments(freshType("deploy"))
      yield* seed(v1, 12)
      const snapshots = yield* SnapshotStore.SnapshotStore
      assert.notStrictEqual(v1.fingerprint, v2.fingerprint)
      yield* Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(v2, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
        const summary = yield* repo.rebuild({ concurrency: 3, perSecond: 1000 })
        assert.deepStrictEqual(
          {
            total: summary.total,
            done: summary.done,
            written: summary.written,
            skipped: summary.skipped,
            failed: summary.failed
          },
          { total: 12, done: 12, written: 12, skipped: 0, failed: 0 }
        )
        assert.deepStrictEqual(summary.checkpoint, Option.some("a-011"))
        for (const id of ids(12)) {
          const loaded = yield* repo.load(id)
          assert.strictEqual(loaded.source, "snapshot", id)
          assert.deepStrictEqual(loaded.snapshotVersion, Option.some(7))
          assert.strictEqual(loaded.replayed, 0)
          assert.strictEqual(loaded.state.entries, 7)
          const newest = Option.getOrThrow(yield* snapshots.load(v2.type, id))
          assert.strictEqual(newest.metadata[Aggregate.FingerprintKey], v2.fingerprint)
        }
        // Nothing stale is left: a second pass with onlyStale skips everything and writes nothing.
        const again = yield* repo.rebuild({ onlyStale: true })
        assert.deepStrictEqual([again.written, again.skipped], [0, 12])
        // A stream that moved on: without onlyStale its snapshot is moved up to the head, the others are current.
        yield* repo.save("a-004", 7, deposits(2, 8))
        const moved = yield* repo.rebuild()
        assert.deepStrictEqual([moved.written, moved.skipped], [1, 11])
        assert.deepStrictEqual(
          (yield* snapshots.load(v2.type, "a-004")).pipe(Option.map((s) => s.version)),
          Option.some(9)
        )
      }))
    })))

  it.effect("onlyStale: only aggregates without a usable snapshot at the current fingerprint are written", () =>
    layer(Effect.gen(function*() {
      const { v1 } = deployments(freshType("stale"))
      yield* seed(v1, 6) // a-000, a-002, a-004 have a (usable) snapshot at 5
      yield* Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(v1, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
        const outcomes = yield* Stream.runCollect(repo.rebuildStream({ onlyStale: true }))
        assert.deepStrictEqual(outcomes.map((p) => [p.aggregateId, p.outcome]), [
          ["a-000", "skipped"],
          ["a-001", "written"],
          ["a-002", "skipped"],
          ["a-003", "written"],
          ["a-004", "skipped"],
          ["a-005", "written"]
        ])
        const last = outcomes[outcomes.length - 1]!
        assert.deepStrictEqual([last.done, last.total, last.written, last.skipped, last.etaSeconds], [6, 6, 3, 3, 0])
        assert.isTrue(last.ratePerSecond > 0)
      }))
    })))

  it.effect("interrupted, it stops after the aggregates in flight; resumed from the checkpoint it finishes the rest", () =>
    layer(Effect.gen(function*() {
      const { v1, v2 } = deployments(freshType("resume"))
      yield* seed(v1, 40)
      const snapshots = yield* SnapshotStore.SnapshotStore
      yield* Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(v2, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
        const seen = yield* Deferred.make<void>()
        let checkpoint: string | undefined
        const fiber = yield* repo.rebuildStream({ concurrency: 2 }).pipe(
          Stream.runForEach((progress) => {
            checkpoint = progress.checkpoint
            // The consumer stops here (until interrupted), so the rebuild cannot run to the end before the interrupt.
            return progress.done === 5 ? Effect.andThen(Deferred.succeed(seen, undefined), Effect.never) : Effect.void
          }),
          Effect.forkChild
        )
        yield* Deferred.await(seen)
        yield* Fiber.interrupt(fiber)
        assert.isDefined(checkpoint)
        // Every aggregate up to the checkpoint has its fresh snapshot; every snapshot of the new fingerprint is whole.
        const fresh: Array<string> = []
        for (const id of ids(40)) {
          const newest = yield* snapshots.load(v2.type, id)
          if (Option.isSome(newest) && newest.value.metadata[Aggregate.FingerprintKey] === v2.fingerprint) {
            assert.isTrue(Result.isSuccess(Aggregate.restoreState(v2, newest.value)), id)
            fresh.push(id)
          }
        }
        for (const id of ids(40).filter((id) => id <= checkpoint!)) assert.include(fresh, id)
        assert.isBelow(fresh.length, 40)
        const resumed = yield* repo.rebuild({ resumeFrom: checkpoint, onlyStale: true })
        assert.strictEqual(resumed.total, ids(40).filter((id) => id > checkpoint!).length)
        assert.strictEqual(resumed.failed, 0)
        for (const id of ids(40)) {
          const loaded = yield* repo.load(id)
          assert.strictEqual(loaded.source, "snapshot", id)
        }
      }))
    })))

  it.effect("bad options are a BadArgument, before anything is read", () =>
    layer(Effect.gen(function*() {
      const { v1 } = deployments(freshType("bad"))
      yield* Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(v1, { strategy: SnapshotStrategy.never })
        for (const options of [{ concurrency: 0 }, { perSecond: 0 }, { perSecond: Number.NaN }, { resumeFrom: "" }]) {
          const result = yield* Effect.result(repo.rebuild(options))
          assert.isTrue(Result.isFailure(result) && result.failure._tag === "BadArgument", JSON.stringify(options))
        }
      }))
    })))

  it.effect("EventStore.streams: every stream with its version, ordered by type then id, resumable with after", () =>
    layer(Effect.gen(function*() {
      const type = freshType("streams")
      const events = yield* EventStore.EventStore
      for (const id of ["b", "a", "c"]) {
        yield* events.append(type, id, 0, [{ type: "T", payload: {} }, { type: "T", payload: {} }])
      }
      yield* events.append(type, "a", 2, [{ type: "T", payload: {} }])
      const all = yield* Stream.runCollect(events.streams({ aggregateType: type }))
      assert.deepStrictEqual(all, [
        { aggregateType: type, aggregateId: "a", version: 3 },
        { aggregateType: type, aggregateId: "b", version: 2 },
        { aggregateType: type, aggregateId: "c", version: 2 }
      ])
      const after = yield* Stream.runCollect(events.streams({ aggregateType: type, after: "a" }))
      assert.deepStrictEqual(after.map((s) => s.aggregateId), ["b", "c"])
      const anyType = yield* Stream.runCollect(events.streams({ after: { aggregateType: type, aggregateId: "b" } }))
      assert.deepStrictEqual(anyType.filter((s) => s.aggregateType === type).map((s) => s.aggregateId), ["c"])
      const bad = yield* Effect.result(Stream.runDrain(events.streams({ after: "a" })))
      assert.isTrue(Result.isFailure(bad) && bad.failure.reason === "InvalidInput")
    })))
}
