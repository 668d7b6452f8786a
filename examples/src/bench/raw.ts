/**
 * The hand-written baselines on the bare `pg` driver, against the library's own tables: what an application
 * would write to load an Order from its newest snapshot and the events after it (read the snapshot row, read
 * the tail, JSON.parse, decode with the same Schemas, fold with the same `evolve`), and to append one event.
 */
import { SqlEventStore } from "@effect-snapshots/loader"
import { SqlSnapshotStore } from "@effect-snapshots/store"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import pg from "pg"
import * as OrderDomain from "../OrderDomain.js"

const snapshots = SqlSnapshotStore.defaultTable
const events = SqlEventStore.defaultTable

const decodeState = Schema.decodeUnknownSync(OrderDomain.OrderState)
const decodeEvent = Schema.decodeUnknownSync(OrderDomain.OrderEvent)

export interface RawLoaded {
  readonly state: OrderDomain.OrderState
  readonly version: number
  readonly replayed: number
}

const snapshotSql = `SELECT version, state::text AS state FROM ${snapshots}
WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`

const tailSql = `SELECT version, payload::text AS payload FROM ${events}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version`

// One round trip: the newest snapshot (one backward probe of its primary key) UNION ALL the events after it,
// the snapshot row first (its `kind` sorts first).
export const oneQuerySql = `WITH s AS (
  SELECT version, state FROM ${snapshots}
  WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1
)
SELECT 0 AS kind, version, state::text AS body FROM s
UNION ALL
SELECT 1 AS kind, version, payload::text AS body FROM ${events}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > COALESCE((SELECT version FROM s), 0)
ORDER BY kind, version`

const fold = (
  id: string,
  base: OrderDomain.OrderState | undefined,
  baseVersion: number,
  rows: ReadonlyArray<{
    readonly version: number
    readonly body: string
  }>
): RawLoaded => {
  let state = base ?? OrderDomain.initial(id)
  let version = baseVersion
  for (const row of rows) {
    state = OrderDomain.evolve(state, decodeEvent(JSON.parse(row.body)))
    version = row.version
  }
  return { state, version, replayed: rows.length }
}

/**
 * The same one-query load written as an Effect program on `@effect/sql` (`sql.unsafe(...).values`): what any
 * Effect library on this driver pays at least, which splits the gap between ours and the bare driver into
 * the driver layer's share and ours.
 */
export const effectOneQuery = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe(oneQuerySql, ["Order", id]).values, (rows) => {
      const first = rows[0]
      if (first !== undefined && first[0] === 0) {
        return fold(
          id,
          decodeState(JSON.parse(first[2] as string)),
          Number(first[1]),
          rows.slice(1).map((r) => ({ version: Number(r[1]), body: r[2] as string }))
        )
      }
      return fold(id, undefined, 0, rows.map((r) => ({ version: Number(r[1]), body: r[2] as string })))
    }))

export const makeRaw = (url: string, schema: string | undefined) => {
  const scoped = new URL(url)
  if (schema !== undefined) scoped.searchParams.set("options", `-c search_path=${schema}`)
  const pool = new pg.Pool({ connectionString: scoped.toString(), max: 10 })

  /** Two queries: the snapshot row, then the tail. */
  const loadTwoQueries = async (id: string): Promise<RawLoaded> => {
    const snap = await pool.query<{ version: string; state: string }>(snapshotSql, ["Order", id])
    const row = snap.rows[0]
    const base = row === undefined ? undefined : decodeState(JSON.parse(row.state))
    const baseVersion = row === undefined ? 0 : Number(row.version)
    const tail = await pool.query<{ version: number; payload: string }>(tailSql, ["Order", id, baseVersion])
    return fold(id, base, baseVersion, tail.rows.map((r) => ({ version: r.version, body: r.payload })))
  }

  /** One query: snapshot UNION ALL tail. */
  const loadOneQuery = async (id: string): Promise<RawLoaded> => {
    const result = await pool.query<{ kind: number; version: string | number; body: string }>(oneQuerySql, [
      "Order",
      id
    ])
    const rows = result.rows
    const first = rows[0]
    if (first !== undefined && first.kind === 0) {
      return fold(
        id,
        decodeState(JSON.parse(first.body)),
        Number(first.version),
        rows.slice(1).map((r) => ({ version: Number(r.version), body: r.body }))
      )
    }
    return fold(id, undefined, 0, rows.map((r) => ({ version: Number(r.version), body: r.body })))
  }

  /** A bare INSERT of one event row, as `SqlEventStore` stores it. */
  const insert = async (id: string, version: number, event: OrderDomain.OrderEvent, encoded: unknown) => {
    await pool.query(
      `INSERT INTO ${events} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
VALUES ($1, $2, $3, $4, $5::jsonb, '{}'::jsonb, pg_current_xact_id())`,
      ["Order", id, version, event._tag, JSON.stringify(encoded)]
    )
  }

  return { pool, loadTwoQueries, loadOneQuery, insert, close: () => pool.end() }
}

export type Raw = ReturnType<typeof makeRaw>
