/**
 * The repository suite on the embedded PGlite (one connection), with fewer property cases. Runs only when no
 * real server is configured: with PG_URL, Repository.postgres.test.ts runs the full suite instead.
 */
import { SqlEventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/store"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import { repositorySuite } from "./utils/repositorySuite.js"

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layerEmbedded())
)

describe.skipIf(Postgres.hasServer)("EventSourcedRepository on PGlite", () => {
  layer(TestLayer, { timeout: 120_000 })((it) => {
    repositorySuite(it, { propertyRuns: 30, multiConnection: false })
  })
})
