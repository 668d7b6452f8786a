/**
 * SqlEventStore on the embedded PGlite (always, with or without PG_URL): the contract plus the SQL-specific
 * behaviour that one connection can show (migrations, custom tables, joining the caller's transaction).
 */
import { BadArgument } from "@effect-snapshots/core"
import { EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore } from "@effect-snapshots/sql"
import { assert, describe, layer } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SqlClient } from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { contract, events, freshId, readAll } from "../../loader/test/utils/eventStoreContract.js"

const pageSize = 4
const database = Postgres.layerEmbedded()
const TestLayer = SqlEventStore.layerWith({ pageSize }).pipe(Layer.provideMerge(database))

const countRows = (table: string) =>
  Effect.flatMap(SqlClient, (sql) => sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`)).pipe(
    Effect.map((rows) => rows[0]!.n)
  )

const readAllOf = (
  store: EventStore.EventStoreService,
  type: string,
  id: string,
  options?: EventStore.ReadOptions
) => Effect.map(Stream.runCollect(store.read(type, id, options)), (chunk) => [...chunk])

/**
 * Runs `effect` and counts the SQL statements it executed: each is one client span (named after the database,
 * `postgres`, by Effect 4's OpenTelemetry naming), one round trip.
 */
const countStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const inner = yield* Effect.tracer
    let statements = 0
    const counting = Tracer.make({
      span: (options) => {
        if (options.kind === "client") statements++
        return inner.span(options)
      },
      context: inner.context
    })
    const result = yield* Effect.withTracer(effect, counting)
    return [result, statements] as const
  })

describe("SqlEventStore on PGlite", () => {
  layer(TestLayer, { timeout: 120_000, excludeTestServices: true })((it) => {
    contract(it, { pageSize, countEvents: countRows(SqlEventStore.defaultTable), propertyRuns: 50 })

    it.effect("creates its table and tracks its migrations in its own table, never effect_sql_migrations", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const tables = yield* sql<{ name: string }>`
          SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = current_schema() ORDER BY table_name`
        const names = tables.map((t) => t.name)
        assert.include(names, "effect_snapshots_events")
        assert.include(names, "effect_snapshots_event_migrations")
        assert.notInclude(names, "effect_sql_migrations")
        const applied = yield* sql<{ name: string }>`
          SELECT name FROM effect_snapshots_event_migrations ORDER BY migration_id`
        assert.deepStrictEqual(applied.map((m) => m.name), [
          "create_events",
          "append_function",
          "append_previous_position",
          "distribution_key"
        ])
      }))

    it.effect("building the store again is a no-op; a custom table gets its own migrations table", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        yield* SqlEventStore.make()
        yield* SqlEventStore.make()
        const custom = yield* SqlEventStore.make({ table: "custom_events", pageSize: 2 })
        const id = freshId("custom")
        yield* custom.append("Order", id, 0, events(5))
        assert.strictEqual(yield* custom.version("Order", id), 5)
        assert.deepStrictEqual(
          (yield* Stream.runCollect(custom.read("Order", id))).map((e) => e.version),
          [1, 2, 3, 4, 5]
        )
        // the default store does not see the custom table's events
        assert.strictEqual(yield* (yield* EventStore.EventStore).version("Order", id), 0)
        const [{ n }] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM custom_events_migrations`
        assert.strictEqual(n, 4)
        assert.strictEqual(yield* countRows("custom_events"), 5)
        // each table has its own append function
        const functions = yield* sql<{ name: string }>`
          SELECT proname AS name FROM pg_proc
          WHERE pronamespace = current_schema()::regnamespace AND proname LIKE '%append' ORDER BY proname`
        assert.deepStrictEqual(functions.map((f) => f.name), ["custom_events_append", "effect_snapshots_events_append"])
      }))

    it.effect("a table migrated before the append function gets it on the next start, its events untouched", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const first = yield* SqlEventStore.make({ table: "older_events" })
        const id = freshId("older")
        yield* first.append("Order", id, 0, events(3))
        // the state of a table created by a version with only the first migration
        yield* sql`DROP FUNCTION older_events_append`
        yield* sql`DELETE FROM older_events_migrations WHERE migration_id >= 2`
        const store = yield* SqlEventStore.make({ table: "older_events" })
        const [head] = yield* readAllOf(store, "Order", id, { fromVersion: 3 })
        const appended = yield* store.append("Order", id, 3, events(2, 4))
        assert.strictEqual(appended.previousPosition, head!.position)
        const stale = yield* Effect.flip(store.append("Order", id, 3, events(1)))
        assert.strictEqual(stale._tag, "ConcurrencyConflict")
        assert.deepStrictEqual(
          (yield* Stream.runCollect(store.read("Order", id))).map((e) => (e.payload as { n: number }).n),
          [1, 2, 3, 4, 5]
        )
        const [{ n }] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM older_events_migrations`
        assert.strictEqual(n, 4)
      }))

    it.effect("a table at the second migration gets the append function that answers previousPosition", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const first = yield* SqlEventStore.make({ table: "second_events" })
        const id = freshId("second")
        const written = yield* first.append("Order", id, 0, events(2))
        // the function as the second migration left it: two result columns
        yield* sql`DROP FUNCTION second_events_append`
        yield* sql.unsafe(
          `CREATE FUNCTION second_events_append(p_type text, p_id text, p_expected integer, p_batch jsonb)
RETURNS TABLE (actual integer, positions bigint[]) LANGUAGE sql AS $$ SELECT 0, NULL::bigint[] $$`
        )
        yield* sql`DELETE FROM second_events_migrations WHERE migration_id >= 3`
        const store = yield* SqlEventStore.make({ table: "second_events" })
        const appended = yield* store.append("Order", id, 2, events(1, 3))
        assert.deepStrictEqual([appended.previousVersion, appended.previousPosition], [2, written.positions[1]])
        assert.deepStrictEqual((yield* readAllOf(store, "Order", id)).map((e) => e.version), [1, 2, 3])
      }))

    it.effect("a database failure is Unavailable and carries the driver's message", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const store = yield* SqlEventStore.make({ table: "dropped_events" })
        yield* sql`DROP TABLE dropped_events`
        const failures = [
          yield* Effect.flip(store.append("Order", "x", 0, events(1))),
          yield* Effect.flip(Stream.runDrain(store.read("Order", "x"))),
          yield* Effect.flip(Stream.runDrain(store.readAll())),
          yield* Effect.flip(store.version("Order", "x"))
        ]
        for (const error of failures) {
          assert.strictEqual(error._tag, "EventStoreError")
          assert.strictEqual((error as EventStore.EventStoreError).reason, "Unavailable")
          assert.include(error.message, "does not exist")
        }
      }))

    it.effect("a bad table name or page size is a BadArgument of SqlEventStore.make, as on the snapshot store", () =>
      Effect.gen(function*() {
        for (
          const [options, option] of [
            [{ table: "x; DROP TABLE y" }, "table"],
            [{ table: "" }, "table"],
            [{ table: "a".repeat(41) }, "table"],
            [{ pageSize: 0 }, "pageSize"]
          ] as const
        ) {
          const error = yield* Effect.flip(SqlEventStore.make(options))
          assert.isTrue(BadArgument.isBadArgument(error))
          assert.match(error.message, new RegExp(`^SqlEventStore.make: ${option} must be`))
        }
      }))

    it.effect("append joins the caller's transaction: a rollback discards the events", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const store = yield* EventStore.EventStore
        const id = freshId("tx")
        const rolledBack = yield* sql.withTransaction(
          Effect.andThen(store.append("Order", id, 0, events(3)), Effect.fail("abort" as const))
        ).pipe(Effect.flip)
        assert.strictEqual(rolledBack, "abort")
        assert.strictEqual(yield* store.version("Order", id), 0)
        const result = yield* sql.withTransaction(
          Effect.gen(function*() {
            const first = yield* store.append("Order", id, 0, events(2))
            // a stale write inside the transaction is a conflict and leaves the transaction usable
            const stale = yield* Effect.flip(store.append("Order", id, 0, events(1)))
            assert.strictEqual(stale._tag, "ConcurrencyConflict")
            const second = yield* store.append("Order", id, 2, events(1, 3))
            assert.strictEqual(yield* store.version("Order", id), 3)
            return [first, second]
          })
        )
        assert.deepStrictEqual(result.map((r) => r.version), [2, 3])
        assert.deepStrictEqual((yield* readAll("Order", id)).map((e) => e.version), [1, 2, 3])
      }))

    it.effect("round trips: one statement per append, per page, and per short read", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const id = freshId("trips")
        const [, appendOne] = yield* countStatements(store.append("Order", id, 0, events(3)))
        assert.strictEqual(appendOne, 1)
        const [, stale] = yield* countStatements(Effect.flip(store.append("Order", id, 1, events(1))))
        assert.strictEqual(stale, 1, "a stale expectedVersion is answered by the same statement")
        const [short, readShort] = yield* countStatements(Stream.runCollect(store.read("Order", id)))
        assert.deepStrictEqual([short.length, readShort], [3, 1])
        const [tail, readTail] = yield* countStatements(Stream.runCollect(store.read("Order", id, { fromVersion: 2 })))
        assert.deepStrictEqual([tail.length, readTail], [2, 1])
        yield* store.append("Order", id, 3, events(7, 4))
        // 10 events in pages of 4: 4 + 4 + 2
        const [all, readAllPages] = yield* countStatements(Stream.runCollect(store.read("Order", id)))
        assert.deepStrictEqual([all.length, readAllPages], [10, 3])
        // 8 events ending at toVersion: the second full page is known to be the last
        const [upTo, readUpTo] = yield* countStatements(Stream.runCollect(store.read("Order", id, { toVersion: 8 })))
        assert.deepStrictEqual([upTo.length, readUpTo], [8, 2])
        const [, version] = yield* countStatements(store.version("Order", id))
        assert.strictEqual(version, 1)
        const [, bad] = yield* countStatements(Effect.flip(store.append("Order", id, 10, [])))
        assert.strictEqual(bad, 0, "bad input never reaches the database")
      }))

    it.effect("stores created_at as timestamptz and payloads as jsonb", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const id = freshId("cols")
        const before = Date.now() // the wall clock, as the database's now() (TestClock would say 1970)
        yield* (yield* EventStore.EventStore).append("Order", id, 0, [{ type: "A", payload: { a: [1, { b: "c" }] } }])
        const [event] = yield* readAll("Order", id)
        const skewMillis = Math.abs(DateTime.toEpochMillis(event!.createdAt) - before)
        assert.isBelow(skewMillis, 60_000)
        const [types] = yield* sql<{ payload: string; created: string; path: string }>`
          SELECT pg_typeof(payload)::text AS payload, pg_typeof(created_at)::text AS created, payload #>> '{a,1,b}' AS path
          FROM effect_snapshots_events WHERE aggregate_id = ${id}`
        assert.deepStrictEqual(types, { payload: "jsonb", created: "timestamp with time zone", path: "c" })
      }))

    it.effect("created_at reads back as its epoch milliseconds, floored, for any microsecond", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const id = freshId("created")
        const stamps = [
          ["2026-12-08T01:02:03.123000Z", Date.UTC(2026, 11, 8, 1, 2, 3, 123)],
          ["2026-12-08T01:02:03.123999Z", Date.UTC(2026, 11, 8, 1, 2, 3, 123)],
          ["2099-01-01T00:00:00.001000Z", Date.UTC(2099, 0, 1, 0, 0, 0, 1)],
          ["1969-12-31T23:59:59.999500Z", -1],
          ["1900-01-01T00:00:00.000001Z", Date.UTC(1900, 0, 1)]
        ] as const
        yield* (yield* EventStore.EventStore).append(
          "Order",
          id,
          0,
          stamps.map((_, i) => ({ type: "A", payload: { i } }))
        )
        for (const [i, [stamp]] of stamps.entries()) {
          yield* sql`UPDATE effect_snapshots_events SET created_at = ${stamp}::timestamptz
            WHERE aggregate_id = ${id} AND version = ${i + 1}`
        }
        const read = yield* readAll("Order", id)
        assert.deepStrictEqual(read.map((event) => DateTime.toEpochMillis(event.createdAt)), stamps.map(([, ms]) => ms))
      }))

    it.effect("a stream of several thousand events reads back complete with the default page size", () =>
      Effect.gen(function*() {
        const store = yield* SqlEventStore.make()
        const id = freshId("long")
        let version = 0
        for (let batch = 0; batch < 5; batch++) {
          version = (yield* store.append("Order", id, version, events(1000, version + 1))).version
        }
        const count = yield* store.read("Order", id).pipe(
          Stream.runFold(() => 0, (n, e) => {
            assert.strictEqual(e.version, n + 1)
            assert.strictEqual((e.payload as { n: number }).n, n + 1)
            return n + 1
          })
        )
        assert.strictEqual(count, 5000)
      }))
  })
})
