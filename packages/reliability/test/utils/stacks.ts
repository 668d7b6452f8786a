import { EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SqlClient } from "effect/sql"

/** The memory backends. */
export const memory = Layer.merge(EventStore.layerMemoryWith({ pageSize: 50 }), SnapshotStore.layerMemory)

/** The SQL backends on an isolated schema of the real server (or PGlite without PG_URL), with the SqlClient. */
export const sql = (prefix: string, maxConnections = 8) =>
  Layer.merge(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
    Layer.provideMerge(Postgres.layerTest(prefix, { maxConnections }))
  )

/**
 * The snapshot store on its own pool (same server, same schema as the `SqlClient` it is given).
 *
 * Effect 3's `@effect/sql-pg` cancelled an interrupted statement with `pg_cancel_backend(pid)` and then gave
 * the connection back to the pool; the cancel could land on whatever that connection ran next
 * (Effect-TS/effect #8068). Under `resilient`, a timed-out snapshot query is interrupted, so on a pool shared
 * with the event store an append could be cancelled instead. Effect 4's driver drains an aborted statement
 * before reusing its connection; the snapshot store keeps its own pool anyway, so only snapshot statements can
 * ever be hit, and `resilient` absorbs those. Needs PG_URL (PGlite has one connection).
 */
export const ownPool = <E, R>(
  snapshots: Layer.Layer<SnapshotStore.SnapshotStore, E, R | SqlClient.SqlClient>,
  maxConnections = 4
) =>
  Layer.unwrap(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
    const url = process.env.PG_URL ?? ""
    return snapshots.pipe(Layer.provide(Postgres.layerUrl(url, { schema: row!.schema, maxConnections })))
  }))

/** `sql`, with the snapshot store on its own pool (see `ownPool`). */
export const sqlTwoPools = (prefix: string, maxConnections = 8) =>
  Layer.merge(SqlEventStore.layer, ownPool(SqlSnapshotStore.layer)).pipe(
    Layer.provideMerge(Postgres.layerTest(prefix, { maxConnections }))
  )
