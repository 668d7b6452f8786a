/**
 * The hand-written baselines on the bare `pg` driver, against the library's own tables: what an application
 * would write to load an Order from its newest snapshot and the events after it (read the snapshot row, read
 * the tail, JSON.parse, decode with the same Schemas, fold with the same `evolve`), and to append one event.
 * Every statement is prepared (`pg`'s named queries), as Effect 4's driver prepares its statements: the
 * baseline and the library then pay the same server-side planning.
 */
import { Aggregate } from "@effect-snapshots/loader"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import pg from "pg"
import { Order } from "../Order.js"
import * as OrderDomain from "../OrderDomain.js"

const snapshots = SqlSnapshotStore.defaultTable
const events = SqlEventStore.defaultTable

/** How a baseline decodes the snapshot state and the events. */
export interface Decoders {
  readonly state: (encoded: unknown) => OrderDomain.OrderState
  readonly event: (payload: unknown) => OrderDomain.OrderEvent
}

/** Schema's own decoders of the stored JSON, as an application writes them by hand. */
export const schemaDecoders: Decoders = {
  state: Schema.decodeUnknownSync(Schema.toCodecJson(OrderDomain.OrderState)),
  event: Schema.decodeUnknownSync(Schema.toCodecJson(OrderDomain.OrderEvent))
}

/** The decoders the library uses (built once per aggregate, through `Aggregate`): the baseline then differs from ours only
 * in what is around the decoding. */
export const aggregateDecoders: Decoders = {
  state: (encoded) =>
    Result.getOrThrowWith(
      Aggregate.restoreState(Order, { schemaVersion: Order.schemaVersion, state: encoded, metadata: {} }),
      (skipped) => new Error(skipped.message)
    ).state,
  event: (payload) => {
    const type = (payload as { readonly _tag?: unknown } | null)?._tag
    return Result.getOrThrow(Aggregate.decodeEvent(Order, {
      aggregateType: Order.type,
      aggregateId: "raw",
      version: 1,
      position: 1,
      type: typeof type === "string" ? type : "?",
      payload,
      metadata: {},
      createdAt: epoch
    }))
  }
}
const epoch = DateTime.makeUnsafe(0)

const decodeState = schemaDecoders.state

/** What a process holding an aggregate in memory knows of it. */
export interface Known {
  readonly state: OrderDomain.OrderState
  readonly version: number
  readonly position: number
}

export const hotTailSql = `SELECT version, position, payload FROM ${events}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version >= $3 ORDER BY version`

export const pageSql = `SELECT version, payload FROM ${events}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version LIMIT $4`

export interface RawLoaded {
  readonly state: OrderDomain.OrderState
  readonly version: number
  readonly replayed: number
}

// Plain states are stored as JSON text (`state_text`, the store's migration 0003): read as they are.
const snapshotSql = `SELECT version, state_text AS state FROM ${snapshots}
WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`

const tailSql = `SELECT version, payload::text AS payload FROM ${events}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version`

// One round trip: the newest snapshot (one backward probe of its primary key) UNION ALL the events after it,
// the snapshot row first (its `kind` sorts first).
export const oneQuerySql = `WITH s AS (
  SELECT version, state_text FROM ${snapshots}
  WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1
)
SELECT 0 AS kind, version, state_text AS body FROM s
UNION ALL
SELECT 1 AS kind, version, payload::text AS body FROM ${events}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > COALESCE((SELECT version FROM s), 0)
ORDER BY kind, version`

const fold = (
  decoders: Decoders,
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
    state = OrderDomain.evolve(state, decoders.event(JSON.parse(row.body)))
    version = row.version
  }
  return { state, version, replayed: rows.length }
}

/**
 * The same one-query load written as an Effect program on `effect/sql` (`sql.unsafe(...).values`): what any
 * Effect library on this driver pays at least, which splits the gap between ours and the bare driver into
 * the driver layer's share and ours.
 */
export const effectOneQuery = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe(oneQuerySql, ["Order", id]).values, (rows) => {
      const first = rows[0]
      if (first !== undefined && first[0] === 0) {
        return fold(
          schemaDecoders,
          id,
          decodeState(JSON.parse(first[2] as string)),
          Number(first[1]),
          rows.slice(1).map((r) => ({ version: Number(r[1]), body: r[2] as string }))
        )
      }
      return fold(schemaDecoders, id, undefined, 0, rows.map((r) => ({ version: Number(r[1]), body: r[2] as string })))
    }))

/** The hot load's one query and fold (`loadTail`) as an Effect program on `effect/sql`: the driver layer's share. */
export const effectLoadTail = (id: string, known: Known) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      Effect.map(sql.unsafe(hotTailSql, ["Order", id, known.version]).values, (rows): RawLoaded => {
        const head = rows[0]
        if (head === undefined || Number(head[1]) !== known.position) throw new Error("the held state is stale")
        let state = known.state
        let version = known.version
        for (let i = 1; i < rows.length; i++) {
          state = OrderDomain.evolve(state, schemaDecoders.event(rows[i]![2]))
          version = Number(rows[i]![0])
        }
        return { state, version, replayed: rows.length - 1 }
      })
  )

