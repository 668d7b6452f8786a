import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

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

  it.effect("an embedded database in a data folder keeps what an earlier run wrote", () =>
    Effect.gen(function*() {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pglite-data-"))
      const write = Effect.gen(function*() {
        const sql = yield* SqlClient
        yield* sql`CREATE TABLE kept (id int primary key)`
        yield* sql`INSERT INTO kept VALUES (7)`
      }).pipe(Effect.provide(Postgres.layerEmbedded({ dataDir })))
      const read = Effect.gen(function*() {
        const sql = yield* SqlClient
        assert.match((yield* Postgres.Backend).description, /pglite-data-/)
        return yield* sql<{ id: number }>`SELECT id FROM kept`
      }).pipe(Effect.provide(Postgres.layerEmbedded({ dataDir })))
      yield* write
      assert.deepStrictEqual(yield* read, [{ id: 7 }])
      fs.rmSync(dataDir, { recursive: true, force: true })
    }), 60_000)
})
