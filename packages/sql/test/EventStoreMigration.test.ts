/**
 * A table in the layout of the first three migrations (position as the primary key, default collation), as a
 * store of the previous release left it, opened by this one: migration 0004 gives it the distribution key
 * and keeps its events, positions, append function and plans. On PG_URL when set, otherwise on PGlite.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore } from "@effect-snapshots/sql"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { events, freshId } from "../../loader/test/utils/eventStoreContract.js"

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) => Stream.runCollect(stream)

/** Takes a table back to what migrations 0001-0003 created, and forgets migration 0004. */
const toPreviousLayout = (table: string) =>
  Effect.flatMap(SqlClient, (sql) =>
    Effect.all([
      sql.unsafe(`ALTER TABLE "${table}"
  DROP CONSTRAINT "${table}_stream_key",
  ALTER COLUMN aggregate_type TYPE text COLLATE "default",
  ALTER COLUMN aggregate_id TYPE text COLLATE "default",
  ADD CONSTRAINT "${table}_pkey" PRIMARY KEY (position),
  ADD CONSTRAINT "${table}_stream_key" UNIQUE (aggregate_type, aggregate_id, version)`),
      sql.unsafe(`DROP INDEX "${table}_position_idx"`),
      sql.unsafe(`DELETE FROM "${table}_migrations" WHERE migration_id >= 4`)
    ], { discard: true }))

interface Layout {
  readonly primaryKey: string
  readonly unique: ReadonlyArray<string>
  readonly collations: ReadonlyArray<string>
  readonly indexes: ReadonlyArray<string>
}

const layoutOf = (table: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const constraints = yield* sql<{ name: string; kind: string; definition: string }>`
      SELECT conname AS name, contype::text AS kind, pg_get_constraintdef(oid) AS definition FROM pg_constraint
      WHERE conrelid = ${`"${table}"`}::regclass AND contype IN ('p', 'u') ORDER BY conname`
    const collations = yield* sql<{ column: string; collation: string }>`
      SELECT a.attname AS column, COALESCE(c.collname, '') AS collation FROM pg_attribute a
      LEFT JOIN pg_collation c ON c.oid = a.attcollation
      WHERE a.attrelid = ${`"${table}"`}::regclass AND a.attname IN ('aggregate_type', 'aggregate_id')
      ORDER BY a.attname`
    const indexes = yield* sql<{ name: string }>`
      SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ${table}
      ORDER BY indexname`
    const primary = constraints.find((c) => c.kind === "p")
    return {
      primaryKey: primary === undefined ? "" : `${primary.name} ${primary.definition}`,
      unique: constraints.filter((c) => c.kind === "u").map((c) => `${c.name} ${c.definition}`),
      collations: collations.map((c) => `${c.column} ${c.collation}`),
      indexes: indexes.map((i) => i.name)
    } satisfies Layout
  })

