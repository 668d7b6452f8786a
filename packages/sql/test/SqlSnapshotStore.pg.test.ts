/**
 * SqlSnapshotStore on a real PostgreSQL server (PG_URL; CI always sets it): the contract, the SQL-specific
 * suite, and what needs several real connections (two processes starting at once).
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { SqlClient } from "effect/sql/SqlClient"
import * as String from "effect/String"
import * as TestClock from "effect/testing/TestClock"
import { freshType, make, stateOfSize } from "../../store/test/utils/contract.js"
import { PatientClock, sqlSuite } from "./utils/sqlSuite.js"

const url = process.env.PG_URL ?? ""

/** A client of its own (its own pool), as a second process would have, in the test file's schema. */
const clientIn = (schema: string, options: Partial<PgClient.PgClientConfig> = {}) => {
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return PgClient.layer({ url: Redacted.make(parsed.toString()), maxConnections: 2, ...options })
}

const currentSchema = Effect.flatMap(
  SqlClient,
  (sql) => Effect.map(sql<{ schema: string }>`SELECT current_schema() AS schema`, ([row]) => row!.schema)
)

/**
 * The test file's database again, on a client that accepts server messages up to 64 MiB: the 20 MB state's row
 * is ~24 MB, above `@effect/sql-pg`'s default `maxMessageSize` (16 MiB). An application storing such states
 * raises it the same way (or stores them compressed).
 */
const LargeMessages = Layer.unwrap(
  Effect.map(currentSchema, (schema) => clientIn(schema, { maxMessageSize: 64 * 1024 * 1024 }))
)

