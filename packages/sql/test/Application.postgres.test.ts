/**
 * The repository the way an application uses it (issue 9), on a real PostgreSQL server (PG_URL): saves in the
 * application's transaction, several instances on one database, background mode, `resilient`. Skipped
 * without PG_URL (Application.pglite.test.ts runs the same scenarios on PGlite).
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import { bareTransaction, sharedScenarios, sqlScenarios, unitOfWork } from "../../loader/test/ApplicationScenarios.js"

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer, SqlUnitOfWork.layer).pipe(
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error")),
  Layer.provideMerge(Postgres.layerTest("loader_application_pg", { maxConnections: 10 }))
)

describe.skipIf(!Postgres.hasServer)("the repository in an application, on PostgreSQL", () => {
  layer(TestLayer, { timeout: 120_000, excludeTestServices: true })((it) => {
    sqlScenarios(it, "Pg", bareTransaction)
    sqlScenarios(it, "PgUnit", unitOfWork)
    sharedScenarios(it, "Pg")
  })
})
