/**
 * SqlSnapshotStore on the embedded PGlite: always runs, also on machines without a Postgres server.
 * One PGlite instance for the whole file (each takes seconds and ~700 MB).
 */
import { Postgres } from "@effect-snapshots/postgres"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import { PatientClock, sqlSuite } from "./utils/sqlSuite.js"

describe("SqlSnapshotStore on embedded PGlite", () => {
  layer(Layer.provideMerge(Postgres.layerEmbedded(), PatientClock), { timeout: 120_000 })((it) => {
    // With a server, the decorator stack over SQL runs in SqlSnapshotStore.pg.test.ts; PGlite is slow.
    sqlSuite(it, { large: false, manyKeys: 120, stack: !Postgres.hasServer })
  })
})
