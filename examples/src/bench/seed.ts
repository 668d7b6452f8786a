/**
 * Seeding long histories fast: events go straight into the library's own events table with one
 * `INSERT ... SELECT generate_series` per range, in the row format `SqlEventStore` writes (payload = the
 * event's JSON encoding with its `_tag`, metadata `{}`); the snapshot is written by the library itself, by a
 * `save` through a repository whose strategy says "always".
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { SqlEventStore } from "@effect-snapshots/sql"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import { Order } from "../Order.js"
import * as OrderDomain from "../OrderDomain.js"
import { customerId, encodedHistoryEvent, historyEvent } from "./history.js"

const eventsTable = SqlEventStore.defaultTable

/** Insert versions [from, to] of the generated history of `id` (see `history.ts`), in one statement. */
export const insertRange = Effect.fnUntraced(
  function*(id: string, from: number, to: number, skus: number = OrderDomain.catalogSize) {
    // Statements of at most 250,000 rows keep each transaction moderate.
    for (let start = from; start <= to; start += 250_000) {
      yield* insertChunk(id, start, Math.min(to, start + 249_999), skus)
    }
  }
)

const insertChunk = (id: string, from: number, to: number, skus: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(
      `INSERT INTO ${eventsTable} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
SELECT $1, $2, g,
  CASE WHEN g = 1 THEN 'OrderCreated' ELSE 'ItemAdded' END,
  CASE WHEN g = 1 THEN jsonb_build_object('_tag', 'OrderCreated', 'customerId', $3::text)
       ELSE jsonb_build_object('_tag', 'ItemAdded', 'sku', 'SKU-' || ((g - 2) % $6),
         'quantity', 1 + (g - 2) % 3, 'unitPrice', (((g - 2) % $6) + 1)::text || '.99') END,
  '{}'::jsonb, pg_current_xact_id()
FROM generate_series($4::int, $5::int) AS g`,
      [Order.type, id, customerId, from, to, skus]
    ).pipe(Effect.asVoid))

/** Append versions [from, to] through the EventStore (for the memory layers), in batches. */
export const appendRange = (id: string, from: number, to: number, skus = OrderDomain.catalogSize) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    Effect.gen(function*() {
      const batch = 10_000
      for (let start = from; start <= to; start += batch) {
        const events: Array<EventStore.NewEvent> = []
        for (let v = start; v <= Math.min(to, start + batch - 1); v++) events.push(encodedHistoryEvent(v, skus))
        yield* store.append(Order.type, id, start - 1, events)
      }
    }))

/**
 * A stream of `events` events whose newest snapshot, written by the library, is at `events - tail`
 * (none when that is below 1). `bulk` inserts the ranges before and after it.
 */
export const seedStream = <E, R>(
  id: string,
  events: number,
  tail: number,
  bulk: (id: string, from: number, to: number) => Effect.Effect<void, E, R>,
  skus = OrderDomain.catalogSize
) =>
  Effect.gen(function*() {
    const snapshotAt = events - tail
    if (snapshotAt < 1) return yield* bulk(id, 1, events)
    yield* bulk(id, 1, snapshotAt - 1)
    // One save through the library: it folds the stream (a full replay, once) and writes the snapshot at
    // `snapshotAt` in its own format (encoded state, schema version, fingerprint, position).
    const writer = yield* EventSourcedRepository.make(Order, { strategy: SnapshotStrategy.always })
    const saved = yield* writer.save(id, snapshotAt - 1, [historyEvent(snapshotAt, skus)])
    if (saved.snapshot !== "written") return yield* Effect.die(new Error(`no snapshot written: ${saved.snapshot}`))
    yield* bulk(id, snapshotAt + 1, events)
  }).pipe(Effect.scoped)