describe("SqlEventStore: a table of the previous layout", () => {
  layer(Postgres.layerTest("event_store_migration"), { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("is migrated on the next start: stream key as primary key, collation C, position indexed, events kept", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const table = "previous_events"
        const first = yield* SqlEventStore.make({ table })
        const ids = [freshId("previous"), freshId("previous"), freshId("previous")]
        const written: Array<number> = []
        for (const [i, id] of ids.entries()) {
          written.push(...(yield* first.append("Order", id, 0, events(2 + i))).positions)
        }
        yield* toPreviousLayout(table)
        assert.deepStrictEqual(yield* layoutOf(table), {
          primaryKey: `${table}_pkey PRIMARY KEY ("position")`,
          unique: [`${table}_stream_key UNIQUE (aggregate_type, aggregate_id, version)`],
          collations: ["aggregate_id default", "aggregate_type default"],
          indexes: [`${table}_order_idx`, `${table}_pkey`, `${table}_stream_key`]
        })

        const store = yield* SqlEventStore.make({ table })
        assert.deepStrictEqual(yield* layoutOf(table), {
          primaryKey: `${table}_stream_key PRIMARY KEY (aggregate_type, aggregate_id, version)`,
          unique: [],
          collations: ["aggregate_id C", "aggregate_type C"],
          indexes: [`${table}_order_idx`, `${table}_position_idx`, `${table}_stream_key`]
        })
        const applied = yield* sql.unsafe<{ name: string }>(
          `SELECT name FROM "${table}_migrations" ORDER BY migration_id`
        )
        assert.deepStrictEqual(applied.map((m) => m.name), [
          "create_events",
          "append_function",
          "append_previous_position",
          "distribution_key"
        ])

        // the events, their positions and the global order are those written before
        for (const [i, id] of ids.entries()) {
          const read = yield* collect(store.read("Order", id))
          assert.deepStrictEqual(read.map((e) => e.version), Array.from({ length: 2 + i }, (_, k) => k + 1))
        }
        // readAll shows a commit once every older transaction has ended: another test file's open transaction on
        // the shared server can hold these events back for a moment, so read again until they show (up to 30 s).
        const mine = Effect.map(collect(store.readAll()), (events) => events.filter((e) => ids.includes(e.aggregateId)))
        const deadline = Date.now() + 30_000
        let all = yield* mine
        while (all.length < written.length && Date.now() < deadline) {
          yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))
          all = yield* mine
        }
        assert.deepStrictEqual(all.map((e) => e.position), written)
        const resumed = (yield* collect(store.readAll({ fromPosition: written[3]! })))
          .filter((e) => ids.includes(e.aggregateId))
        assert.deepStrictEqual(resumed.map((e) => e.position), written.slice(4))

        // appends go on from the head, and a stale one is still a ConcurrencyConflict (the key kept its name)
        const appended = yield* store.append("Order", ids[0]!, 2, events(1, 3))
        assert.strictEqual(appended.previousPosition, written[1])
        assert.isTrue(appended.positions[0]! > written[written.length - 1]!)
        const stale = yield* Effect.flip(store.append("Order", ids[0]!, 2, events(1, 3)))
        assert.strictEqual(stale._tag, "ConcurrencyConflict")

        // opening it once more changes nothing
        yield* SqlEventStore.make({ table })
        assert.strictEqual(
          (yield* sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}_migrations"`))[0]!.n,
          4
        )
      }))

    it.effect("the plans stay: readAll's resume probe walks the position index, reads and appends the stream key", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const table = "planned_events"
        const store = yield* SqlEventStore.make({ table })
        yield* sql.unsafe(
          `INSERT INTO "${table}" (aggregate_type, aggregate_id, version, type, payload, order_xid)
           SELECT 'Order', 'p-' || (g % 200), 1 + g / 200, 'Incremented', '{}'::jsonb, pg_current_xact_id()
           FROM generate_series(0, 19999) AS g`
        )
        yield* sql.unsafe(`ANALYZE "${table}"`)
        yield* store.append("Order", "p-1", 100, events(1))
        const explain = (query: string, parameters: ReadonlyArray<unknown>) =>
          Effect.map(
            sql.unsafe<Record<string, unknown>>(`EXPLAIN ${query}`, [...parameters]),
            (rows) => rows.map((row) => String(Object.values(row)[0])).join("\n")
          )
        const probe = yield* explain(
          `SELECT order_xid, position FROM "${table}" WHERE position <= $1 ORDER BY position DESC LIMIT 1`,
          [5000]
        )
        assert.match(probe, new RegExp(`Index Scan Backward using ${table}_position_idx`), probe)
        const read = yield* explain(
          `SELECT version FROM "${table}" WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3
           ORDER BY version LIMIT 10`,
          ["Order", "p-1", 0]
        )
        assert.match(read, new RegExp(`Index (Only )?Scan using ${table}_stream_key`), read)
        const head = yield* explain(
          `SELECT version FROM "${table}" WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`,
          ["Order", "p-1"]
        )
        assert.match(head, new RegExp(`Index (Only )?Scan Backward using ${table}_stream_key`), head)
      }))
  })
})
