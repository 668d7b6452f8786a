import { EventStore, SqlEventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SnapshotStore, SqlSnapshotStore } from "@effect-snapshots/store"
import * as Layer from "effect/Layer"

/** The memory backends. */
export const memory = Layer.merge(EventStore.layerMemoryWith({ pageSize: 50 }), SnapshotStore.layerMemory)

/** The SQL backends on an isolated schema of the real server (or PGlite without PG_URL), with the SqlClient. */
export const sql = (prefix: string, maxConnections = 8) =>
  Layer.merge(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
    Layer.provideMerge(Postgres.layerTest(prefix, { maxConnections }))
  )
