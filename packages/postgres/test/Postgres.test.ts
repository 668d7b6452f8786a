import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { SqlClient } from "effect/sql/SqlClient"

describe("Postgres.layerTest", () => {
  layer(Postgres.layerTest("postgres_test"), { timeout: 60_000 })((it) => {
    it.effect("answers queries in its own schema", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const backend = yield* Postgres.Backend
        yield* sql`CREATE TABLE probe (id int primary key, body jsonb not null)`
        yield* sql`INSERT INTO probe ${sql.insert({ id: 1, body: JSON.stringify({ a: [1, "x"] }) })}`
        const rows = yield* sql<{ id: number; body: unknown }>`SELECT id, body FROM probe`
        assert.deepStrictEqual(rows, [{ id: 1, body: { a: [1, "x"] } }])
        if (backend.kind === "postgres") {
          const [{ schema }] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
          assert.match(schema!, /^postgres_test_/)
        }
      }))
  })

  it.effect("embedded PGlite serves queries over its one connection", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const rows = yield* sql<{ n: number }>`SELECT 41 + 1 AS n`
      assert.deepStrictEqual(rows, [{ n: 42 }])
      assert.strictEqual((yield* Postgres.Backend).kind, "pglite")
    }).pipe(Effect.provide(Postgres.layerEmbedded())), 60_000)
})
