/**
 * Snapshots the store cannot read back (a `Corrupt` error) or answers for another aggregate are skipped,
 * counted, replayed past, and replaced.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore, SnapshotMetrics } from "@effect-snapshots/loader"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { Deposited, encode, Ledger } from "./utils/Ledger.js"

const deposit = (n: number) => Deposited.make({ amount: BigDecimal.fromBigInt(BigInt(n)), note: `d${n}` })
const skipped = (reason: "DecodeFailure" | "StreamMismatch") =>
  Effect.map(Metric.value(SnapshotMetrics.forAggregateType("Ledger").skipped(reason)), (s) => s.count)

describe("EventSourcedRepository and unreadable or foreign snapshots", () => {
  it.effect("a Corrupt load error: skipped as DecodeFailure, replayed, the stored snapshot replaced", () =>
    Effect.gen(function*() {
      const inner = yield* SnapshotStore.makeMemory
      const store = yield* SnapshotStore.makeCompressed(inner, { thresholdBytes: 0 })
      const repo = yield* EventSourcedRepository.make(Ledger, {
        strategy: SnapshotStrategy.everyNEvents(3),
        cacheMaxBytes: 0 // every load reads the snapshot store (no state remembered)
      }).pipe(
        Effect.provideService(SnapshotStore.SnapshotStore, store)
      )
      yield* repo.save("a", 0, [deposit(1), deposit(2), deposit(3)])
      const good = Option.getOrThrow(yield* inner.load("Ledger", "a"))
      assert.strictEqual(good.version, 3)
      // the same version, bytes that do not inflate: the stack's load fails with Corrupt
      yield* inner.delete("Ledger", "a")
      yield* inner.save(
        new Snapshot.Snapshot({
          ...good,
          state: new Snapshot.CompressedState({ algorithm: "gzip", bytes: new Uint8Array([0x1f, 0x8b, 8, 1, 2, 3]) })
        })
      )
      assert.strictEqual((yield* Effect.flip(store.load("Ledger", "a"))).reason, "Corrupt")

      const before = yield* skipped("DecodeFailure")
      const loaded = yield* repo.load("a")
      assert.strictEqual(loaded.version, 3)
      assert.isTrue(Option.isNone(loaded.snapshotVersion))
      assert.strictEqual(loaded.replayed, 3)
      assert.strictEqual((yield* skipped("DecodeFailure")) - before, 1)
      // replaced at the same version: the next load starts from it
      const again = yield* repo.load("a")
      assert.deepStrictEqual(again.snapshotVersion, Option.some(3))
      assert.strictEqual(again.replayed, 0)
      assert.strictEqual(encode(again.state), encode(loaded.state))
      assert.strictEqual((yield* skipped("DecodeFailure")) - before, 1)
    }).pipe(Effect.provide(EventStore.layerMemory)))

  it.effect("a snapshot answered for another aggregate: skipped as StreamMismatch, replayed, replaced", () =>
    Effect.gen(function*() {
      const inner = yield* SnapshotStore.makeMemory
      // a store whose answer names another aggregate (the state and metadata are a's own: only the key is wrong)
      let lie = true
      const mislabelled: SnapshotStore.SnapshotStoreService = {
        ...inner,
        load: (type, id, options) =>
          Effect.map(inner.load(type, id, options), (found) => {
            const answer = lie ? Option.map(found, (s) => new Snapshot.Snapshot({ ...s, aggregateId: "b" })) : found
            lie = false
            return answer
          })
      }
      const repo = yield* EventSourcedRepository.make(Ledger, {
        strategy: SnapshotStrategy.everyNEvents(2),
        cacheMaxBytes: 0 // every load reads the snapshot store (no state remembered)
      }).pipe(
        Effect.provideService(SnapshotStore.SnapshotStore, mislabelled)
      )
      yield* repo.save("a", 0, [deposit(1), deposit(2)])
      yield* repo.save("a", 2, [deposit(3)])
      const before = yield* skipped("StreamMismatch")
      const loaded = yield* repo.load("a")
      assert.strictEqual(loaded.version, 3)
      assert.isTrue(Option.isNone(loaded.snapshotVersion))
      assert.strictEqual((yield* skipped("StreamMismatch")) - before, 1)
      // replaced: a snapshot at the stream's version, which the next load starts from
      assert.deepStrictEqual((yield* repo.load("a")).snapshotVersion, Option.some(3))
    }).pipe(Effect.provide(EventStore.layerMemory)))
})
