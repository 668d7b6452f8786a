/**
 * The repository the way an application uses it (issue 9), on the embedded PGlite (one connection). Runs only
 * when no real server is configured: with PG_URL, Application.postgres.test.ts runs the same scenarios.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { describe, layer } from "@effect/vitest"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import { bareTransaction, sharedScenarios, sqlScenarios, unitOfWork } from "../../loader/test/ApplicationScenarios.js"

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer, SqlUnitOfWork.layer).pipe(
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error")),
  Layer.provideMerge(Postgres.layerEmbedded())
)

describe.skipIf(Postgres.hasServer)("the repository in an application, on PGlite", () => {
  layer(TestLayer, { timeout: 120_000, excludeTestServices: true })((it) => {
    sqlScenarios(it, "Lite", bareTransaction)
    sqlScenarios(it, "LiteUnit", unitOfWork)
    sharedScenarios(it, "Lite")
  })
})
