/**
 * SqlEventStore and SqlSnapshotStore distributed on a Citus cluster (CITUS_URL, the coordinator): the
 * EventStore contract, the repository suite, the layout Citus got (both tables hash-distributed by
 * aggregate_id and colocated, the append delegated to one worker), one-shard plans, readAll refused, and a
 * table of the old layout distributed on the next start. Skipped without CITUS_URL.
 *
 * Citus gives positions from a range per node, so they are unique but ordered only within a stream: the few
 * contract tests that need one global order (readAll's, and positions compared across streams) are skipped
 * here, by name, with the reason.
 */
import { EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import type { Vitest } from "@effect/vitest"
import { assert, describe, layer } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import { SqlClient } from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { contract, events, freshId, readAll } from "../../loader/test/utils/eventStoreContract.js"
import { repositorySuite } from "../../loader/test/utils/repositorySuite.js"

const citusUrl = process.env.CITUS_URL ?? ""
const pgUrl = process.env.PG_URL ?? ""

const pageSize = 4
const TestLayer = Layer.mergeAll(
  SqlEventStore.layerWith({ distributed: true, pageSize }),
  SqlSnapshotStore.layerWith({ distributed: true })
).pipe(
  // the repository suite provokes warnings on purpose
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error")),
  Layer.provideMerge(Postgres.layerUrlTest(citusUrl, "citus_loader", { maxConnections: 16 }))
)

const notOnCitus: ReadonlyMap<string, string> = new Map([
  ["appends to a new stream and reads it back in version order", "compares positions across streams"],
  ["read and readAll emit whole pages as chunks across several pages", "readAll is refused"],
  ["readAll interleaves streams in one global order and resumes after fromPosition", "readAll is refused"],
  [
    "a stale expectedVersion is a ConcurrencyConflict with the actual version; nothing is written",
    "counts events through readAll"
  ],
  [
    "an expectedVersion ahead of the stream (a gap) is a ConcurrencyConflict; nothing is written",
    "counts events through readAll"
  ],
  [
    "bad input is an InvalidInput EventStoreError with a clear message, and nothing is written",
    "counts events through readAll"
  ],
  [
    "projection rebuilt from a snapshot handles only the events after it; runAll from a position",
    "Projection.runAll reads readAll"
  ]
])

/** The suites' `it`, with the tests that need one global order of events skipped (named, with the reason). */
const onCitus = <R>(it: Vitest.MethodsNonLive<R>): Vitest.MethodsNonLive<R> => {
  const effect = Object.assign(
    (name: string, self: never, timeout?: number) => {
      const reason = notOnCitus.get(name)
      return reason === undefined
        ? it.effect(name, self, timeout)
        : it.effect.skip(`${name} (not on Citus: ${reason})`, self, timeout)
    },
    it.effect
  )
  return { ...it, effect } as Vitest.MethodsNonLive<R>
}

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) => Stream.runCollect(stream)

const plan = (query: string, parameters: ReadonlyArray<unknown>) =>
  Effect.flatMap(SqlClient, (sql) => sql.unsafe<{ "QUERY PLAN": string }>(`EXPLAIN ${query}`, [...parameters])).pipe(
    Effect.map((rows) => rows.map((row) => row["QUERY PLAN"]).join("\n"))
  )