describe.skipIf(!Postgres.hasServer)("SqlSnapshotStore on PostgreSQL", () => {
  layer(Layer.provideMerge(Postgres.layerTest("store_sql"), PatientClock), { timeout: 120_000 })((it) => {
    it.layer(LargeMessages)("on a client with maxMessageSize 64 MiB", (it) => {
      sqlSuite(it, { large: true, manyKeys: 120, stack: true })
    })

    it.effect(
      "a snapshot larger than the client's maxMessageSize is Corrupt: not retried, the breaker stays closed",
      () =>
        Effect.gen(function*() {
          const schema = yield* currentSchema
          const small = clientIn(schema, { maxMessageSize: 256 * 1024 })
          const type = freshType("TooLarge")
          const before = yield* Metric.value(
            Metric.withAttributes(SnapshotStore.resilientFailures, { operation: "load", reason: "Corrupt" })
          )
          yield* SnapshotStore.SnapshotStore.pipe(
            Effect.flatMap((store) =>
              Effect.gen(function*() {
                // Sending a large message is fine; the row coming back is not.
                yield* store.save(
                  make({ aggregateType: type, aggregateId: "big", version: 1, state: stateOfSize(400_000) })
                )
                yield* store.save(make({ aggregateType: type, aggregateId: "small", version: 1 }))
                const error = yield* Effect.flip(store.load(type, "big"))
                assert.strictEqual(error.reason, "Corrupt")
                assert.match(error.message, /maxMessageSize/)
                // The breaker (threshold 1) did not open, and the client works again on a new connection.
                assert.strictEqual(Option.getOrThrow(yield* store.load(type, "small")).version, 1)
                assert.deepStrictEqual((yield* store.list(type, "big")).map((info) => info.version), [1])
              })
            ),
            Effect.provide(
              SqlSnapshotStore.layerWith({ table: "too_large_snapshots" }).pipe(
                SnapshotStore.resilient({ timeout: "30 seconds", circuitBreaker: { failureThreshold: 1 } }),
                Layer.provide(small)
              )
            )
          )
          const after = yield* Metric.value(
            Metric.withAttributes(SnapshotStore.resilientFailures, { operation: "load", reason: "Corrupt" })
          )
          assert.strictEqual(after.count - before.count, 1)
        }).pipe(TestClock.withLive),
      60_000
    )

    it.effect(
      "two processes starting at once both get a working store; the migration runs once",
      () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient
          const [{ schema }] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
          for (let round = 0; round < 5; round++) {
            const table = `race_${round}`
            const start = SnapshotStore.SnapshotStore.pipe(
              Effect.flatMap((store) => store.load("T", "a")),
              Effect.provide(SqlSnapshotStore.layerWith({ table }).pipe(Layer.provide(clientIn(schema!))))
            )
            const results = yield* Effect.all([start, start, start, start], { concurrency: "unbounded" })
            assert.isTrue(results.every(Option.isNone))
            const migrations = yield* sql.unsafe<{ migration_id: number }>(
              `SELECT migration_id FROM ${table}_migrations`
            )
            assert.deepStrictEqual(migrations.map((m) => m.migration_id), [1, 2, 3])
          }
        }).pipe(TestClock.withLive),
      60_000
    )

    it.effect(
      "saveIfDue inside a transaction holds the aggregate's lock until the end: another caller waits, then is covered (or writes after a rollback)",
      () =>
        Effect.gen(function*() {
          const schema = yield* currentSchema
          const [app, other] = yield* Effect.all([
            Layer.build(SqlSnapshotStore.layerWith({ table: "due_in_tx" }).pipe(Layer.provideMerge(clientIn(schema)))),
            Layer.build(SqlSnapshotStore.layerWith({ table: "due_in_tx" }).pipe(Layer.provide(clientIn(schema))))
          ])
          const sql = Context.get(app, SqlClient)
          const inTransaction = Context.get(app, SnapshotStore.SnapshotStore)
          const outside = Context.get(other, SnapshotStore.SnapshotStore)
          for (const outcome of ["commit", "rollback"] as const) {
            const type = freshType(`DueInTx-${outcome}`)
            const entered = yield* Deferred.make<void>()
            const release = yield* Deferred.make<void>()
            const unit = sql.withTransaction(Effect.gen(function*() {
              const written = yield* inTransaction.saveIfDue(
                make({ aggregateType: type, aggregateId: "a", version: 100 }),
                {
                  dueFrom: 100
                }
              )
              yield* Deferred.succeed(entered, undefined)
              yield* Deferred.await(release)
              if (outcome === "rollback") return yield* Effect.fail("rolled back" as const)
              return written
            }))
            const unitFiber = yield* Effect.forkChild(Effect.result(unit))
            yield* Deferred.await(entered)
            const competing = yield* Effect.forkChild(
              outside.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 101 }), { dueFrom: 100 })
            )
            // The competing call waits on the lock while the transaction is open (its row is not visible yet).
            yield* Effect.sleep("300 millis")
            assert.isUndefined(competing.pollUnsafe(), "the competing saveIfDue did not wait for the transaction")
            yield* Deferred.succeed(release, undefined)
            yield* Fiber.join(unitFiber)
            const answer = yield* Fiber.join(competing)
            const versions = (yield* outside.list(type, "a")).map((info) => info.version)
            if (outcome === "commit") {
              assert.strictEqual(answer, "AlreadyCovered")
              assert.deepStrictEqual(versions, [100])
            } else {
              assert.strictEqual(answer, "Written")
              assert.deepStrictEqual(versions, [101])
            }
          }
        }).pipe(Effect.scoped, TestClock.withLive),
      60_000
    )

    it.effect("works on a client with name transforms (queries run without them)", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const [{ schema }] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
        const transformed = clientIn(schema!, {
          transformQueryNames: String.camelToSnake,
          transformResultNames: String.snakeToCamel
        })
        // Built twice, as a restarted process would: the migrations are found the second time.
        yield* Layer.build(SqlSnapshotStore.layerWith({ table: "camelCaseSnapshots" }).pipe(Layer.provide(transformed)))
          .pipe(Effect.scoped)
        const loaded = yield* SnapshotStore.SnapshotStore.pipe(
          Effect.flatMap((store) =>
            Effect.andThen(
              store.save(make({ aggregateType: "Camel", aggregateId: "a", version: 3, metadata: { someKey: 1 } })),
              store.load("Camel", "a")
            )
          ),
          Effect.provide(SqlSnapshotStore.layerWith({ table: "camelCaseSnapshots" }).pipe(Layer.provide(transformed)))
        )
        const snapshot = Option.getOrThrow(loaded)
        assert.strictEqual(snapshot.version, 3)
        assert.deepStrictEqual(snapshot.metadata, { someKey: 1 })
      }).pipe(TestClock.withLive))
  })
})
