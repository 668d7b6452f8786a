/**
 * The memory EventStore inside a UnitOfWork (the memory layer): a failed unit's appends are gone from the
 * store, as a rolled-back transaction's are on SQL; a nested unit that fails undoes only its own.
 */
import { EventStore } from "@effect-snapshots/loader"
import { UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { events, freshId } from "./utils/eventStoreContract.js"

const pageSize = 4

const positions = (fromPosition = 0) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    Effect.map(
      Stream.runCollect(store.readAll({ fromPosition })),
      (read) => read.map((e) => e.position)
    ))

const versions = (type: string, id: string) =>
  Effect.flatMap(
    EventStore.EventStore,
    (store) => Effect.map(Stream.runCollect(store.read(type, id)), (read) => read.map((e) => e.version))
  )

describe("EventStore.layerMemory in a UnitOfWork", () => {
  layer(Layer.merge(EventStore.layerMemoryWith({ pageSize }), UnitOfWork.layerMemory))((it) => {
    it.effect("a failed unit's appends are gone: versions, read, readAll; positions are not reused", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const fresh = freshId("fresh")
        const existing = freshId("existing")
        const kept = yield* store.append("Order", existing, 0, events(2))
        const before = yield* positions()
        const failure = yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.append("Order", fresh, 0, events(3))
          yield* store.append("Order", existing, 2, events(2, 3))
          yield* store.append("Order", fresh, 3, events(1, 4))
          // inside the unit its own appends are visible
          assert.strictEqual(yield* store.version("Order", fresh), 4)
          return yield* Effect.fail("abort" as const)
        })).pipe(Effect.flip)
        assert.strictEqual(failure, "abort")
        assert.strictEqual(yield* store.version("Order", fresh), 0)
        assert.strictEqual(yield* store.version("Order", existing), 2)
        assert.deepStrictEqual(yield* versions("Order", fresh), [])
        assert.deepStrictEqual(yield* versions("Order", existing), [1, 2])
        assert.deepStrictEqual(yield* positions(), before)
        // the stream continues at its committed version; the undone positions stay unused
        const next = yield* store.append("Order", existing, 2, events(1, 3))
        assert.strictEqual(next.previousPosition, kept.positions[1])
        assert.strictEqual(next.positions[0], before[before.length - 1]! + 7)
        assert.deepStrictEqual(yield* positions(), [...before, next.positions[0]!])
        assert.deepStrictEqual(yield* positions(kept.positions[1]!), [next.positions[0]!])
      }))

    it.effect("after an undo readAll still emits whole pages", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const from = (yield* positions()).at(-1) ?? 0
        yield* store.append("Order", freshId("a"), 0, events(3))
        yield* Effect.flip(UnitOfWork.transaction(
          Effect.andThen(store.append("Order", freshId("b"), 0, events(2)), Effect.fail("abort"))
        ))
        yield* store.append("Order", freshId("c"), 0, events(6))
        const chunks = yield* Stream.runCollect(Stream.chunks(store.readAll({ fromPosition: from })))
        assert.deepStrictEqual(chunks.map((chunk) => chunk.length), [4, 4, 1])
      }))

    it.effect("a succeeded unit keeps its appends; a failed nested unit undoes only its own", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const outer = freshId("outer")
        const inner = freshId("inner")
        yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.append("Order", outer, 0, events(2))
          const nested = yield* UnitOfWork.transaction(
            Effect.andThen(
              Effect.andThen(
                store.append("Order", inner, 0, events(1)),
                store.append("Order", outer, 2, events(1, 3))
              ),
              Effect.fail("inner" as const)
            )
          ).pipe(Effect.flip)
          assert.strictEqual(nested, "inner")
          yield* store.append("Order", outer, 2, events(1, 30))
        }))
        assert.deepStrictEqual(yield* versions("Order", outer), [1, 2, 3])
        const [third] = yield* Stream.runCollect(store.read("Order", outer, { fromVersion: 3 }))
        assert.deepStrictEqual(third!.payload, { n: 30 })
        assert.strictEqual(yield* store.version("Order", inner), 0)
      }))

    it.effect("an append on top of a failed unit's events goes with them (it was built on them)", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const id = freshId("stacked")
        yield* store.append("Order", id, 0, events(1))
        yield* Effect.flip(UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.append("Order", id, 1, events(1, 2))
          // another fiber, outside the unit, sees the unit's event and appends on top of it
          const outside = store.append("Order", id, 2, events(1, 3)).pipe(
            Effect.updateContext((context: Context.Context<never>) => Context.omit(UnitOfWork.CurrentUnit)(context))
          )
          assert.strictEqual((yield* outside).version, 3)
          return yield* Effect.fail("abort")
        })))
        assert.deepStrictEqual(yield* versions("Order", id), [1])
        yield* store.append("Order", id, 1, events(1, 2))
        assert.deepStrictEqual(yield* versions("Order", id), [1, 2])
      }))
  })
})
