/**
 * UnitOfWork: the memory layer's semantics (undo on failure, after-commit on success, nested units as
 * savepoints). The SQL layer's: packages/sql/test/UnitOfWorkSql.test.ts.
 */
import { UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

/** A memory "store" that registers the undo of its writes with the enclosing unit, as the memory stores do. */
const makeLog = () => {
  const rows: Array<string> = []
  const write = (row: string) =>
    Effect.flatMap(UnitOfWork.enclosing, (around) => {
      rows.push(row)
      return around._tag === "Unit"
        ? around.unit.onRollback(Effect.sync(() => void rows.splice(rows.lastIndexOf(row), 1)))
        : Effect.void
    })
  const afterCommit = (note: string, notes: Array<string>) =>
    Effect.flatMap(UnitOfWork.enclosing, (around) =>
      around._tag === "Unit"
        ? around.unit.afterCommit(Effect.sync(() => void notes.push(note)))
        : Effect.sync(() => void notes.push(`${note} (now)`)))
  return { rows, write, afterCommit }
}

/** The unit the fiber runs in (the tests below run in one). */
const currentUnit = Effect.flatMap(
  UnitOfWork.enclosing,
  (around) => around._tag === "Unit" ? Effect.succeed(around.unit) : Effect.die("not in a unit")
)

describe("UnitOfWork.layerMemory", () => {
  it.effect("a unit that succeeds keeps its writes and then runs its after-commit actions in order", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const notes: Array<string> = []
      const result = yield* UnitOfWork.transaction(Effect.gen(function*() {
        yield* log.write("a")
        yield* log.afterCommit("first", notes)
        yield* log.write("b")
        yield* log.afterCommit("second", notes)
        assert.deepStrictEqual(notes, [], "nothing runs before the unit ends")
        return 42
      }))
      assert.strictEqual(result, 42)
      assert.deepStrictEqual(log.rows, ["a", "b"])
      assert.deepStrictEqual(notes, ["first", "second"])
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("a unit that fails undoes its writes, newest first, and drops its after-commit actions", () =>
    Effect.gen(function*() {
      const log = makeLog()
      log.rows.push("before")
      const notes: Array<string> = []
      const order: Array<string> = []
      const result = yield* UnitOfWork.transaction(Effect.gen(function*() {
        yield* log.write("a")
        const around = yield* UnitOfWork.enclosing
        if (around._tag === "Unit") {
          yield* around.unit.onRollback(Effect.sync(() => void order.push("undo 1")))
          yield* around.unit.onRollback(Effect.sync(() => void order.push("undo 2")))
        }
        yield* log.afterCommit("never", notes)
        return yield* Effect.fail("boom" as const)
      })).pipe(Effect.result)
      assert.deepStrictEqual(result, Result.fail("boom"))
      assert.deepStrictEqual(log.rows, ["before"])
      assert.deepStrictEqual(order, ["undo 2", "undo 1"])
      assert.deepStrictEqual(notes, [])
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("a defect or an interruption rolls back too", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const died = yield* UnitOfWork.transaction(Effect.andThen(log.write("x"), Effect.die("bug"))).pipe(
        Effect.exit
      )
      assert.isTrue(died._tag === "Failure")
      const interrupted = yield* UnitOfWork.transaction(Effect.andThen(log.write("y"), Effect.interrupt)).pipe(
        Effect.exit
      )
      assert.isTrue(interrupted._tag === "Failure")
      assert.deepStrictEqual(log.rows, [])
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("a transaction's end: after the undo actions on rollback, before the after-commit actions on commit; nested units share it", () =>
    Effect.gen(function*() {
      for (const fails of [false, true]) {
        const order: Array<string> = []
        let ended: Effect.Effect<UnitOfWork.Outcome> = Effect.succeed("Committed")
        const exit = yield* Effect.exit(UnitOfWork.transaction(Effect.gen(function*() {
          const outer = yield* currentUnit
          ended = outer.transaction.ended
          yield* outer.transaction.onEnd((outcome) => Effect.sync(() => void order.push(`end ${outcome}`)))
          yield* outer.onRollback(Effect.sync(() => void order.push("undo")))
          yield* outer.afterCommit(Effect.sync(() => void order.push("after commit")))
          yield* UnitOfWork.transaction(Effect.gen(function*() {
            const inner = yield* currentUnit
            assert.strictEqual(inner.transaction, outer.transaction, "a nested unit belongs to the outer transaction")
            yield* inner.transaction.onEnd(() => Effect.sync(() => void order.push("end (from the nested unit)")))
          }))
          assert.deepStrictEqual(order, [], "nothing ends with the nested unit")
          if (fails) yield* Effect.fail("boom" as const)
        })))
        assert.strictEqual(exit._tag, fails ? "Failure" : "Success")
        assert.deepStrictEqual(
          order,
          fails
            ? ["undo", "end RolledBack", "end (from the nested unit)"]
            : ["end Committed", "end (from the nested unit)", "after commit"]
        )
        assert.strictEqual(yield* ended, fails ? "RolledBack" : "Committed")
      }
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("awaitEnd: waits for the holder's end; a wait that would close a cycle fails with Deadlock at once", () =>
    Effect.gen(function*() {
      const holderStarted = yield* Deferred.make<UnitOfWork.Transaction>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
        const unit = yield* currentUnit
        yield* Deferred.succeed(holderStarted, unit.transaction)
        yield* Deferred.await(release)
      })))
      const held = yield* Deferred.await(holderStarted)
      const outcome = yield* UnitOfWork.transaction(Effect.gen(function*() {
        const me = (yield* currentUnit).transaction
        // the holder now waits for this unit, which waits for the holder: refused at once
        const holderWaits = yield* Effect.forkChild(UnitOfWork.awaitEnd(me, Option.some(held)))
        yield* Effect.yieldNow
        const cycle = yield* Effect.flip(UnitOfWork.awaitEnd(held, Option.some(me)))
        assert.instanceOf(cycle, UnitOfWork.Deadlock)
        yield* Fiber.interrupt(holderWaits)
        // without the cycle, the wait ends with the holder's outcome
        const waiting = yield* Effect.forkChild(UnitOfWork.awaitEnd(held, Option.some(me)))
        yield* Deferred.succeed(release, undefined)
        return yield* Fiber.join(waiting)
      }))
      assert.strictEqual(outcome, "Committed")
      yield* Fiber.join(holder)
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("awaitEnd: a cycle through any of a transaction's waiting fibers, and through a third transaction, is a Deadlock", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      /** An open unit's transaction, held open until `release`. */
      const openUnit = Effect.gen(function*() {
        const started = yield* Deferred.make<UnitOfWork.Transaction>()
        const fiber = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
          yield* Deferred.succeed(started, (yield* currentUnit).transaction)
          yield* Deferred.await(release)
        })))
        return [yield* Deferred.await(started), fiber] as const
      })
      const [t1, f1] = yield* openUnit
      const [t2, f2] = yield* openUnit
      const [t3, f3] = yield* openUnit
      // two fibers of t1 wait: the first for t3, the second for t2
      const w1 = yield* Effect.forkChild(UnitOfWork.awaitEnd(t3, Option.some(t1)))
      const w2 = yield* Effect.forkChild(UnitOfWork.awaitEnd(t2, Option.some(t1)))
      yield* Effect.yieldNow
      assert.instanceOf(yield* Effect.flip(UnitOfWork.awaitEnd(t1, Option.some(t3))), UnitOfWork.Deadlock)
      assert.instanceOf(yield* Effect.flip(UnitOfWork.awaitEnd(t1, Option.some(t2))), UnitOfWork.Deadlock)
      // t3 waits for t2 (no cycle: t2 waits for nobody); then t2 waiting for t3 would close t2 -> t3 -> t2
      const w3 = yield* Effect.forkChild(UnitOfWork.awaitEnd(t2, Option.some(t3)))
      yield* Effect.yieldNow
      assert.instanceOf(yield* Effect.flip(UnitOfWork.awaitEnd(t3, Option.some(t2))), UnitOfWork.Deadlock)
      yield* Deferred.succeed(release, undefined)
      assert.deepStrictEqual(yield* Effect.all([Fiber.join(w1), Fiber.join(w2), Fiber.join(w3)]), [
        "Committed",
        "Committed",
        "Committed"
      ])
      yield* Effect.all([Fiber.join(f1), Fiber.join(f2), Fiber.join(f3)])
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("nested units are savepoints: a failed inner unit undoes only its own writes", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const notes: Array<string> = []
      yield* UnitOfWork.transaction(Effect.gen(function*() {
        yield* log.write("outer")
        yield* log.afterCommit("outer", notes)
        const inner = yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* log.write("inner-failed")
          yield* log.afterCommit("inner-failed", notes)
          return yield* Effect.fail("no")
        })).pipe(Effect.result)
        assert.isTrue(Result.isFailure(inner))
        yield* UnitOfWork.transaction(Effect.andThen(log.write("inner-ok"), log.afterCommit("inner-ok", notes)))
        assert.deepStrictEqual(notes, [], "a nested unit's after-commit waits for the outermost unit")
      }))
      assert.deepStrictEqual(log.rows, ["outer", "inner-ok"])
      assert.deepStrictEqual(notes, ["outer", "inner-ok"])
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("a succeeded inner unit's writes are undone when the outer unit fails", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const notes: Array<string> = []
      const result = yield* UnitOfWork.transaction(Effect.gen(function*() {
        yield* UnitOfWork.transaction(Effect.andThen(log.write("inner"), log.afterCommit("inner", notes)))
        return yield* Effect.fail("outer fails")
      })).pipe(Effect.result)
      assert.isTrue(Result.isFailure(result))
      assert.deepStrictEqual(log.rows, [])
      assert.deepStrictEqual(notes, [])
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("a failing after-commit action is logged, does not fail the unit, and the next ones still run", () =>
    Effect.gen(function*() {
      const notes: Array<string> = []
      const result = yield* UnitOfWork.transaction(Effect.gen(function*() {
        const around = yield* UnitOfWork.enclosing
        assert.strictEqual(around._tag, "Unit")
        if (around._tag === "Unit") {
          yield* around.unit.afterCommit(Effect.die("broken action"))
          yield* around.unit.afterCommit(Effect.sync(() => void notes.push("still runs")))
        }
        return "ok"
      }))
      assert.strictEqual(result, "ok")
      assert.deepStrictEqual(notes, ["still runs"])
    }).pipe(Effect.provide(UnitOfWork.layerMemory)))

  it.effect("outside a unit, enclosing is None", () =>
    Effect.map(UnitOfWork.enclosing, (around) => assert.strictEqual(around._tag, "None")))
})
