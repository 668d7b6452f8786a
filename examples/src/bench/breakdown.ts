/**
 * Diagnostics for the targets the library misses: the same work built up step by step, measured side by
 * side with the full operation, so the README's explanation of where the time goes comes from the run.
 *
 * - load: the library's snapshot store and event store used directly (the tail through the EventStore's
 *   `Stream`, and the tail as one `sql.unsafe(...).values` call), without the repository around them.
 * - append: the `SqlEventStore` append statement sent with bare `pg` (prepared, as Effect 4's driver sends
 *   it), as a plain statement and from a PL/pgSQL function (whose plans Postgres caches per session), next to
 *   the bare INSERT.
 */
import { Aggregate, EventStore } from "@effect-snapshots/loader"
import { SqlEventStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import type pg from "pg"
import { Order } from "../Order.js"
import type * as OrderDomain from "../OrderDomain.js"

const events = SqlEventStore.defaultTable

const restore = Effect.fnUntraced(function*(id: string) {
  const store = yield* SnapshotStore.SnapshotStore
  const found = yield* store.load(Order.type, id)
  if (Option.isNone(found)) return yield* Effect.die(new Error("no snapshot"))
  const snapshot = found.value
  const restored = Aggregate.restoreState(Order, snapshot)
  if (Result.isFailure(restored)) return yield* Effect.die(new Error(restored.failure.message))
  return { snapshot, state: restored.success.state }
})

/** Snapshot store + `EventStore.read` (a Stream) + decode + fold: the repository's load without the repository. */
export const servicesWithStream = Effect.fnUntraced(function*(id: string) {
  const store = yield* EventStore.EventStore
  const { snapshot, state: start } = yield* restore(id)
  let state = start
  let version = snapshot.version
  yield* Stream.runForEachArray(
    store.read(Order.type, id, { fromVersion: snapshot.version + 1 }),
    (chunk) =>
      Effect.suspend(() => {
        for (const stored of chunk) {
          const event = Aggregate.decodeEvent(Order, stored)
          if (Result.isFailure(event)) {
            return Effect.die(event.failure)
          }
          state = Order.evolve(state, event.success)
          version = stored.version
        }
        return Effect.void
      })
  )
  return { state, version }
})

const tailSql = `SELECT version, position, type, payload FROM ${events}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version LIMIT 2000`

/** The same with the tail as one `sql.unsafe(...).values` call: no Stream. */
export const servicesWithoutStream = Effect.fnUntraced(function*(id: string) {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const { snapshot, state: start } = yield* restore(id)
  const rows = yield* sql.unsafe(tailSql, [Order.type, id, snapshot.version]).values
  let state: OrderDomain.OrderState = start
  let version = snapshot.version
  for (const row of rows) {
    const event = Aggregate.decodeEvent(Order, {
      aggregateType: Order.type,
      aggregateId: id,
      version: Number(row[0]),
      position: Number(row[1]),
      type: row[2] as string,
      payload: row[3],
      metadata: {},
      createdAt: snapshot.createdAt
    })
    if (Result.isFailure(event)) return yield* Effect.die(event.failure)
    state = Order.evolve(state, event.success)
    version = Number(row[0])
  }
  return { state, version, snapshotVersion: Option.some(snapshot.version) }
})

// A copy of `SqlEventStore`'s append statement (2026-11-26): a diagnostic, kept here so the measurement
// does not depend on the library's internals.
const appendBody = (table: string, type: string, id: string, expected: string, batch: string) =>
  `WITH head AS (
  SELECT version, order_xid FROM ${table}
  WHERE aggregate_type = ${type} AND aggregate_id = ${id}
  ORDER BY version DESC LIMIT 1
), inserted AS (
  INSERT INTO ${table} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
  SELECT ${type}, ${id}, ${expected} + e.ord::integer, e.value->>'t', e.value->'p', e.value->'m',
    GREATEST(pg_current_xact_id(), (SELECT h.order_xid FROM head h))
  FROM jsonb_array_elements(${batch}) WITH ORDINALITY AS e(value, ord)
  WHERE COALESCE((SELECT h.version FROM head h), 0) = ${expected}
  ORDER BY e.ord
  RETURNING ${table}.position, ${table}.version
)
SELECT COALESCE((SELECT h.version FROM head h), 0)::integer AS actual,
  (SELECT array_agg(i.position ORDER BY i.version) FROM inserted i) AS positions`

const appendStatement = appendBody(events, "$1", "$2", "$3::integer", "$4::jsonb")

/** Create the PL/pgSQL twin of the append statement (in the bench schema). */
export const createAppendFunction = (pool: pg.Pool) =>
  pool.query(`CREATE OR REPLACE FUNCTION bench_append(p_type text, p_id text, p_expected integer, p_batch jsonb)
RETURNS TABLE (actual integer, positions bigint[]) LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY ${appendBody(events, "p_type", "p_id", "p_expected", "p_batch")};
END
$fn$`)

const batchOf = (type: string, payload: unknown) => JSON.stringify([{ t: type, p: payload, m: {} }])

const check = (rows: ReadonlyArray<{ readonly positions: unknown }>) => {
  if (rows[0]?.positions === null) throw new Error("append refused: the stream moved")
}

/** One event appended with the library's statement, sent with bare `pg`. */
export const appendWithStatement = async (
  pool: pg.Pool,
  id: string,
  expected: number,
  type: string,
  payload: unknown
) =>
  check(
    (await pool.query({
      name: "bench_append_statement",
      text: appendStatement,
      values: [Order.type, id, expected, batchOf(type, payload)]
    })).rows
  )

/** The same statement from the PL/pgSQL function. */
export const appendWithFunction = async (
  pool: pg.Pool,
  id: string,
  expected: number,
  type: string,
  payload: unknown
) =>
  check(
    (await pool.query({
      name: "bench_append_function",
      text: `SELECT * FROM bench_append($1, $2, $3, $4::jsonb)`,
      values: [Order.type, id, expected, batchOf(type, payload)]
    })).rows
  )
