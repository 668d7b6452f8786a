/**
 * SqlSnapshotStore distributed on a Citus cluster (CITUS_URL, the coordinator): the store contract (with the
 * 20 MB state and more keys than one page) on the distributed table, plain and under the compressed +
 * resilient stack, and one-task plans for the per-aggregate statements. Skipped without CITUS_URL.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore, SqlSupport } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { SqlClient } from "effect/sql/SqlClient"
import { contract, freshType, make, saveIfDueContract } from "../../store/test/utils/contract.js"

const citusUrl = process.env.CITUS_URL ?? ""

const Citus = Postgres.layerUrlTest(citusUrl, "citus_store", { maxConnections: 8 })

/**
 * The test file's schema again, on a client that accepts server messages up to 64 MiB: the 20 MB state's row is
 * ~24 MB, above `@effect/sql-pg`'s default `maxMessageSize` (16 MiB), as in `SqlSnapshotStore.pg.test.ts`.
 */
const LargeMessages = Layer.unwrap(
  Effect.map(
    Effect.flatMap(SqlClient, (sql) => sql<{ schema: string }>`SELECT current_schema() AS schema`),
    ([row]) => {
      const url = new URL(citusUrl)
      url.searchParams.set("options", `-c search_path=${row!.schema}`)
      return PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 4, maxMessageSize: 64 * 1024 * 1024 })
    }
  )
)

const explain = (query: string, parameters: ReadonlyArray<unknown>) =>
  Effect.flatMap(SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(`EXPLAIN ${query}`, [...parameters])).pipe(
    Effect.map((rows) => rows.map((row) => String(Object.values(row)[0])).join("\n"))
  )

