/**
 * Stored data outlives the library's versions: a snapshot table, its migrations record and its rows as the
 * Effect 3 build wrote them (plain jsonb states and gzip'd bytea, int8 versions beyond int4) are read unchanged
 * by this build, whose Migrator does not run the migration again; it adds its own migrations on top (the
 * saveIfDue function, the text column of plain states) without rewriting a row; what this build writes has the
 * same compressed bytes, and plain states as their JSON text. On PG_URL, or PGlite.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { SqlClient } from "effect/sql/SqlClient"
import * as zlib from "node:zlib"
import { make, stateOfSize } from "../../store/test/utils/contract.js"
import { PatientClock } from "./utils/sqlSuite.js"

// The Effect 3 build's migration 0001_create_snapshots and its Migrator's table, as they ran on table "legacy".
const effect3Schema = [
  `CREATE TABLE IF NOT EXISTS "legacy" (
  aggregate_type text COLLATE "C" NOT NULL,
  aggregate_id text COLLATE "C" NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  schema_version bigint NOT NULL CHECK (schema_version >= 1),
  encoding text NOT NULL CHECK (encoding IN ('json', 'gzip', 'brotli')),
  state jsonb,
  state_bytes bytea,
  created_at timestamptz NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (aggregate_type, aggregate_id, version),
  CHECK (CASE WHEN encoding = 'json' THEN state IS NOT NULL AND state_bytes IS NULL
              ELSE state IS NULL AND state_bytes IS NOT NULL END)
)`,
  `CREATE INDEX IF NOT EXISTS "legacy_type_created_idx" ON "legacy"
  (aggregate_type, created_at DESC, version DESC, aggregate_id DESC)`,
  `CREATE TABLE "legacy_migrations" (
  migration_id integer primary key,
  created_at timestamp with time zone not null default now(),
  name text not null
)`,
  `INSERT INTO "legacy_migrations" (migration_id, name) VALUES (1, 'create_snapshots')`
]

const big = stateOfSize(50_000)

describe("snapshots written by the Effect 3 build", () => {
  layer(Layer.provideMerge(Postgres.layerTest("store_effect3"), PatientClock), { timeout: 120_000 })((it) => {
    it.effect("load unchanged (jsonb, gzip, int8 versions); the migration is not run again; new rows match", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        for (const statement of effect3Schema) yield* sql.unsafe(statement)
        // Rows as the Effect 3 store inserted them: JSON text cast to jsonb, gzip level 1 of the JSON.
        yield* sql.unsafe(
          `INSERT INTO "legacy" (aggregate_type, aggregate_id, version, schema_version, encoding, state, state_bytes,
            created_at, metadata)
          VALUES ('Order', 'o-1', 4294967296, 2, 'json', $1::jsonb, NULL, '2025-06-01T12:30:15.123Z'::timestamptz,
            '{"source":"e3","n":[1,2]}'::jsonb)`,
          [JSON.stringify({ lines: [{ sku: "A", qty: 2, price: 9.99 }], note: "héllo 🦀", none: null })]
        )
        yield* sql.unsafe(
          `INSERT INTO "legacy" (aggregate_type, aggregate_id, version, schema_version, encoding, state, state_bytes,
            created_at, metadata)
          VALUES ('Order', 'o-2', 7, 1, 'gzip', NULL, $1, '2025-06-02T00:00:00.000Z'::timestamptz, '{}'::jsonb)`,
          [new Uint8Array(zlib.gzipSync(JSON.stringify(big), { level: 1 }))]
        )

        const store = SqlSnapshotStore.layerWith({ table: "legacy" }).pipe(
          SnapshotStore.compressed({ thresholdBytes: 1024 })
        )
        yield* Effect.gen(function*() {
          const snapshots = yield* SnapshotStore.SnapshotStore
          const first = Option.getOrThrow(yield* snapshots.load("Order", "o-1"))
          assert.instanceOf(first, Snapshot.Snapshot)
          assert.strictEqual(first.version, 4294967296)
          assert.strictEqual(first.schemaVersion, 2)
          assert.strictEqual(DateTime.formatIso(first.createdAt), "2025-06-01T12:30:15.123Z")
          assert.deepStrictEqual(first.metadata, { source: "e3", n: [1, 2] })
          assert.deepStrictEqual(first.state, {
            lines: [{ sku: "A", qty: 2, price: 9.99 }],
            note: "héllo 🦀",
            none: null
          })
          assert.deepStrictEqual(Option.getOrThrow(yield* snapshots.load("Order", "o-2")).state, big)
          assert.deepStrictEqual((yield* snapshots.list("Order", "o-1")).map((info) => info.version), [4294967296])
          // What this build writes: the same layout, the same bytes.
          yield* snapshots.save(make({ aggregateType: "Order", aggregateId: "o-3", version: 1, state: big }))
          yield* snapshots.save(make({ aggregateType: "Order", aggregateId: "o-4", version: 1, state: { a: [1] } }))
        }).pipe(Effect.provide(store))

        const migrations = yield* sql.unsafe<{ migration_id: number; name: string }>(
          `SELECT migration_id, name FROM "legacy_migrations" ORDER BY migration_id`
        )
        // This build adds its saveIfDue function and the text column on top of the Effect 3 build's table.
        assert.deepStrictEqual(migrations.map((m) => [m.migration_id, m.name]), [
          [1, "create_snapshots"],
          [2, "save_if_due"],
          [3, "state_text"]
        ])
        const rows = yield* sql.unsafe<
          { aggregate_id: string; encoding: string; state: string | null; state_text: string | null }
        >(
          `SELECT aggregate_id, encoding, state::text AS state, state_text FROM "legacy" ORDER BY aggregate_id`
        )
        // The Effect 3 rows are left as they were; the new plain row is text.
        assert.deepStrictEqual(rows.map((row) => [row.aggregate_id, row.encoding, row.state, row.state_text]), [
          ["o-1", "json", `{"none": null, "note": "héllo 🦀", "lines": [{"qty": 2, "sku": "A", "price": 9.99}]}`, null],
          ["o-2", "gzip", null, null],
          ["o-3", "gzip", null, null],
          ["o-4", "json", null, `{"a":[1]}`]
        ])
        const [bytes] = yield* sql.unsafe<{ state_bytes: Uint8Array }>(
          `SELECT state_bytes FROM "legacy" WHERE aggregate_id = 'o-3'`
        )
        assert.deepStrictEqual(
          Buffer.from(bytes!.state_bytes),
          zlib.gzipSync(JSON.stringify(big), { level: 1 })
        )
      }))
  })
})
