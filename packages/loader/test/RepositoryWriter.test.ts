/**
 * The snapshot writer (internal/snapshotWriter.ts) on its own: what closing its scope guarantees, that `flush`
 * always returns, and that merging a batch keeps every obsolete delete.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore, SnapshotMetrics } from "@effect-snapshots/loader"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Commit from "../src/internal/commit.js"
import * as Ops from "../src/internal/ops.js"
import * as SnapshotWriter from "../src/internal/snapshotWriter.js"
import { initial, Ledger, type LedgerState } from "./utils/Ledger.js"
import { deposits } from "./utils/repositorySuite.js"

const type = "WriterLedger"
const WriterLedger = Aggregate.make({ ...Ledger, type })
const metrics = SnapshotMetrics.forAggregateType(type)
const count = (metric: Metric.Counter<number>) => Effect.map(Metric.value(metric), (s) => s.count)

const job = (id: string, version: number, obsolete: ReadonlyArray<number> = []): SnapshotWriter.Job<LedgerState> => ({
  id,
  version,
  known: Option.some({
    version,
    state: { ...initial(id), entries: version },
    position: version,
    lastSnapshot: undefined,
    replayed: Option.none(),
    duration: Option.none(),
    encodedBytes: undefined
  }),
  obsolete,
  decide: Option.none()
})

/** A writer over `store`, in a scope of its own. */
const writerIn = (scope: Scope.Scope, store: SnapshotStore.SnapshotStoreService, capacity = 1024) =>
  SnapshotWriter.make({
    ops: Ops.make(WriterLedger, Aggregate),
    snapshots: store,
    metrics,
    decide: (input) => Effect.succeed({ decision: { take: true, reasons: [] }, last: input.last }),
    load: () => Effect.fail({ message: "not used" }),
    written: () => Effect.void,
    background: { capacity, concurrency: 4 }
  }).pipe(Scope.provide(scope))

/** A memory store whose saves take a few scheduler turns (so requests pile up while it writes). */
const slow = Effect.map(SnapshotStore.makeMemory, (inner): SnapshotStore.SnapshotStoreService => ({
  ...inner,
  save: (snapshot) =>
    Effect.andThen(Effect.forEach([1, 2, 3, 4, 5], () => Effect.yieldNow, { discard: true }), inner.save(snapshot))
}))

