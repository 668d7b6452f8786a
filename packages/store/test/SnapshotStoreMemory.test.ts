import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const snapshot = (version: number, state: unknown = { version }) =>
  new Snapshot.Snapshot({
    aggregateType: "Order",
    aggregateId: "o-1",
    version,
    schemaVersion: 1,
    createdAt: DateTime.unsafeMake(version * 1000),
    metadata: {},
    state
  }, true)

describe("SnapshotStore.layerMemory", () => {
  it.effect("loads the newest snapshot, or the newest at or below maxVersion", () =>
    Effect.gen(function*() {
      const store = yield* SnapshotStore.SnapshotStore
      yield* store.save(snapshot(200))
      yield* store.save(snapshot(100))
      const newest = yield* store.load("Order", "o-1")
      assert.strictEqual(Option.getOrThrow(newest).version, 200)
      const atOrBelow = yield* store.load("Order", "o-1", { maxVersion: 150 })
      assert.strictEqual(Option.getOrThrow(atOrBelow).version, 100)
      assert.isTrue(Option.isNone(yield* store.load("Order", "o-1", { maxVersion: 99 })))
    }).pipe(Effect.provide(SnapshotStore.layerMemory)))

  it.effect("rejects a state that is not JSON and writes nothing", () =>
    Effect.gen(function*() {
      const store = yield* SnapshotStore.SnapshotStore
      const error = yield* Effect.flip(store.save(snapshot(1, { at: new Date(0) })))
      assert.strictEqual(error.reason, "InvalidInput")
      assert.match(error.message, /Date is not a plain object at \.at/)
      assert.deepStrictEqual(yield* store.list("Order", "o-1"), [])
    }).pipe(Effect.provide(SnapshotStore.layerMemory)))
})
