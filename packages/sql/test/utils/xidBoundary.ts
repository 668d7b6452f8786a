/**
 * The SQL event store's readAll across a transaction-id boundary, on the shared event store contract's helpers.
 */
import { SqlEventStore } from "@effect-snapshots/sql"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { events, freshId } from "../../../loader/test/utils/eventStoreContract.js"

/**
 * readAll across a transaction-id digit boundary (e.g. 99,999 → 100,000), where ordering by the id's text
 * would put "100003" before "99998". The next transaction id must be just below `boundary` (within 14): the
 * events are appended one commit at a time (16 commits), so their transaction ids straddle it. Then
 * readAll, through stores with pages of 1, 2 and 3 events, must give every event once in commit order, and
 * resuming from EVERY event's position must give exactly the events after it.
 */
export const readAllAcrossXidBoundary = (boundary: number, table: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const stores = yield* Effect.forEach([1, 2, 3], (pageSize) => SqlEventStore.make({ table, pageSize }))
    const [{ next }] = yield* sql.unsafe<{ next: string }>(`SELECT pg_current_xact_id()::text AS next`)
    const start = Number(next)
    const appends = 16
    assert.isTrue(
      start < boundary && start > boundary - appends + 2,
      `next transaction id ${start}, boundary ${boundary}`
    )
    const streams = [freshId("xid-a"), freshId("xid-b"), freshId("xid-c")]
    const versions = [0, 0, 0]
    const expected: Array<number> = []
    for (let i = 0; i < appends; i++) {
      const s = i % 3
      const batch = events(i % 4 === 0 ? 2 : 1, versions[s]! + 1)
      const result = yield* stores[0]!.append("Xid", streams[s]!, versions[s]!, batch)
      versions[s] = result.version
      expected.push(...result.positions)
    }
    // the events' transaction ids really straddle the boundary, and every event is visible to readAll
    const [range] = yield* sql.unsafe<{ low: string; high: string; visible: number }>(
      `SELECT min(order_xid)::text AS low, max(order_xid)::text AS high,
         count(*) FILTER (WHERE order_xid < pg_snapshot_xmin(pg_current_snapshot()))::int AS visible
       FROM "${table}"`
    )
    assert.isTrue(Number(range!.low) < boundary && Number(range!.high) >= boundary, JSON.stringify(range))
    assert.strictEqual(range!.visible, expected.length)
    for (const [i, store] of stores.entries()) {
      const positions = (fromPosition?: number) =>
        Effect.map(
          Stream.runCollect(store.readAll(fromPosition === undefined ? {} : { fromPosition })),
          (read) => read.map((e) => e.position)
        )
      const label = `page size ${i + 1}`
      assert.deepStrictEqual(yield* positions(), expected, label)
      assert.deepStrictEqual(yield* positions(0), expected, label)
      for (const [k, position] of expected.entries()) {
        assert.deepStrictEqual(yield* positions(position), expected.slice(k + 1), `${label}, after ${position}`)
      }
    }
  })
