/**
 * Diagnostics for the targets the library misses: the same work built up step by step, measured side by
 * side with the full operation, so the README's explanation of where the time goes comes from the run.
 *
 * - load: the library's snapshot store and event store used directly (the tail through the EventStore's
 *   `Stream`, and the tail as one `sql.unsafe(...).values` call), without the repository around them.
 * - append: the `SqlEventStore` append statements sent with bare `pg` (prepared, as Effect 4's driver sends
 *   them): the single-event statement, and a batch of one through the batch statement's PL/pgSQL function,
 *   next to the bare INSERT.
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

// Copies of `SqlEventStore`'s append statements (2026-12-08): diagnostics, kept here so the measurement does
// not depend on the library's internals. One event goes as a single-row INSERT statement; a batch, as the
// batch statement inside the table's PL/pgSQL function.
const appendOneStatement = `WITH head AS (
  SELECT h.version, h.position, h.order_xid FROM ${events} h
  WHERE h.aggregate_type = $1 AND h.aggregate_id = $2
  ORDER BY h.version DESC LIMIT 1
), inserted AS (
  INSERT INTO ${events} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
  SELECT $1, $2, $3 + 1, $4, $5::jsonb, $6::jsonb, GREATEST(pg_current_xact_id(), (SELECT head.order_xid FROM head))
  WHERE COALESCE((SELECT head.version FROM head), 0) = $3
  RETURNING ${events}.position
)
SELECT COALESCE((SELECT head.version FROM head), 0)::integer AS actual,
  (SELECT i.position FROM inserted i) AS position,
  COALESCE((SELECT head.position FROM head), 0)::bigint AS previous_position`

const appendBatchBody = (table: string, type: string, id: string, expected: string, batch: string) =>
  `WITH head AS (
  SELECT h.version, h.position, h.order_xid FROM ${table} h
  WHERE h.aggregate_type = ${type} AND h.aggregate_id = ${id}
  ORDER BY h.version DESC LIMIT 1
), inserted AS (
  INSERT INTO ${table} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
  SELECT ${type}, ${id}, ${expected} + e.ord::integer, e.value->>'t', e.value->'p', e.value->'m',
    GREATEST(pg_current_xact_id(), (SELECT head.order_xid FROM head))
  FROM jsonb_array_elements(${batch}) WITH ORDINALITY AS e(value, ord)
  WHERE COALESCE((SELECT head.version FROM head), 0) = ${expected}
  ORDER BY e.ord
  RETURNING ${table}.position, ${table}.version
)
SELECT COALESCE((SELECT head.version FROM head), 0)::integer,
  (SELECT array_agg(i.position ORDER BY i.version) FROM inserted i),
  COALESCE((SELECT head.position FROM head), 0)::bigint`

/** Create the library's batch function, as its migrations do (in the bench schema). */
export const createAppendFunction = (pool: pg.Pool) =>
  pool.query(`CREATE OR REPLACE FUNCTION bench_append(p_type text, p_id text, p_expected integer, p_batch jsonb)
RETURNS TABLE (actual integer, positions bigint[], previous_position bigint) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY ${appendBatchBody(events, "p_type", "p_id", "p_expected", "p_batch")};
END
$fn$`)

const batchOf = (type: string, payload: unknown) => JSON.stringify([{ t: type, p: payload, m: {} }])

const check = (rows: ReadonlyArray<{ readonly position?: unknown; readonly positions?: unknown }>) => {
  if (rows[0]?.position === null || rows[0]?.positions === null) throw new Error("append refused: the stream moved")
}

/** One event appended with the library's single-event statement, sent with bare `pg`. */
export const appendWithStatement = async (
  pool: pg.Pool,
  id: string,
  expected: number,
  type: string,
  payload: unknown
) =>
  check(
    (await pool.query({
      name: "bench_append_one",
      text: appendOneStatement,
      values: [Order.type, id, expected, type, JSON.stringify(payload), "{}"]
    })).rows
  )

/** One event as a batch of one, through the library's batch function. */
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
