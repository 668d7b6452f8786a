/**
 * `rebuild` and `EventStore.streams` on PostgreSQL (PG_URL; the embedded PGlite without it): SqlEventStore with
 * a small page size (so the stream listing pages) + SqlSnapshotStore, in a schema of this file's own.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import { rebuildSuite } from "../../loader/test/utils/rebuildSuite.js"

const Database = Postgres.layerTest("loader_rebuild_pg", { maxConnections: 8 }).pipe(
  // the suite's stale snapshots are logged as warnings, on purpose
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error"))
)

describe("EventSourcedRepository.rebuild on PostgreSQL", () => {
  // Live services: the database driver's own fibers use time, which a TestClock would hold (and warn about).
  layer(Database, { timeout: 120_000, excludeTestServices: true })((it) => {
    rebuildSuite(
      it,
      (effect) => Effect.provide(effect, Layer.merge(SqlEventStore.layerWith({ pageSize: 4 }), SqlSnapshotStore.layer))
    )
  })
})