describe("the snapshot writer", () => {
  it.effect("closing the scope writes every accepted request; a request after that is dropped and counted", () =>
    Effect.gen(function*() {
      const store = yield* slow
      const scope = yield* Scope.make()
      const writer = yield* writerIn(scope, store)
      const ids = Array.from({ length: 50 }, (_, i) => `close-${i}`)
      for (const id of ids) assert.strictEqual(yield* writer.submit(job(id, 3), Commit.none), "queued")
      yield* Scope.close(scope, Exit.void)
      for (const id of ids) assert.strictEqual(Option.getOrThrow(yield* store.load(type, id)).version, 3, id)
      const before = yield* count(metrics.drops)
      assert.strictEqual(yield* writer.submit(job("late", 1), Commit.none), "dropped")
      assert.strictEqual((yield* count(metrics.drops)) - before, 1)
      assert.isTrue(Option.isNone(yield* store.load(type, "late")))
      yield* writer.flush // returns: nothing pending
    }))

  it.effect("a full queue drops (counted), never blocks; every accepted request is written", () =>
    Effect.gen(function*() {
      const store = yield* slow
      const scope = yield* Scope.make()
      const writer = yield* writerIn(scope, store, 2)
      const before = yield* count(metrics.drops)
      const outcomes: Array<string> = []
      for (let i = 0; i < 10; i++) outcomes.push(yield* writer.submit(job(`full-${i}`, 1), Commit.none))
      const dropped = outcomes.filter((o) => o === "dropped").length
      assert.isAtLeast(dropped, 1)
      assert.strictEqual((yield* count(metrics.drops)) - before, dropped)
      yield* writer.flush
      for (let i = 0; i < 10; i++) {
        assert.strictEqual(Option.isSome(yield* store.load(type, `full-${i}`)), outcomes[i] === "queued", `${i}`)
      }
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("flush returns after submitters are interrupted at any step", () =>
    Effect.gen(function*() {
      const store = yield* slow
      const scope = yield* Scope.make()
      const writer = yield* writerIn(scope, store)
      for (let round = 0; round < 30; round++) {
        const fiber = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
            writer.submit(job(`int-${round}-${i}`, 1), Commit.none), {
            discard: true
          })
        )
        for (let k = 0; k < round % 7; k++) {
          yield* Effect.yieldNow
        }
        yield* Fiber.interrupt(fiber)
        yield* writer.flush
      }
      yield* Scope.close(scope, Exit.void)
    }))

  it("merging a batch keeps the newest request per aggregate and every obsolete delete", () => {
    const merged = SnapshotWriter.merge([
      job("a", 3, [3]),
      job("b", 2),
      job("a", 5),
      job("a", 4, [9]),
      job("b", 1, [1])
    ])
    assert.deepStrictEqual(merged.map((j) => [j.id, j.version, [...j.obsolete].sort()]), [
      ["a", 5, [3, 9]],
      ["b", 2, [1]]
    ])
  })

  it.effect("a merged request still deletes the unusable snapshot it was queued to replace", () =>
    Effect.gen(function*() {
      const store = yield* SnapshotStore.makeMemory
      // an unusable snapshot above its stream (version 9), queued to be deleted by a replacement at 5; a newer
      // request (6) for the same aggregate lands in the same batch: the delete must survive the merge
      yield* store.save(
        Snapshot.Snapshot.make({
          aggregateType: type,
          aggregateId: "obsolete",
          version: 9,
          state: { junk: true },
          schemaVersion: 1,
          createdAt: DateTime.makeUnsafe(0),
          metadata: {}
        })
      )
      const scope = yield* Scope.make()
      const writer = yield* writerIn(scope, store)
      yield* writer.submit(job("obsolete", 5, [9]), Commit.none)
      yield* writer.submit(job("obsolete", 6), Commit.none)
      yield* Scope.close(scope, Exit.void)
      const stored = Option.getOrThrow(yield* store.load(type, "obsolete"))
      assert.strictEqual(stored.version, 6) // the junk above the stream is gone
    }))

  it.effect(
    "background: saves past a due point while the writer is busy write one snapshot for it, not one per save",
    () =>
      Effect.gen(function*() {
        const inner = yield* SnapshotStore.makeMemory
        const gate = yield* Deferred.make<void>()
        const entered = yield* Deferred.make<void>()
        // The first snapshot write waits at the gate: the saves after it decide while it is in flight.
        const atGate = Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(gate))
        const gated: SnapshotStore.SnapshotStoreService = {
          ...inner,
          save: (snapshot) => Effect.andThen(atGate, inner.save(snapshot)),
          saveIfDue: (snapshot, options) => Effect.andThen(atGate, inner.saveIfDue(snapshot, options))
        }
        const id = "busy-writer"
        const versions = yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* EventSourcedRepository.make(Aggregate.make({ ...Ledger, type: "BusyWriterLedger" }), {
            strategy: SnapshotStrategy.eventsSinceSnapshot(10),
            mode: "background"
          }).pipe(Effect.provideService(SnapshotStore.SnapshotStore, gated))
          yield* repo.save(id, 0, deposits(9))
          yield* repo.load(id) // the repository knows the state, and that no snapshot is stored
          assert.strictEqual((yield* repo.save(id, 9, deposits(1, 10))).snapshot, "queued") // due at 10
          yield* Deferred.await(entered)
          // Each of these saves still knows "no snapshot stored" from the load: each says due.
          yield* repo.save(id, 10, deposits(1, 11))
          yield* repo.save(id, 11, deposits(1, 12))
          yield* Deferred.succeed(gate, undefined)
          yield* repo.flush
          return (yield* inner.list("BusyWriterLedger", id)).map((s) => s.version)
        }))
        assert.deepStrictEqual(versions, [10])
      }).pipe(Effect.provide(EventStore.layerMemory))
  )
})
