/**
 * The repository suite on the embedded PGlite (one connection), with fewer property cases. Runs only when no
 * real server is configured: with PG_URL, Repository.postgres.test.ts runs the full suite instead.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import { repositorySuite } from "../../loader/test/utils/repositorySuite.js"

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  // the suite provokes warnings on purpose
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error")),
  Layer.provideMerge(Postgres.layerEmbedded())
)

describe.skipIf(Postgres.hasServer)("EventSourcedRepository on PGlite", () => {
  // Live services: the embedded database's own fibers use time, which a TestClock would hold (and warn about).
  layer(TestLayer, { timeout: 120_000, excludeTestServices: true })((it) => {
    repositorySuite(it, { propertyRuns: 30, multiConnection: false })
  })
})