/** The bare INSERT of one event row (`insert`) as an Effect program on `effect/sql`. */
export const effectInsert = (id: string, version: number, event: OrderDomain.OrderEvent, encoded: unknown) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => Effect.asVoid(sql.unsafe(insertSql, ["Order", id, version, event._tag, JSON.stringify(encoded)]))
  )

const insertSql = `INSERT INTO ${events} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
VALUES ($1, $2, $3, $4, $5::jsonb, '{}'::jsonb, pg_current_xact_id())`

export const makeRaw = (url: string, schema: string | undefined) => {
  const scoped = new URL(url)
  if (schema !== undefined) scoped.searchParams.set("options", `-c search_path=${schema}`)
  const pool = new pg.Pool({ connectionString: scoped.toString(), max: 10 })

  /** Two queries: the snapshot row, then the tail. */
  const loadTwoQueries = async (id: string): Promise<RawLoaded> => {
    const snap = await pool.query<{ version: string; state: string }>({
      name: "raw_snapshot",
      text: snapshotSql,
      values: ["Order", id]
    })
    const row = snap.rows[0]
    const base = row === undefined ? undefined : decodeState(JSON.parse(row.state))
    const baseVersion = row === undefined ? 0 : Number(row.version)
    const tail = await pool.query<{ version: number; payload: string }>({
      name: "raw_tail",
      text: tailSql,
      values: ["Order", id, baseVersion]
    })
    return fold(schemaDecoders, id, base, baseVersion, tail.rows.map((r) => ({ version: r.version, body: r.payload })))
  }

  /** One query: snapshot UNION ALL tail. */
  const loadOneQuery = async (id: string, decoders: Decoders = schemaDecoders): Promise<RawLoaded> => {
    const result = await pool.query<{ kind: number; version: string | number; body: string }>({
      name: "raw_one_query",
      text: oneQuerySql,
      values: ["Order", id]
    })
    const rows = result.rows
    const first = rows[0]
    if (first !== undefined && first.kind === 0) {
      return fold(
        decoders,
        id,
        decoders.state(JSON.parse(first.body)),
        Number(first.version),
        rows.slice(1).map((r) => ({ version: Number(r.version), body: r.body }))
      )
    }
    return fold(decoders, id, undefined, 0, rows.map((r) => ({ version: Number(r.version), body: r.body })))
  }

  /**
   * A hot load by hand: the process holds the state at `known.version` (and the position of that event),
   * so one query reads the events from that version on; the first row proves the held state is current
   * (same event at the same position), the others fold onto it.
   */
  const loadTail = async (id: string, known: Known, decoders: Decoders = schemaDecoders): Promise<RawLoaded> => {
    const result = await pool.query<{ version: number; position: string; payload: unknown }>({
      name: "raw_hot_tail",
      text: hotTailSql,
      values: ["Order", id, known.version]
    })
    const rows = result.rows
    const head = rows[0]
    if (head === undefined || Number(head.position) !== known.position) throw new Error("the held state is stale")
    let state = known.state
    let version = known.version
    for (let i = 1; i < rows.length; i++) {
      state = OrderDomain.evolve(state, decoders.event(rows[i]!.payload))
      version = rows[i]!.version
    }
    return { state, version, replayed: rows.length - 1 }
  }

  /**
   * A full replay by hand, the same work as ours: a first page of 2,000 events (ours comes with the cold read),
   * then pages of the SQL store's 1,000 by keyset (`version > last`), the next page's query sent before this
   * page is folded; the payload parsed by the driver (jsonb), decoded (with Schema's own decoder unless told),
   * folded with the same `evolve`.
   */
  const fullReplay = async (id: string, decoders: Decoders = schemaDecoders): Promise<RawLoaded> => {
    const pageAfter = (version: number, size: number) =>
      pool.query<{ version: number; payload: unknown }>({
        name: "raw_page",
        text: pageSql,
        values: ["Order", id, version, size]
      })
    let state = OrderDomain.initial(id)
    let version = 0
    let replayed = 0
    let size = 2000
    let page = await pageAfter(0, size)
    for (;;) {
      const full = page.rows.length === size
      size = 1000
      const next = full ? pageAfter(page.rows[page.rows.length - 1]!.version, size) : undefined
      for (const row of page.rows) {
        state = OrderDomain.evolve(state, decoders.event(row.payload))
        version = row.version
      }
      replayed += page.rows.length
      if (next === undefined) return { state, version, replayed }
      page = await next
    }
  }

  /** A bare INSERT of one event row, as `SqlEventStore` stores it (`encoded`: the event's JSON form). */
  const insert = async (id: string, version: number, event: OrderDomain.OrderEvent, encoded: unknown) => {
    await pool.query({
      name: "raw_insert",
      text: insertSql,
      values: ["Order", id, version, event._tag, JSON.stringify(encoded)]
    })
  }

  return { pool, loadTwoQueries, loadOneQuery, loadTail, fullReplay, insert, close: () => pool.end() }
}

export type Raw = ReturnType<typeof makeRaw>