describe.skipIf(citusUrl === "")("SqlEventStore and SqlSnapshotStore distributed on Citus", () => {
  layer(TestLayer, { timeout: 180_000, excludeTestServices: true })((it) => {
    const citusIt = onCitus(it)
    contract(citusIt, {
      pageSize,
      countEvents: Effect.flatMap(
        SqlClient,
        (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM effect_snapshots_events`
      )
        .pipe(Effect.map((rows) => rows[0]!.n)),
      propertyRuns: 20
    })
    repositorySuite(citusIt, { propertyRuns: 20, multiConnection: true })

    it.effect("both tables are hash-distributed by aggregate_id in one colocation group, the append function with them", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const tables = yield* sql<{ name: string; method: string; column: string; colocation: number }>`
          SELECT logicalrelid::regclass::text AS name, partmethod::text AS method,
            column_to_column_name(logicalrelid, partkey) AS column, colocationid AS colocation
          FROM pg_dist_partition
          WHERE logicalrelid IN ('effect_snapshots'::regclass, 'effect_snapshots_events'::regclass)
          ORDER BY 1`
        assert.deepStrictEqual(tables.map((t) => [t.name, t.method, t.column]), [
          ["effect_snapshots", "h", "aggregate_id"],
          ["effect_snapshots_events", "h", "aggregate_id"]
        ])
        assert.strictEqual(tables[0]!.colocation, tables[1]!.colocation)
        const [fn] = yield* sql<{ argument: number; colocation: number }>`
          SELECT distribution_argument_index AS argument, colocationid AS colocation FROM pg_dist_object
          WHERE classid = 'pg_proc'::regclass
            AND objid = 'effect_snapshots_events_append_routed(text, text, integer, jsonb)'::regprocedure`
        assert.deepStrictEqual([fn!.argument, fn!.colocation], [1, tables[0]!.colocation])
      }))

    it.effect("append, read, version and the snapshot load each run as one task on one worker", () =>
      Effect.gen(function*() {
        const id = freshId("plan")
        const store = yield* EventStore.EventStore
        yield* store.append("Order", id, 0, events(3))
        const plans = [
          yield* plan(
            `SELECT actual, positions, previous_position FROM effect_snapshots_events_append_routed($1, $2, $3, $4::jsonb)`,
            ["Order", id, 3, `[{"t":"Incremented","p":{"n":4},"m":null}]`]
          ),
          yield* plan(
            `SELECT version, position, type, payload FROM effect_snapshots_events
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 AND version <= $4 ORDER BY version LIMIT $5`,
            ["Order", id, 0, 1000, 10]
          ),
          yield* plan(
            `SELECT COALESCE(max(version), 0) FROM effect_snapshots_events WHERE aggregate_type = $1 AND aggregate_id = $2`,
            ["Order", id]
          ),
          yield* plan(
            `SELECT version FROM effect_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`,
            ["Order", id]
          )
        ]
        for (const text of plans) assert.match(text, /Task Count: 1\b/, text)
        assert.match(plans[0]!, /Function Scan on effect_snapshots_events_append_routed/, plans[0])
      }))

    it.effect("the cold load's one statement (newest snapshot + first page of events) is one task on one worker", () =>
      Effect.gen(function*() {
        const id = freshId("cold")
        const store = yield* EventStore.EventStore
        const snapshots = yield* SnapshotStore.SnapshotStore
        yield* store.append("Order", id, 0, events(6))
        yield* snapshots.save(Snapshot.Snapshot.make({
          aggregateType: "Order",
          aggregateId: id,
          version: 4,
          schemaVersion: 1,
          state: { n: 4 },
          createdAt: yield* DateTime.now,
          metadata: {}
        }))
        const statement = SqlEventStore.coldReadStatement(yield* SqlEventStore.Source, yield* SqlSnapshotStore.Source)
        const text = yield* plan(statement, ["Order", id, pageSize])
        assert.match(text, /Task Count: 1\b/, text)
        assert.notMatch(text, /Subplan|Subquery Scan on intermediate_result/, text)
        // and it answers what the repository folds: the snapshot row, then the events from its version
        const sql = yield* SqlClient
        const rows = yield* sql.unsafe(statement, ["Order", id, pageSize]).values
        assert.deepStrictEqual(rows.map((row) => [row[0], Number(row[0] === 0 ? row[7] : row[1])]), [
          [0, 4],
          [1, 4],
          [1, 5],
          [1, 6]
        ])
      }))

    it.effect("a stream's events keep ascending positions; positions are unique across streams", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const ids = Array.from({ length: 8 }, () => freshId("positions"))
        const all: Array<number> = []
        for (const id of ids) {
          const first = yield* store.append("Order", id, 0, events(2))
          const second = yield* store.append("Order", id, 2, events(3, 3))
          assert.strictEqual(second.previousPosition, first.positions[1])
          const positions = (yield* readAll("Order", id)).map((e) => e.position)
          assert.deepStrictEqual(positions, [...first.positions, ...second.positions])
          assert.deepStrictEqual(positions, [...positions].sort((a, b) => a - b))
          assert.isTrue(positions.every(Number.isSafeInteger))
          all.push(...positions)
        }
        assert.strictEqual(new Set(all).size, all.length)
      }))

    it.effect("an append inside the caller's transaction is atomic with it and still one worker's", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const store = yield* EventStore.EventStore
        const id = freshId("tx")
        const kept = freshId("tx-kept")
        const rolledBack = yield* Effect.flip(sql.withTransaction(
          Effect.andThen(store.append("Order", id, 0, events(2)), Effect.fail("abort" as const))
        ))
        assert.strictEqual(rolledBack, "abort")
        assert.strictEqual(yield* store.version("Order", id), 0)
        const [appended, conflict] = yield* sql.withTransaction(Effect.gen(function*() {
          const appended = yield* store.append("Order", kept, 0, events(2))
          const conflict = yield* Effect.flip(store.append("Order", kept, 0, events(1)))
          const [{ ok }] = yield* sql<{ ok: number }>`SELECT 1 AS ok`
          assert.strictEqual(ok, 1)
          return [appended, conflict] as const
        }))
        assert.strictEqual(appended.version, 2)
        assert.strictEqual(conflict._tag, "ConcurrencyConflict")
        assert.deepStrictEqual((yield* readAll("Order", kept)).map((e) => e.version), [1, 2])
      }))

    it.effect("readAll is refused with an EventStoreError that says why and what to use instead", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        yield* store.append("Order", freshId("refused"), 0, events(1))
        for (const options of [undefined, { fromPosition: 0 }, { fromPosition: 12 }]) {
          const error = yield* Effect.flip(collect(store.readAll(options)))
          assert.strictEqual(error._tag, "EventStoreError")
          assert.strictEqual(error.reason, "InvalidInput")
          assert.include(error.message, "distributed with Citus")
          assert.include(error.message, "transaction ids")
          assert.include(error.message, "read or readPage")
          assert.include(error.message, "change data capture")
        }
        // a store built without the option on the distributed table refuses it too
        const plain = yield* SqlEventStore.make()
        const error = yield* Effect.flip(collect(plain.readAll()))
        assert.include(error.message, "distributed with Citus")
      }))

    it.effect("streams lists every stream of a type once, in key order, across shards and pages (readAll's alternative)", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const type = `Listed${Math.random().toString(36).slice(2, 8)}`
        const ids = Array.from({ length: 11 }, (_, i) => `stream-${String(i).padStart(2, "0")}`)
        for (const [i, id] of ids.entries()) yield* store.append(type, id, 0, events(1 + (i % 3)))
        const listed = yield* collect(store.streams({ aggregateType: type }))
        assert.deepStrictEqual(listed.map((s) => [s.aggregateId, s.version]), ids.map((id, i) => [id, 1 + (i % 3)]))
        const after = yield* collect(store.streams({ aggregateType: type, after: ids[6] }))
        assert.deepStrictEqual(after.map((s) => s.aggregateId), ids.slice(7))
        // and each listed stream reads back from its one shard
        for (const s of listed) {
          assert.strictEqual((yield* collect(store.read(type, s.aggregateId))).length, s.version)
        }
      }))

    it.effect("a table of the old layout (position as primary key) is migrated and distributed, its events kept", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const table = `old_events_${Math.random().toString(36).slice(2, 8)}`
        for (const statement of oldLayout(table)) yield* sql.unsafe(statement)
        yield* sql.unsafe(`INSERT INTO "${table}_migrations" (migration_id, name) VALUES
          (1, 'create_events'), (2, 'append_function'), (3, 'append_previous_position')`)
        yield* sql.unsafe(
          `INSERT INTO "${table}" (aggregate_type, aggregate_id, version, type, payload, order_xid)
           SELECT 'Order', 'old-' || (g % 5), 1 + g / 5, 'Incremented', jsonb_build_object('n', g), pg_current_xact_id()
           FROM generate_series(0, 49) AS g`
        )
        const store = yield* SqlEventStore.make({ table, distributed: true })
        const [row] = yield* sql<{ method: string }>`
          SELECT partmethod::text AS method FROM pg_dist_partition WHERE logicalrelid = ${table}::regclass`
        assert.strictEqual(row?.method, "h")
        for (let s = 0; s < 5; s++) {
          const read = yield* collect(store.read("Order", `old-${s}`))
          assert.deepStrictEqual(read.map((e) => e.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
          const appended = yield* store.append("Order", `old-${s}`, 10, events(1, 100))
          assert.strictEqual(appended.previousPosition, read[9]!.position)
        }
        const [{ n }] = yield* sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`)
        assert.strictEqual(n, 55)
      }))

    it.effect("on a Citus worker the distributed layers fail with a clear error", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const [worker] = yield* sql<{ host: string; port: number }>`
          SELECT node_name AS host, node_port AS port FROM citus_get_active_worker_nodes() ORDER BY 2 LIMIT 1`
        const url = new URL(citusUrl)
        url.hostname = worker!.host
        url.port = String(worker!.port)
        const onWorker = PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 1 })
        const events = yield* Effect.flip(
          SqlEventStore.make({ table: `worker_events_${Math.random().toString(36).slice(2, 8)}`, distributed: true })
            .pipe(Effect.provide(onWorker))
        )
        assert.strictEqual(events._tag, "EventStoreError")
        assert.include(events.message, "connected to a Citus worker")
        const snapshots = yield* Effect.flip(
          Layer.build(SqlSnapshotStore.layerWith({
            table: `worker_snapshots_${Math.random().toString(36).slice(2, 8)}`,
            distributed: true
          })).pipe(Effect.provide(onWorker), Effect.scoped)
        )
        assert.include(snapshots.message, "Citus worker")
      }))

    it.effect.skipIf(pgUrl === "")(
      "on a server without Citus the distributed layers fail with a clear error",
      () =>
        Effect.gen(function*() {
          const plain = Postgres.layerUrlTest(pgUrl, "citus_loader_plain", { maxConnections: 1 })
          const events = yield* Effect.flip(SqlEventStore.make({ distributed: true }).pipe(Effect.provide(plain)))
          assert.strictEqual(events._tag, "EventStoreError")
          assert.include(events.message, `the extension "citus" is not installed`)
          const snapshots = yield* Effect.flip(
            Layer.build(SqlSnapshotStore.layerWith({ distributed: true })).pipe(Effect.provide(plain), Effect.scoped)
          )
          assert.strictEqual(snapshots._tag, "SnapshotStoreError")
          assert.include(snapshots.message, `the extension "citus" is not installed`)
        })
    )
  })
})

/**
 * The events table and migrations table as main's migrations 0001-0003 left them, one statement each (Effect 4's
 * driver prepares every query, and a prepared statement holds one command).
 */
const oldLayout = (table: string): ReadonlyArray<string> => [
  `CREATE TABLE "${table}" (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  version integer NOT NULL CHECK (version > 0),
  type text NOT NULL,
  payload jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  order_xid xid8 NOT NULL,
  CONSTRAINT "${table}_stream_key" UNIQUE (aggregate_type, aggregate_id, version)
)`,
  `CREATE INDEX "${table}_order_idx" ON "${table}" (order_xid, position)`,
  `CREATE TABLE "${table}_migrations" (
  migration_id integer PRIMARY KEY,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  name text NOT NULL
)`
]
