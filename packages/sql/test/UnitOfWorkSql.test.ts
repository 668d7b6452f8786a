/**
 * UnitOfWork's SQL layer on a real server (PG_URL) or PGlite: one transaction, rolled back whole, after-commit
 * actions only once the outermost unit committed.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlUnitOfWork } from "@effect-snapshots/sql"
import { UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { SqlClient } from "effect/sql/SqlClient"
import { PatientClock } from "./utils/sqlSuite.js"

const SqlLayers = Layer.provideMerge(
  SqlUnitOfWork.layer,
  Layer.provideMerge(Postgres.layerTest("unit_of_work"), PatientClock)
)

describe("SqlUnitOfWork.layer (PG_URL, or PGlite)", () => {
  layer(SqlLayers, { timeout: 120_000 })((it) => {
    const rows = (table: string) =>
      Effect.flatMap(SqlClient, (sql) => sql.unsafe<{ v: string }>(`SELECT v FROM ${table} ORDER BY v`)).pipe(
        Effect.map((result) => result.map((row) => row.v))
      )
    const createTable = (table: string) =>
      Effect.flatMap(SqlClient, (sql) => sql.unsafe(`CREATE TABLE ${table} (v text PRIMARY KEY)`))
    const insert = (table: string, v: string) =>
      Effect.flatMap(SqlClient, (sql) => sql.unsafe(`INSERT INTO ${table} (v) VALUES ($1)`, [v]))

    it.effect("one transaction: committed whole, after-commit actions only after the commit", () =>
      Effect.gen(function*() {
        yield* createTable("uow_commit")
        const seen: Array<ReadonlyArray<string>> = []
        yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* insert("uow_commit", "a")
          const around = yield* UnitOfWork.enclosing
          assert.strictEqual(around._tag, "Unit")
          if (around._tag === "Unit") {
            // Runs outside the transaction, once it committed: it sees the row from a fresh connection.
            const sql = yield* SqlClient
            yield* around.unit.afterCommit(
              Effect.orDie(Effect.map(rows("uow_commit"), (r) => void seen.push(r))).pipe(
                Effect.provideService(SqlClient, sql)
              )
            )
          }
          yield* insert("uow_commit", "b")
        }))
        assert.deepStrictEqual(seen, [["a", "b"]])
        assert.deepStrictEqual(yield* rows("uow_commit"), ["a", "b"])
      }))

    it.effect("a failed unit rolls back every statement and runs no after-commit action", () =>
      Effect.gen(function*() {
        yield* createTable("uow_rollback")
        const notes: Array<string> = []
        const result = yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* insert("uow_rollback", "a")
          const around = yield* UnitOfWork.enclosing
          if (around._tag === "Unit") yield* around.unit.afterCommit(Effect.sync(() => void notes.push("no")))
          return yield* Effect.fail("rolled back")
        })).pipe(Effect.result)
        assert.deepStrictEqual(result, Result.fail("rolled back"))
        assert.deepStrictEqual(yield* rows("uow_rollback"), [])
        assert.deepStrictEqual(notes, [])
      }))

    it.effect("a failed nested unit rolls back to its savepoint; the outer unit goes on and commits", () =>
      Effect.gen(function*() {
        yield* createTable("uow_nested")
        yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* insert("uow_nested", "outer")
          const inner = yield* UnitOfWork.transaction(
            Effect.andThen(insert("uow_nested", "inner"), Effect.fail("inner fails"))
          ).pipe(Effect.result)
          assert.isTrue(Result.isFailure(inner))
          // A duplicate key inside a nested unit: the statement fails, the savepoint keeps the outer usable.
          const duplicate = yield* UnitOfWork.transaction(insert("uow_nested", "outer")).pipe(Effect.result)
          assert.isTrue(Result.isFailure(duplicate))
          yield* insert("uow_nested", "after")
        }))
        assert.deepStrictEqual(yield* rows("uow_nested"), ["after", "outer"])
      }))

    it.effect("inside the application's own sql.withTransaction: enclosing is Transaction, a unit is a savepoint", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        yield* createTable("uow_bare")
        const notes: Array<string> = []
        const result = yield* sql.withTransaction(Effect.gen(function*() {
          assert.strictEqual((yield* UnitOfWork.enclosing)._tag, "Transaction")
          yield* insert("uow_bare", "app")
          yield* UnitOfWork.transaction(Effect.gen(function*() {
            assert.strictEqual((yield* UnitOfWork.enclosing)._tag, "Transaction", "nothing to defer to")
            yield* insert("uow_bare", "unit")
          }))
          notes.push("in transaction")
          return yield* Effect.fail("the application rolls back")
        })).pipe(Effect.result)
        assert.isTrue(Result.isFailure(result))
        assert.deepStrictEqual(notes, ["in transaction"])
        assert.deepStrictEqual(yield* rows("uow_bare"), [])
      }))

    it.effect("a bare transaction is recognized also where the fiber's context holds no SqlClient", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        // An application service that captured its client when its layer was built: its callers' context
        // has no SqlClient, only the transaction the client opened.
        const withoutClient = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.updateContext(
            effect,
            (context: Context.Context<R>) => Context.omit(SqlClient)(context) as Context.Context<R>
          )
        assert.strictEqual((yield* withoutClient(UnitOfWork.enclosing))._tag, "None")
        const inside = yield* sql.withTransaction(withoutClient(UnitOfWork.enclosing))
        assert.strictEqual(inside._tag, "Transaction")
        // Work forked out of the transaction with its service omitted is outside it.
        const omitted = yield* sql.withTransaction(
          Effect.updateContext(
            UnitOfWork.enclosing,
            (context: Context.Context<never>) => Context.omit(sql.transactionService)(context)
          )
        )
        assert.strictEqual(omitted._tag, "None")
      }))
  })
})
