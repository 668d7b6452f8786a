/**
 * `verify` and its bulk form: snapshot drift (a snapshot that decodes but holds another state than the full
 * replay) is reported with the paths that differ, repaired on request, and found across every aggregate of a
 * type by `verifyAll`.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { Deposited, Ledger, type LedgerEvent } from "./utils/Ledger.js"

const deposit = (n: number): LedgerEvent => Deposited.make({ amount: BigDecimal.fromBigInt(BigInt(n)), note: `d${n}` })

/** Overwrite the newest snapshot of `id` with one that decodes, passes every check, and is wrong. */
const drift = (id: string) =>
  Effect.gen(function*() {
    const snapshots = yield* SnapshotStore.SnapshotStore
    const events = yield* EventStore.EventStore
    const newest = Option.getOrThrow(yield* snapshots.load("Ledger", id))
    const restored = Aggregate.restoreState(Ledger, newest)
    assert.isTrue(Result.isSuccess(restored))
    const state = Result.getOrThrow(restored).state
    // an older fold that forgot to count an entry and rounded the balance
    const wrong = {
      ...state,
      entries: state.entries - 1,
      balance: BigDecimal.sum(state.balance, BigDecimal.fromBigInt(1n))
    }
    const [event] = yield* Stream.runCollect(
      events.read("Ledger", id, { fromVersion: newest.version, toVersion: newest.version })
    )
    yield* snapshots.delete("Ledger", id, { version: newest.version })
    yield* snapshots.save(
      Snapshot.Snapshot.make({
        aggregateType: "Ledger",
        aggregateId: id,
        version: newest.version,
        state: Result.getOrThrow(Aggregate.encodeState(Ledger, wrong)),
        schemaVersion: 1,
        createdAt: yield* DateTime.now,
        metadata: Aggregate.snapshotMetadata(Ledger, event!.position)
      })
    )
  })

const Stores = Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory)

describe("EventSourcedRepository.verify", () => {
  layer(Stores)((it) => {
    it.effect("consistent: snapshot + tail equals the full replay", () =>
      Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(3) })
        yield* repo.save("ok", 0, [deposit(1), deposit(2), deposit(3), deposit(4)])
        const verified = yield* repo.verify("ok")
        assert.isTrue(verified.consistent)
        assert.strictEqual(verified.version, 4)
        assert.deepStrictEqual(verified.snapshotVersion, Option.some(4))
        assert.deepStrictEqual(verified.differences, [])
        assert.isFalse(verified.repaired)
      }))

    it.effect("drift: reported with the paths that differ, and repaired on request", () =>
      Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(2) })
        yield* repo.save("drifted", 0, [deposit(1), deposit(2)])
        yield* repo.save("drifted", 2, [deposit(3)])
        yield* drift("drifted")
        // the drifted snapshot is what a load from the stores starts from: nothing but verify can tell (this
        // repository's own load starts from the state it cached at the save, which the stream proves current)
        const cold = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
        assert.deepStrictEqual((yield* cold.load("drifted")).snapshotVersion, Option.some(2))

        const found = yield* repo.verify("drifted")
        assert.isFalse(found.consistent)
        assert.strictEqual(found.version, 3)
        assert.deepStrictEqual(found.snapshotVersion, Option.some(2))
        assert.strictEqual(found.replayed, 1)
        assert.deepStrictEqual(found.differences.map((d) => d.path), ["$.balance", "$.entries"])
        assert.deepStrictEqual(found.differences[1], { path: "$.entries", snapshot: "2", replay: "3" })
        assert.isFalse(found.repaired)

        const repaired = yield* repo.verify("drifted", { repair: true })
        assert.isFalse(repaired.consistent)
        assert.isTrue(repaired.repaired)
        const store = yield* SnapshotStore.SnapshotStore
        assert.deepStrictEqual((yield* store.list("Ledger", "drifted")).map((s) => s.version), [3])
        const after = yield* repo.verify("drifted")
        assert.isTrue(after.consistent)
        assert.deepStrictEqual(after.snapshotVersion, Option.some(3))
      }))

    it.effect("verifyAll: every aggregate with a snapshot, drift and orphans reported, repaired on request", () =>
      Effect.gen(function*() {
        // a type of its own, so the other tests' aggregates are not listed
        const Other = Aggregate.make({ ...Ledger, type: "LedgerAll" })
        const repo = yield* EventSourcedRepository.make(Other, { strategy: SnapshotStrategy.everyNEvents(2) })
        const ids = Array.from({ length: 30 }, (_, i) => `a${i}`)
        for (const id of ids) yield* repo.save(id, 0, [deposit(1), deposit(2), deposit(3)])
        const store = yield* SnapshotStore.SnapshotStore
        for (const id of ["a3", "a17", "a29"]) {
          const newest = Option.getOrThrow(yield* store.load("LedgerAll", id))
          yield* store.delete("LedgerAll", id)
          yield* store.save(
            Snapshot.Snapshot.make({ ...newest, state: { ...(newest.state as object), entries: 99 } })
          )
        }
        // a snapshot whose stream does not exist
        const orphan = Option.getOrThrow(yield* store.load("LedgerAll", "a0"))
        yield* store.save(Snapshot.Snapshot.make({ ...orphan, aggregateId: "orphan" }))

        const summary = yield* repo.verifyAll({ concurrency: 8 })
        assert.strictEqual(summary.checked, 31)
        assert.strictEqual(summary.consistent, 27)
        assert.strictEqual(summary.inconsistentCount, 3)
        assert.deepStrictEqual(summary.inconsistent.map((i) => i.aggregateId).sort(), ["a17", "a29", "a3"])
        assert.deepStrictEqual(summary.inconsistent[0]!.verified.differences.map((d) => d.path), ["$.entries"])
        assert.strictEqual(summary.failedCount, 1)
        assert.strictEqual(summary.failed[0]!.aggregateId, "orphan")
        assert.match(summary.failed[0]!.message, /has no events \(an orphan snapshot\)/)
        assert.strictEqual(summary.repaired, 0)

        const limited = yield* repo.verifyAll({ maxReported: 1 })
        assert.strictEqual(limited.inconsistentCount, 3)
        assert.strictEqual(limited.inconsistent.length, 1)

        const repairing = yield* repo.verifyAll({ repair: true })
        assert.strictEqual(repairing.repaired, 3)
        const again = yield* repo.verifyAll()
        assert.strictEqual(again.consistent, 30)
        assert.strictEqual(again.inconsistentCount, 0)
        assert.strictEqual(again.failedCount, 1)
      }))
  })
})