describe.skipIf(citusUrl === "")("SqlSnapshotStore distributed on Citus", () => {
  layer(Citus, { timeout: 180_000 })((it) => {
    it.layer(SqlSnapshotStore.layerWith({ table: "default_clock_snapshots", distributed: true }))(
      "contract (saveIfDue): distributed, with the database's clock",
      (it) => saveIfDueContract(it)
    )

    // The contract checks that each snapshot's own createdAt is kept: `clock: "application"`.
    it.layer(
      SqlSnapshotStore.layerWith({ pageSize: 50, distributed: true, clock: "application" }).pipe(
        Layer.provideMerge(LargeMessages)
      )
    )(
      "contract: SqlSnapshotStore.layerWith({ distributed: true })",
      (it) => {
        contract(it, { large: true, manyKeys: 120 })

        it.effect("the table is hash-distributed by aggregate_id; save, load, list and delete are one task", () =>
          Effect.gen(function*() {
            const sql = yield* SqlClient
            const [row] = yield* sql<{ method: string; column: string }>`
              SELECT partmethod::text AS method, column_to_column_name(logicalrelid, partkey) AS column
              FROM pg_dist_partition WHERE logicalrelid = 'effect_snapshots'::regclass`
            assert.deepStrictEqual([row?.method, row?.column], ["h", "aggregate_id"])
            const store = yield* SnapshotStore.SnapshotStore
            const type = freshType("plan")
            yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 3 }))
            const key = [type, "a"]
            const plans = [
              yield* explain(
                `INSERT INTO effect_snapshots (aggregate_type, aggregate_id, version, schema_version, encoding, state, created_at)
                 VALUES ($1, $2, 4, 1, 'json', '{}'::jsonb, now()) ON CONFLICT DO NOTHING`,
                key
              ),
              yield* explain(
                `SELECT version FROM effect_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2 AND version <= 9
                 ORDER BY version DESC LIMIT 1`,
                key
              ),
              yield* explain(
                `SELECT version FROM effect_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version`,
                key
              ),
              yield* explain(`DELETE FROM effect_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2`, key)
            ]
            for (const plan of plans) assert.match(plan, /Task Count: 1\b/, plan)
          }))
      }
    )

    it.layer(
      SqlSnapshotStore.layerWith({ table: "stack_snapshots", pageSize: 50, distributed: true, clock: "application" })
        .pipe(
          SnapshotStore.compressed({ thresholdBytes: 512 }),
          SnapshotStore.resilient({ timeout: "30 seconds" })
        )
    )(
      "contract: distributed + compressed + resilient",
      (it) => contract(it, { large: false, manyKeys: 120 })
    )

    it.effect("SqlSupport's Citus checks: coordinator, distribution by aggregate_id once, another kind reported", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        assert.isTrue(yield* SqlSupport.hasCitus(sql))
        assert.isUndefined(yield* SqlSupport.citusCoordinatorProblem(sql))
        const table = `support_${Math.random().toString(36).slice(2, 8)}`
        yield* sql.unsafe(`CREATE TABLE "${table}" (aggregate_type text COLLATE "C" NOT NULL,
          aggregate_id text COLLATE "C" NOT NULL, version bigint NOT NULL,
          PRIMARY KEY (aggregate_type, aggregate_id, version))`)
        yield* sql.unsafe(`INSERT INTO "${table}" SELECT 'T', 'id-' || g, 1 FROM generate_series(1, 20) AS g`)
        assert.isTrue(Option.isNone(yield* SqlSupport.citusDistribution(sql, `"${table}"`)))
        assert.deepStrictEqual(yield* SqlSupport.distributeByAggregateId(sql, `"${table}"`), { _tag: "Distributed" })
        const distribution = yield* SqlSupport.citusDistribution(sql, `"${table}"`)
        assert.deepStrictEqual(Option.getOrNull(distribution), { method: "h", column: "aggregate_id" })
        assert.deepStrictEqual(yield* SqlSupport.distributeByAggregateId(sql, `"${table}"`), {
          _tag: "AlreadyDistributed"
        })
        // the rows moved to the shards: all there, the coordinator's own copy emptied
        const [{ n }] = yield* sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`)
        assert.strictEqual(n, 20)
        const [{ size }] = yield* sql.unsafe<{ size: number }>(
          `SELECT pg_relation_size('"${table}"'::regclass)::int AS size`
        )
        assert.strictEqual(size, 0)
        // One colocation group for every table it distributes (as both stores' tables), whatever this file
        // created before: a second table, distributed the same way, lands in the same group.
        const peer = `${table}_peer`
        yield* sql.unsafe(`CREATE TABLE "${peer}" (aggregate_type text COLLATE "C" NOT NULL,
          aggregate_id text COLLATE "C" NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id))`)
        assert.deepStrictEqual(yield* SqlSupport.distributeByAggregateId(sql, `"${peer}"`), { _tag: "Distributed" })
        const [{ same }] = yield* sql.unsafe<{ same: boolean }>(`SELECT
          (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = '"${table}"'::regclass) =
          (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = '"${peer}"'::regclass) AS same`)
        assert.isTrue(same)
        const reference = `${table}_ref`
        yield* sql.unsafe(`CREATE TABLE "${reference}" (aggregate_id text PRIMARY KEY)`)
        yield* sql.unsafe(`SELECT create_reference_table('"${reference}"')`)
        const other = yield* SqlSupport.distributeByAggregateId(sql, `"${reference}"`)
        assert.strictEqual(other._tag, "OtherKind")
        assert.isFalse(SqlSupport.isByAggregateId(other as SqlSupport.CitusDistribution))
      }))

    it.effect("building the distributed store again (a restart) keeps the table and its snapshots", () =>
      Effect.gen(function*() {
        const type = freshType("restart")
        const layer = SqlSnapshotStore.layerWith({ table: "restart_snapshots", distributed: true })
        const once = <A, E>(f: (store: SnapshotStore.SnapshotStoreService) => Effect.Effect<A, E>) =>
          Effect.flatMap(SnapshotStore.SnapshotStore, f).pipe(Effect.provide(layer))
        yield* once((store) => store.save(make({ aggregateType: type, aggregateId: "a", version: 2 })))
        const loaded = yield* once((store) => store.load(type, "a"))
        assert.strictEqual(loaded._tag, "Some")
      }))
  })
})
