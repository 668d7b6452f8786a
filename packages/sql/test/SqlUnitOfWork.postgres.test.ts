/**
 * The SQL unit of work's own failures (PG_URL; skipped without it): a transaction that cannot begin, a
 * savepoint that cannot be released, and what passes through unchanged (the effect's own failures and
 * defects). The dropped-connection cases run in the loader (`test/DroppedConnection.postgres.test.ts`).
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSupport, SqlUnitOfWork } from "@effect-snapshots/sql"
import { UnitOfWork, UnitOfWorkError } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError } from "effect/sql/SqlError"

const TestLayer = Postgres.layerTest("store_sql_unit", { maxConnections: 3 })

const unitOfWorkError = (exit: Exit.Exit<unknown, unknown>): UnitOfWorkError.UnitOfWorkError => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  assert.isFalse(Cause.hasDies(exit.cause), `a defect: ${Cause.pretty(exit.cause)}`)
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" && error.value instanceof UnitOfWorkError.UnitOfWorkError
    ? error.value
    : assert.fail(`expected a UnitOfWorkError, got ${Cause.pretty(exit.cause)}`)
}

/** Releases the innermost savepoint effect/sql opened, behind its back: its own RELEASE then fails. */
const releaseBehindItsBack = Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`RELEASE SAVEPOINT effect_sql_1`))

describe.skipIf(!Postgres.hasServer)("SqlUnitOfWork's own failures (Postgres)", () => {
  layer(Layer.merge(TestLayer, SqlUnitOfWork.layer.pipe(Layer.provide(TestLayer))), {
    timeout: 60_000,
    excludeTestServices: true
  })((it) => {
    it.effect("a transaction that cannot begin (no server) is NotStarted, and the effect never ran", () =>
      Effect.gen(function*() {
        const url = new URL(process.env.PG_URL!)
        url.port = "1"
        const context = yield* Layer.build(
          PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 1, connectTimeout: "2 seconds" })
        )
        const unit = yield* Effect.provideService(
          SqlUnitOfWork.make,
          SqlClient.SqlClient,
          Context.get(context, SqlClient.SqlClient)
        )
        let ran = false
        const exit = yield* Effect.exit(unit.transaction(Effect.sync(() => void (ran = true))))
        const error = unitOfWorkError(exit)
        assert.strictEqual(error.reason, "NotStarted")
        assert.match(error.message, /could not be opened/)
        assert.isFalse(ran)
      }))

    it.effect("a nested unit whose savepoint cannot be released is RolledBack, typed, and so is the unit around it", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS unit_rows (id int)`)
        let inner: UnitOfWorkError.UnitOfWorkErrorReason | undefined
        const exit = yield* Effect.exit(UnitOfWork.transaction(Effect.gen(function*() {
          yield* sql.unsafe(`INSERT INTO unit_rows VALUES (1)`)
          const nested = yield* Effect.exit(UnitOfWork.transaction(releaseBehindItsBack))
          inner = unitOfWorkError(nested).reason
        })))
        assert.strictEqual(inner, "RolledBack")
        // The failed RELEASE aborted the whole transaction: its COMMIT rolled back, and the server says so.
        assert.strictEqual(unitOfWorkError(exit).reason, "RolledBack")
        const rows = yield* sql.unsafe(`SELECT count(*)::int FROM unit_rows`).values
        assert.strictEqual(Number(rows[0]![0]), 0)
      }))

    it.effect("SqlSupport.withSavepoint: a savepoint that cannot be released is a typed SqlError, not a defect", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        let inner: unknown
        const exit = yield* Effect.exit(sql.withTransaction(
          Effect.tap(
            Effect.flip(SqlSupport.withSavepoint(sql)(releaseBehindItsBack)),
            (error) => Effect.sync(() => void (inner = error))
          )
        ))
        assert.isTrue(isSqlError(inner))
        // The transaction around it is aborted: its COMMIT fails, typed (effect/sql's own).
        assert.isTrue(Exit.isFailure(exit) && !Cause.hasDies(exit.cause) && isSqlError(Cause.squash(exit.cause)))
      }))

    it.effect("the effect's own failures and defects pass through unchanged, and roll the unit back", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS unit_passthrough (id int)`)
        const failed = yield* Effect.exit(UnitOfWork.transaction(
          Effect.andThen(sql.unsafe(`INSERT INTO unit_passthrough VALUES (1)`), Effect.fail("mine" as const))
        ))
        assert.deepStrictEqual(failed, Exit.fail("mine"))
        // A statement the server refuses is the effect's SqlError, not the unit's.
        const refused = yield* Effect.exit(UnitOfWork.transaction(sql.unsafe(`SELECT * FROM no_such_table`)))
        assert.isTrue(Exit.isFailure(refused) && isSqlError(Cause.squash(refused.cause)))
        const died = yield* Effect.exit(UnitOfWork.transaction(
          Effect.andThen(sql.unsafe(`INSERT INTO unit_passthrough VALUES (2)`), Effect.die("bug"))
        ))
        assert.isTrue(Exit.isFailure(died) && Cause.hasDies(died.cause))
        const rows = yield* sql.unsafe(`SELECT count(*)::int FROM unit_passthrough`).values
        assert.strictEqual(Number(rows[0]![0]), 0)
      }))
  })
})
