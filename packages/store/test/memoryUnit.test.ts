/**
 * The memory SnapshotStore inside a unit of work: a failed unit's writes (save, delete, prune) are undone, a
 * failed nested unit undoes only its own, a committed one keeps them; until the unit commits its writes are
 * its own (other fibers see the committed snapshots); outside a unit nothing changes.
 */
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { freshType, make } from "./utils/contract.js"

const Env = Layer.merge(SnapshotStore.layerMemory, UnitOfWork.layerMemory)

/** Every aggregate's versions of one type, as a comparable picture of the store. */
const picture = (type: string, ids: ReadonlyArray<string>) =>
  Effect.flatMap(
    SnapshotStore.SnapshotStore,
    (store) =>
      Effect.forEach(ids, (id) => Effect.map(store.list(type, id), (infos) => [id, infos.map((i) => i.version)]))
  )

describe("memory SnapshotStore in a unit of work", () => {
  layer(Env)((it) => {
    it.effect("saveIfDue in a unit is decided again at the commit: a due point another writer served meanwhile stays one snapshot", () =>
      Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const type = freshType("Due")
        const inUnit = yield* Deferred.make<void>()
        const outsideDone = yield* Deferred.make<void>()
        const unit = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
          assert.strictEqual(
            yield* store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 5 }), { dueFrom: 1 }),
            "Written"
          )
          yield* Deferred.succeed(inUnit, undefined)
          yield* Deferred.await(outsideDone)
        })))
        yield* Deferred.await(inUnit)
        // Outside the unit its pending snapshot is invisible, so this writer serves the due point too.
        const outside = yield* store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 6 }), {
          dueFrom: 1
        })
        assert.strictEqual(outside, "Written")
        yield* Deferred.succeed(outsideDone, undefined)
        yield* Fiber.join(unit)
        const versions = (yield* store.list(type, "a")).map((info) => info.version)
        assert.deepStrictEqual(versions, [6])
      }))

    it.effect("a failed unit undoes its saves, deletes and prunes", () =>
      Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const type = freshType("Undo")
        for (const [id, version] of [["a", 1], ["a", 2], ["a", 3], ["b", 1], ["c", 5]] as const) {
          yield* store.save(make({ aggregateType: type, aggregateId: id, version }))
        }
        const before = yield* picture(type, ["a", "b", "c", "d"])
        const stateOfA2 = Option.getOrThrow(yield* store.load(type, "a", { maxVersion: 2 })).state

        const result = yield* Effect.result(UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 4 }))
          yield* store.save(make({ aggregateType: type, aggregateId: "d", version: 1 }))
          // An existing version: a no-op, and its "undo" must not remove the stored one.
          yield* store.save(make({ aggregateType: type, aggregateId: "b", version: 1, state: "other" }))
          assert.strictEqual(yield* store.delete(type, "a", { version: 2 }), 1)
          assert.strictEqual(yield* store.delete(type, "c"), 1)
          assert.strictEqual((yield* store.prune({ keepLast: 1, aggregateType: type })).deleted, 2)
          // The unit sees its own writes.
          assert.deepStrictEqual(yield* picture(type, ["a", "b", "c", "d"]), [["a", [4]], ["b", [1]], ["c", []], ["d", [
            1
          ]]])
          return yield* Effect.fail("rolled back" as const)
        })))
        assert.deepStrictEqual(result._tag, "Failure")
        assert.deepStrictEqual(yield* picture(type, ["a", "b", "c", "d"]), before)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.load(type, "a", { maxVersion: 2 })).state, stateOfA2)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.load(type, "b")).state, { version: 1 })
      }))

    it.effect("a committed unit keeps its writes; a failed nested unit undoes only its own", () =>
      Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const type = freshType("Nested")
        yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
          const inner = yield* Effect.result(UnitOfWork.transaction(Effect.andThen(
            store.save(make({ aggregateType: type, aggregateId: "a", version: 2 })),
            Effect.fail("inner fails" as const)
          )))
          assert.strictEqual(inner._tag, "Failure")
          yield* UnitOfWork.transaction(store.save(make({ aggregateType: type, aggregateId: "a", version: 3 })))
        }))
        assert.deepStrictEqual(yield* picture(type, ["a"]), [["a", [1, 3]]])
      }))

    it.effect("an outer failure undoes what a succeeded nested unit wrote", () =>
      Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const type = freshType("Outer")
        yield* Effect.result(UnitOfWork.transaction(Effect.andThen(
          UnitOfWork.transaction(store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))),
          Effect.fail("outer fails" as const)
        )))
        assert.deepStrictEqual(yield* picture(type, ["a"]), [["a", []]])
      }))

    it.effect("the undo of a save leaves another writer's snapshot of the same aggregate alone", () =>
      Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const type = freshType("Other")
        // Another request, outside the unit, writes while the unit runs.
        const go = yield* Deferred.make<void>()
        const other = yield* Effect.forkChild(
          Effect.andThen(Deferred.await(go), store.save(make({ aggregateType: type, aggregateId: "a", version: 2 })))
        )
        yield* Effect.result(UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
          yield* Deferred.succeed(go, undefined)
          yield* Fiber.join(other)
          return yield* Effect.fail("rolled back" as const)
        })))
        assert.deepStrictEqual(yield* picture(type, ["a"]), [["a", [2]]])
      }))

    for (const outcome of ["commits", "rolls back"] as const) {
      it.effect(`a unit's saves and deletes are its own until it commits (read committed): the unit ${outcome}`, () =>
        Effect.gen(function*() {
          const store = yield* SnapshotStore.SnapshotStore
          const type = freshType("Private")
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
          const unitHasWritten = yield* Deferred.make<void>()
          const unitMayEnd = yield* Deferred.make<void>()
          const unit = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
            yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 2 }))
            yield* store.save(make({ aggregateType: type, aggregateId: "b", version: 1 }))
            assert.strictEqual(yield* store.delete(type, "a", { version: 1 }), 1)
            assert.deepStrictEqual(yield* picture(type, ["a", "b"]), [["a", [2]], ["b", [1]]])
            yield* Deferred.succeed(unitHasWritten, undefined)
            yield* Deferred.await(unitMayEnd)
            // what another request committed meanwhile is seen too
            assert.deepStrictEqual(yield* picture(type, ["c"]), [["c", [1]]])
            if (outcome === "rolls back") yield* Effect.fail("rolled back" as const)
          })))
          yield* Deferred.await(unitHasWritten)
          // another request: nothing of the open unit
          assert.deepStrictEqual(yield* picture(type, ["a", "b"]), [["a", [1]], ["b", []]])
          assert.strictEqual(Option.getOrThrow(yield* store.load(type, "a")).version, 1)
          assert.strictEqual(Option.getOrThrow(yield* store.latestForType(type)).aggregateId, "a")
          yield* store.save(make({ aggregateType: type, aggregateId: "c", version: 1 }))
          yield* Deferred.succeed(unitMayEnd, undefined)
          yield* Fiber.await(unit)
          assert.deepStrictEqual(
            yield* picture(type, ["a", "b", "c"]),
            outcome === "commits"
              ? [["a", [2]], ["b", [1]], ["c", [1]]]
              : [["a", [1]], ["b", []], ["c", [1]]]
          )
        }))
    }

    it.effect("outside a unit, writes are kept (nothing to undo)", () =>
      Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const type = freshType("Plain")
        yield* Effect.result(Effect.andThen(
          store.save(make({ aggregateType: type, aggregateId: "a", version: 1 })),
          Effect.fail("no unit" as const)
        ))
        assert.deepStrictEqual(yield* picture(type, ["a"]), [["a", [1]]])
      }))
  })
})
