/**
 * The peer, Emmett (`@event-driven-io/emmett-postgresql`), in its own process: creating an Emmett store
 * replaces `pg`'s global type parsers (its `dumbo` dependency), which would slow every other `pg` client of
 * the process about 2x. The parent drives it over IPC so both sides still alternate round by round:
 *
 *   parent -> { type: "setup", url, database, events } child -> { type: "ready", version }
 *   parent -> { type: "load" }                         child -> { type: "loaded", ms, version, itemCount, total }
 *   parent -> { type: "close" }                        child exits
 */
import type { Event } from "@event-driven-io/emmett"
import { getPostgreSQLEventStore, type PostgresEventStore } from "@event-driven-io/emmett-postgresql"
import * as BigDecimal from "effect/BigDecimal"
import * as Schema from "effect/Schema"
import { performance } from "node:perf_hooks"
import pg from "pg"
import * as OrderDomain from "../OrderDomain.js"
import { historyEvent } from "./history.js"

export type PeerRequest =
  | { readonly type: "setup"; readonly url: string; readonly database: string; readonly events: number }
  | { readonly type: "load" }
  | { readonly type: "close" }

export type PeerResponse =
  | { readonly type: "ready"; readonly version: number }
  | {
    readonly type: "loaded"
    readonly ms: number
    readonly version: number
    readonly itemCount: number
    readonly total: string
  }
  | { readonly type: "error"; readonly message: string }

// The events' JSON form, as our event store stores them.
const encodeEvent = Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderEvent))
const decodeEvent = Schema.decodeUnknownSync(Schema.toCodecJson(OrderDomain.OrderEvent))

const streamName = "Order-peer"

type EmmettEvent = Event<string, Record<string, unknown>>

const toEmmett = (event: OrderDomain.OrderEvent): EmmettEvent => {
  const { _tag, ...data } = encodeEvent(event) as { readonly _tag: string } & Record<string, unknown>
  return { type: _tag, data }
}

let store: PostgresEventStore | undefined

// Emmett gets a database of its own: its schema migrations look for their tables by name in every schema
// (`pg_tables`, `information_schema`), so a second Emmett schema in one database finds the first one's tables
// and skips creating its own.
const setup = async (url: string, database: string, events: number): Promise<number> => {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS "${database}"`)
  await admin.query(`CREATE DATABASE "${database}"`)
  await admin.end()
  const target = new URL(url)
  target.pathname = `/${database}`
  store = getPostgreSQLEventStore(target.toString())
  const batch = 1000
  for (let from = 1; from <= events; from += batch) {
    const slice: Array<EmmettEvent> = []
    for (let v = from; v < Math.min(events + 1, from + batch); v++) slice.push(toEmmett(historyEvent(v)))
    await store.appendToStream(streamName, slice)
  }
  return events
}

const load = async () => {
  const t0 = performance.now()
  const result = await store!.aggregateStream<OrderDomain.OrderState, EmmettEvent>(streamName, {
    initialState: () => OrderDomain.initial("peer"),
    // The same evolve as ours, on the same decoded events (ours decode every event with the Schema too).
    evolve: (state: OrderDomain.OrderState, event: EmmettEvent) =>
      OrderDomain.evolve(state, decodeEvent({ ...event.data, _tag: event.type }))
  })
  const ms = performance.now() - t0
  return {
    ms,
    version: Number(result.currentStreamVersion),
    itemCount: result.state.itemCount,
    total: BigDecimal.format(result.state.total)
  }
}

const reply = (response: PeerResponse): void => {
  process.send!(response)
}

if (process.send !== undefined) {
  process.on("message", (request: PeerRequest) => {
    const run = async (): Promise<void> => {
      switch (request.type) {
        case "setup":
          return reply({ type: "ready", version: await setup(request.url, request.database, request.events) })
        case "load":
          return reply({ type: "loaded", ...(await load()) })
        case "close":
          await store?.close()
          process.disconnect()
          return
      }
    }
    run().catch((error: unknown) => reply({ type: "error", message: String(error) }))
  })
}
