/**
 * Overlapping units of work on one aggregate (issue 22, item 1), the way an application runs commands:
 * `repo.update` inside `UnitOfWork.transaction`. Unit A appends, then fails 50 ms later; unit B starts once A
 * has appended (the report had 10 ms after A), on the same aggregate, and commits. On PostgreSQL B's insert
 * waits for A's uncommitted row, so B never sees A's event and A's rollback cannot touch B's. The memory layers
 * must give the same outcomes.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import type { Vitest } from "@effect/vitest"
import { assert, describe, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { account, deposit, freshId, snapshotsOf, stored } from "../../loader/test/ApplicationScenarios.js"

type Env = EventStore.EventStore | SnapshotStore.SnapshotStore | UnitOfWork.UnitOfWork

const scenarios = (it: Vitest.MethodsNonLive<Env>, prefix: string) => {
  for (const mode of ["inline", "background"] as const) {
    it.effect(`${mode}: A appends and fails 50 ms later, B (started once A has appended) commits: B is kept, A is gone`, () =>
      Effect.gen(function*() {
        const Account = account(`${prefix}Overlap${mode}`)
        const repo = yield* EventSourcedRepository.make(Account, { strategy: SnapshotStrategy.always, mode })
        const id = freshId("overlap")
        const aHasAppended = yield* Deferred.make<void>()
        const unitA = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
          yield* repo.update(id, () => Effect.succeed([deposit("A", 100)]))
          yield* Deferred.succeed(aHasAppended, undefined)
          yield* Effect.sleep("50 millis")
          return yield* Effect.fail("A fails" as const)
        })))
        // B starts once A has appended (10 ms after A in the report; the order is what matters)
        yield* Deferred.await(aHasAppended)
        const b = yield* UnitOfWork.transaction(repo.update(id, () => Effect.succeed([deposit("B", 7)])))
        const a = yield* Fiber.await(unitA)
        assert.isTrue(Exit.isFailure(a), "unit A failed")
        yield* repo.flush
        assert.deepStrictEqual(
          { balance: b.state.balance, version: b.version },
          { balance: 7, version: 1 },
          "B never saw A's uncommitted event"
        )
        assert.deepStrictEqual((yield* stored(Account.type, id)).markers, ["B"], "the stream after A's rollback")
        const fresh = yield* EventSourcedRepository.make(Account, { strategy: SnapshotStrategy.never })
        const loaded = yield* fresh.load(id)
        assert.deepStrictEqual({ balance: loaded.state.balance, version: loaded.version }, { balance: 7, version: 1 })
        assert.deepStrictEqual(
          (yield* snapshotsOf(Account.type, id)).map((s) => s.markers),
          [["B"]],
          "the snapshots after A's rollback"
        )
      }))

    it.effect(`${mode}: A appends and commits 50 ms later, B (started once A has appended) waits for A, then retries on A's event`, () =>
      Effect.gen(function*() {
        const Account = account(`${prefix}OverlapCommit${mode}`)
        const repo = yield* EventSourcedRepository.make(Account, { strategy: SnapshotStrategy.always, mode })
        const id = freshId("overlap-commit")
        const aHasAppended = yield* Deferred.make<void>()
        const unitA = yield* Effect.forkChild(UnitOfWork.transaction(Effect.gen(function*() {
          const updated = yield* repo.update(id, () => Effect.succeed([deposit("A", 100)]))
          yield* Deferred.succeed(aHasAppended, undefined)
          yield* Effect.sleep("50 millis")
          return updated
        })))
        yield* Deferred.await(aHasAppended)
        const b = yield* UnitOfWork.transaction(repo.update(id, () => Effect.succeed([deposit("B", 7)])))
        const a = yield* Fiber.join(unitA)
        yield* repo.flush
        assert.deepStrictEqual({ balance: a.state.balance, version: a.version }, { balance: 100, version: 1 })
        assert.deepStrictEqual({ balance: b.state.balance, version: b.version }, { balance: 107, version: 2 })
        assert.deepStrictEqual((yield* stored(Account.type, id)).markers, ["A", "B"])
        const fresh = yield* EventSourcedRepository.make(Account, { strategy: SnapshotStrategy.never })
        const loaded = yield* fresh.load(id)
        assert.deepStrictEqual(loaded.state.markers, ["A", "B"])
        const snapshots = yield* snapshotsOf(Account.type, id)
        assert.deepStrictEqual(snapshots.at(-1), { version: 2, markers: ["A", "B"] })
        assert.isTrue(Option.isSome(loaded.snapshotVersion) || loaded.source === "replay")
      }))
  }
}

const Quiet = Layer.succeed(References.MinimumLogLevel, "Error")

describe("overlapping units on the memory layers", () => {
  layer(
    Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory, UnitOfWork.layerMemory, Quiet),
    { excludeTestServices: true }
  )((it) => scenarios(it, "Mem"))
})

describe.skipIf(!Postgres.hasServer)("overlapping units on PostgreSQL (the expected outcomes)", () => {
  layer(
    Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer, SqlUnitOfWork.layer, Quiet).pipe(
      Layer.provideMerge(Postgres.layerTest("loader_overlapping_units", { maxConnections: 8 }))
    ),
    { timeout: 60_000, excludeTestServices: true }
  )((it) => scenarios(it, "Pg"))
})
