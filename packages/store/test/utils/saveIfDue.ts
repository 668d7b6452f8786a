/**
 * `saveIfDue` on a store built by `SnapshotStoreBackend.make`: the write happens unless the aggregate already has
 * a snapshot with a version >= dueFrom, decided atomically by the store.
 */
import type { SnapshotStoreService } from "@effect-snapshots/store/SnapshotStore"
import type { Vitest } from "@effect/vitest"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { freshType, make } from "./contract.js"

export const saveIfDueSuite = <R>(
  it: Vitest.MethodsNonLive<R>,
  store: Effect.Effect<SnapshotStoreService, never, R>
) => {
  it.effect("saveIfDue writes unless a snapshot at or above dueFrom is there", () =>
    Effect.gen(function*() {
      const snapshots = yield* store
      const type = freshType("Due")
      const snapshot = (version: number) => make({ aggregateType: type, aggregateId: "a", version })
      assert.strictEqual(yield* snapshots.saveIfDue(snapshot(10), { dueFrom: 10 }), "Written")
      // Covered by 10 itself: nothing new.
      assert.strictEqual(yield* snapshots.saveIfDue(snapshot(12), { dueFrom: 10 }), "AlreadyCovered")
      assert.strictEqual(yield* snapshots.saveIfDue(snapshot(20), { dueFrom: 11 }), "Written")
      // An older version is covered by the newer one.
      assert.strictEqual(yield* snapshots.saveIfDue(snapshot(15), { dueFrom: 15 }), "AlreadyCovered")
      assert.deepStrictEqual((yield* snapshots.list(type, "a")).map((info) => info.version), [10, 20])
      assert.strictEqual(Option.getOrThrow(yield* snapshots.load(type, "a")).version, 20)
      // Another aggregate is not covered by this one's snapshots.
      assert.strictEqual(
        yield* snapshots.saveIfDue(make({ aggregateType: type, aggregateId: "b", version: 3 }), { dueFrom: 1 }),
        "Written"
      )
      const error = yield* Effect.flip(snapshots.saveIfDue(snapshot(30), { dueFrom: -1 }))
      assert.strictEqual(error.reason, "InvalidInput")
      const bad = yield* Effect.flip(snapshots.saveIfDue(make({ aggregateType: type, aggregateId: "", version: 1 }), {
        dueFrom: 1
      }))
      assert.strictEqual(bad.reason, "InvalidInput")
    }))

  it.effect("saveIfDue is atomic: of 20 concurrent writers due from the same version, one writes", () =>
    Effect.gen(function*() {
      const snapshots = yield* store
      const type = freshType("DueRace")
      const results = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => 50 + i),
        (version) => snapshots.saveIfDue(make({ aggregateType: type, aggregateId: "a", version }), { dueFrom: 50 }),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter((result) => result === "Written").length, 1)
      assert.strictEqual((yield* snapshots.list(type, "a")).length, 1)
    }))
}
