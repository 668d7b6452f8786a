/**
 * The memory EventStore inside a UnitOfWork (the memory layer): a failed unit's appends are gone from the
 * store, as a rolled-back transaction's are on SQL; a nested unit that fails undoes only its own; a unit's
 * appends are its own until it commits, another writer to its stream waits for it (SQL's row lock), and two
 * units waiting on each other end in a typed deadlock for one of them.
 */
import { EventStore } from "@effect-snapshots/loader"
import { UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
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

const payloads = (type: string, id: string) =>
  Effect.flatMap(
    EventStore.EventStore,
    (store) =>
      Effect.map(Stream.runCollect(store.read(type, id)), (read) => read.map((e) => (e.payload as { n: number }).n))
  )

/** `effect` as another request runs it: outside the unit of the fiber that runs it. */
const outsideUnits = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.updateContext(
    effect,
    (context: Context.Context<R>) => Context.omit(UnitOfWork.CurrentUnit)(context) as Context.Context<R>
  )

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

    for (const outcome of ["rolled back", "committed"] as const) {
      it.effect(`another fiber's append to the unit's stream waits for the unit, then meets its outcome: ${outcome}`, () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const id = freshId("waits")
          yield* store.append("Order", id, 0, events(1))
          const unitHasAppended = yield* Deferred.make<void>()
          const unitMayEnd = yield* Deferred.make<void>()
          const unit = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
            yield* store.append("Order", id, 1, events(1, 2))
            yield* Deferred.succeed(unitHasAppended, undefined)
            yield* Deferred.await(unitMayEnd)
            if (outcome === "rolled back") yield* Effect.fail("abort" as const)
          })))
          yield* Deferred.await(unitHasAppended)
          // another request sees version 1 and appends there
          const outside = yield* Effect.forkChild(
            Effect.flatMap(store.version("Order", id), (seen) => store.append("Order", id, seen, events(1, 3)))
          )
          for (let i = 0; i < 20; i++) yield* Effect.yieldNow
          assert.isUndefined(outside.pollUnsafe(), "the outside append waits for the unit")
          yield* Deferred.succeed(unitMayEnd, undefined)
          yield* Fiber.await(unit)
          if (outcome === "committed") {
            const conflict = yield* Effect.flip(Fiber.join(outside))
            assert.deepStrictEqual(
              conflict,
              new EventStore.ConcurrencyConflict({
                aggregateType: "Order",
                aggregateId: id,
                expectedVersion: 1,
                actualVersion: 2
              })
            )
            assert.deepStrictEqual(yield* payloads("Order", id), [1, 2])
          } else {
            // the rolled-back unit's event is gone, the waiting append went on at version 1
            assert.strictEqual((yield* Fiber.join(outside)).version, 2)
            assert.deepStrictEqual(yield* payloads("Order", id), [1, 3])
          }
        }))
    }

    it.effect("a unit's appends are its own until it commits: read, version, streams, readAll", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const id = freshId("private")
        const later = freshId("later")
        const from = (yield* positions()).at(-1) ?? 0
        const outside = outsideUnits
        const listed = (fromOutside: boolean) =>
          Effect.map(
            (fromOutside ? outside : <A, E>(effect: Effect.Effect<A, E>) => effect)(
              Stream.runCollect(store.streams({ aggregateType: "Private" }))
            ),
            (infos) => infos.map((info) => [info.aggregateId, info.version])
          )
        yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.append("Private", id, 0, events(2))
          // committed meanwhile by another request: after the unit's events in position order
          yield* outside(store.append("Order", later, 0, events(1)))
          assert.strictEqual(yield* store.version("Private", id), 2)
          assert.strictEqual(yield* outside(store.version("Private", id)), 0)
          assert.deepStrictEqual(yield* outside(versions("Private", id)), [])
          assert.deepStrictEqual(yield* listed(false), [[id, 2]])
          assert.deepStrictEqual(yield* listed(true), [])
          // readAll stops before the open unit's first event for everyone else, the unit reads its own
          assert.deepStrictEqual(yield* outside(positions(from)), [])
          // the unit reads its own events and what others committed
          assert.deepStrictEqual((yield* positions(from)).length, 3)
        }))
        assert.deepStrictEqual(yield* versions("Private", id), [1, 2])
        assert.deepStrictEqual((yield* positions(from)).length, 3)
      }))

    it.effect("two units waiting on each other: the one that closes the cycle fails (Deadlock), the other goes on", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const x = freshId("x")
        const y = freshId("y")
        const aHoldsX = yield* Deferred.make<void>()
        const bHoldsY = yield* Deferred.make<void>()
        const unitA = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.append("Order", x, 0, events(1))
          yield* Deferred.succeed(aHoldsX, undefined)
          yield* Deferred.await(bHoldsY)
          return yield* store.append("Order", y, 0, events(1, 2)) // waits for B
        })))
        const failure = yield* Effect.flip(UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.append("Order", y, 0, events(1, 3))
          yield* Deferred.succeed(bHoldsY, undefined)
          yield* Deferred.await(aHoldsX)
          for (let i = 0; i < 20; i++) yield* Effect.yieldNow // A is waiting for B by now
          return yield* store.append("Order", x, 0, events(1, 4)) // would wait for A: a cycle
        })))
        assert.instanceOf(failure, EventStore.EventStoreError)
        assert.strictEqual(failure.reason, "Unavailable")
        assert.instanceOf(failure.cause, UnitOfWork.Deadlock)
        // B rolled back: A's wait ends and its append goes through
        assert.strictEqual((yield* Fiber.join(unitA)).version, 1)
        assert.deepStrictEqual(yield* payloads("Order", x), [1])
        assert.deepStrictEqual(yield* payloads("Order", y), [2])
      }))
  })
})
