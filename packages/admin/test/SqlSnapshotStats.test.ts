/**
 * `SqlSnapshotStats.stats` counts the stored size of every kind of row: plain states in the jsonb column (rows
 * written before the store's migration 0003, and tables it has not migrated yet), plain states as text (written
 * since), and compressed bytes. On PG_URL, or PGlite.
 */
import { SqlSnapshotStats } from "@effect-snapshots/admin"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SqlClient } from "effect/sql/SqlClient"
import * as TestClock from "effect/testing/TestClock"

// The table as the Effect 3 build created it (migration 0001 only), with one plain row.
const effect3Table = `CREATE TABLE "sized" (
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
)`

const state = { lines: Array.from({ length: 200 }, (_, i) => ({ sku: `sku-${i}`, qty: i })) }

const snapshot = (version: number, stored: unknown) =>
  new Snapshot.Snapshot({
    aggregateType: "Order",
    aggregateId: "a",
    version,
    schemaVersion: 1,
    createdAt: DateTime.makeUnsafe(0),
    metadata: {},
    state: stored
  })

describe("SqlSnapshotStats.stats", () => {
  // A patient TestClock: on a loaded machine the pool's timers run while the test waits on the database.
  const patientClock = TestClock.layer({ warningDelay: "10 minutes" })
  layer(Layer.provideMerge(Postgres.layerTest("admin_stats_sizes"), patientClock), { timeout: 120_000 })((it) => {
    it.effect("bytes: old jsonb rows, new text rows and compressed rows, on a migrated table and before", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        yield* sql.unsafe(effect3Table)
        yield* sql`INSERT INTO sized (aggregate_type, aggregate_id, version, schema_version, encoding, state, created_at)
VALUES ('Order', 'a', 1, 1, 'json', ${JSON.stringify(state)}::jsonb, now())`
        const sizeOf = (column: string, version: number) =>
          Effect.map(
            sql<{ bytes: number }>`SELECT pg_column_size(${sql(column)})::float8 AS bytes FROM sized
WHERE version = ${version}`,
            ([row]) => row!.bytes
          )
        const jsonb = yield* sizeOf("state", 1)
        assert.isAbove(jsonb, 0)
        const before = yield* SqlSnapshotStats.stats({ table: "sized" })
        assert.deepStrictEqual(before.map((row) => [row.aggregateType, row.snapshots, row.bytes]), [
          ["Order", 1, jsonb]
        ])

        yield* Effect.gen(function*() {
          const store = yield* SnapshotStore.SnapshotStore
          yield* store.save(snapshot(2, state))
          yield* store.save(
            snapshot(
              3,
              new Snapshot.CompressedState({ algorithm: "gzip", bytes: new Uint8Array([31, 139, 8, 0, 1, 2, 3]) })
            )
          )
        }).pipe(Effect.provide(SqlSnapshotStore.layerWith({ table: "sized" })))
        const text = yield* sizeOf("state_text", 2)
        const compressed = yield* sizeOf("state_bytes", 3)
        assert.isAbove(text, 0)
        assert.isAbove(compressed, 0)
        const after = yield* SqlSnapshotStats.stats({ table: "sized" })
        assert.deepStrictEqual(after.map((row) => [row.aggregateType, row.snapshots, row.bytes]), [
          ["Order", 3, jsonb + text + compressed]
        ])
      }))
  })
})
