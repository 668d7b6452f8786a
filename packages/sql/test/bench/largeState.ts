/**
 * How long does reading a large snapshot take, stored as jsonb vs compressed bytea? Not a test: run it
 * against a real server and read the figures.
 *
 *   PG_URL=postgres://postgres@127.0.0.1:5432/test pnpm exec tsx packages/sql/test/bench/largeState.ts
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as References from "effect/References"
import { SqlClient } from "effect/sql/SqlClient"
import * as zlib from "node:zlib"

const items = Number(process.env.ITEMS ?? 9999)
const runs = Number(process.env.RUNS ?? 60)

const state = {
  id: "order-1",
  customer: "c-42",
  items: Array.from({ length: items }, (_, i) => ({
    sku: `SKU-${String(i).padStart(6, "0")}`,
    qty: (i % 9) + 1,
    price: Math.round(i * 137) / 100,
    ok: i % 2 === 0
  }))
}
const json = JSON.stringify(state)

const snapshot = (id: string) =>
  new Snapshot.Snapshot({
    aggregateType: "Order",
    aggregateId: id,
    version: 10_000,
    schemaVersion: 1,
    createdAt: DateTime.makeUnsafe(Date.now()),
    metadata: {},
    state
  })

const median = (xs: Array<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const time = async (label: string, f: () => Promise<unknown>) => {
  for (let i = 0; i < 5; i++) await f() // warm-up
  const samples: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    await f()
    samples.push(performance.now() - t0)
  }
  console.log(`${label.padEnd(58)} median ${median(samples).toFixed(2)} ms  (min ${Math.min(...samples).toFixed(2)})`)
}

const main = async () => {
  const base = Postgres.layerTest("bench_large_state")
  const plain = SqlSnapshotStore.layerWith({ table: "bench_plain" })
  const gzip = SqlSnapshotStore.layerWith({ table: "bench_gzip" }).pipe(
    SnapshotStore.compressed({ thresholdBytes: 64 * 1024 })
  )
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(base, Layer.succeed(References.MinimumLogLevel, "None")).pipe(Layer.orDie)
  )
  const run = <A, E>(effect: Effect.Effect<A, E, SqlClient | Postgres.Backend>) => runtime.runPromise(effect)
  const plainStore = await run(Effect.provide(SnapshotStore.SnapshotStore, plain))
  const gzipStore = await run(Effect.provide(SnapshotStore.SnapshotStore, gzip))
  const backend = await run(Postgres.Backend)
  const sql = await run(SqlClient)

  console.log(`backend: ${backend.description}; state: ${items} items, ${(json.length / 1024).toFixed(0)} KB JSON`)
  const gz = zlib.gzipSync(json, { level: 1 })
  console.log(`gzip level 1: ${(gz.byteLength / 1024).toFixed(0)} KB (${(json.length / gz.byteLength).toFixed(1)}x)`)
  await time("node: JSON.stringify", async () => JSON.stringify(state))
  await time("node: JSON.parse", async () => JSON.parse(json))
  await time("node: gzip level 1", async () => zlib.gzipSync(json, { level: 1 }))
  await time("node: gunzip", async () => zlib.gunzipSync(gz))

  await run(plainStore.save(snapshot("a")))
  await run(gzipStore.save(snapshot("a")))
  let n = 0
  await time("save, jsonb (SqlSnapshotStore.layer)", () => run(plainStore.save(snapshot(`s${n++}`))))
  await time("save, gzip bytea (+ compressed)", () => run(gzipStore.save(snapshot(`s${n++}`))))
  await time("load, jsonb (SqlSnapshotStore.layer)", () => run(plainStore.load("Order", "a")))
  await time("load, gzip bytea (+ compressed)", () => run(gzipStore.load("Order", "a")))
  // The query alone, without decoding on the client:
  await time(
    "query: SELECT state::text (jsonb -> text on server)",
    () => run(sql`SELECT state::text AS s FROM bench_plain WHERE aggregate_type = 'Order' AND aggregate_id = 'a'`)
  )
  await time(
    "query: SELECT state_bytes (bytea)",
    () => run(sql`SELECT state_bytes AS s FROM bench_gzip WHERE aggregate_type = 'Order' AND aggregate_id = 'a'`)
  )
  await time("query: SELECT 1 (round-trip floor)", () => run(sql`SELECT 1`))
  await runtime.dispose()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
