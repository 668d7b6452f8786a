/**
 * Bulk re-snapshot on a real Postgres: 10,000 aggregates of 200 events (seeded with one INSERT ... SELECT
 * generate_series), then
 *   1. throughput: `rebuild` of every aggregate without a rate limit (concurrency 8);
 *   2. the held rate: `rebuild` limited to `--per-second` (default 200), measured after the first second (the
 *      token bucket starts full), against the limit;
 *   3. the p99 of a concurrent load workload (4 fibers loading random aggregates of another type, each a full
 *      200-event replay) alone, with a rate-limited rebuild running, and with an unlimited one, alternating in
 *      rounds so the conditions are measured side by side.
 *
 *   pnpm exec tsx examples/src/bench/rebuild.ts [--aggregates N] [--per-second N] [--seconds N] [--rounds N]
 *
 * Needs PG_URL (default postgres://postgres@127.0.0.1:5432/test); works in a schema of its own, dropped at the end.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import * as os from "node:os"

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const aggregates = arg("aggregates", 10_000)
const eventsPer = 200
const perSecond = arg("per-second", 200)
const seconds = arg("seconds", 5)
const rounds = arg("rounds", 2)
const loadAggregates = 1_000

const url = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `bench_rebuild_${Date.now().toString(36)}`

const Ticked = Schema.TaggedStruct("Ticked", { by: Schema.Number })
const meter = (type: string) =>
  Aggregate.make({
    type,
    state: Schema.Struct({ total: Schema.Number, ticks: Schema.Number }),
    events: Schema.Union([Ticked]),
    initial: () => ({ total: 0, ticks: 0 }),
    evolve: (state, event) => ({ total: state.total + event.by, ticks: state.ticks + 1 })
  })
const Meter = meter("Meter")
const Gauge = meter("Gauge")

const id = (n: number) => `m-${String(n).padStart(6, "0")}`

const seed = (type: string, count: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(
      `INSERT INTO effect_snapshots_events (aggregate_type, aggregate_id, version, type, payload, order_xid)
SELECT $1, 'm-' || lpad(a::text, 6, '0'), v, 'Ticked', jsonb_build_object('_tag', 'Ticked', 'by', v), pg_current_xact_id()
FROM generate_series(0, $2::int - 1) a, generate_series(1, ${eventsPer}) v ORDER BY a, v`,
      [type, count]
    ))

const truncateSnapshots = Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`TRUNCATE effect_snapshots`))

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
const median = (xs: ReadonlyArray<number>) => quantile([...xs].sort((a, b) => a - b), 0.5)
const ms = (x: number) => Math.round(x * 100) / 100

/** 4 fibers loading random Gauges for `seconds`: each load's latency in ms. */
const loadWorkload = Effect.fnUntraced(function*(repo: {
  readonly load: (id: string) => Effect.Effect<unknown, unknown>
}) {
  const latencies: Array<number> = []
  const end = (yield* Clock.currentTimeMillis) + seconds * 1000
  const worker = Effect.gen(function*() {
    while ((yield* Clock.currentTimeMillis) < end) {
      const start = performance.now()
      yield* repo.load(id(Math.floor(Math.random() * loadAggregates)))
      latencies.push(performance.now() - start)
    }
  })
  yield* Effect.all([worker, worker, worker, worker], { concurrency: "unbounded", discard: true })
  latencies.sort((a, b) => a - b)
  return { loads: latencies.length, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) }
})

const program = Effect.gen(function*() {
  console.log(`rebuild bench: ${aggregates} aggregates x ${eventsPer} events on ${url.replace(/:[^:@/]*@/, "@")}`)
  console.log(
    `node ${process.version}, ${os.cpus().length} cores, load average ${
      os.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`
  )
  const seedStart = performance.now()
  yield* seed("Meter", aggregates)
  yield* seed("Gauge", loadAggregates)
  yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`ANALYZE effect_snapshots_events`))
  console.log(
    `seeded ${(aggregates + loadAggregates) * eventsPer} events in ${
      ((performance.now() - seedStart) / 1000).toFixed(1)
    } s`
  )

  const meters = yield* EventSourcedRepository.make(Meter, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
  const gauges = yield* EventSourcedRepository.make(Gauge, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })

  // 1. throughput
  const t0 = performance.now()
  const full = yield* meters.rebuild({ concurrency: 8 })
  const elapsed = (performance.now() - t0) / 1000
  console.log(
    `1. unlimited rebuild (concurrency 8): ${full.written} written, ${full.failed} failed in ${
      elapsed.toFixed(1)
    } s = ${(full.done / elapsed).toFixed(0)} aggregates/s (${
      ((full.done * eventsPer) / elapsed / 1000).toFixed(0)
    }k events/s replayed)`
  )
  const fromSnapshot = yield* meters.load(id(1))
  console.log(`   then a load comes from: ${fromSnapshot.source} (replayed ${fromSnapshot.replayed})`)

  // 2. the held rate
  yield* truncateSnapshots
  const rates: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    yield* truncateSnapshots
    const marks: Array<{ readonly at: number; readonly done: number }> = []
    const runFor = Math.min(seconds + 1, (aggregates / perSecond) * 0.9)
    yield* meters.rebuildStream({ perSecond, concurrency: 8 }).pipe(
      Stream.runForEach((p) => Effect.sync(() => marks.push({ at: performance.now(), done: p.done }))),
      Effect.timeout(`${runFor} seconds`),
      Effect.ignore
    )
    const first = marks.find((m) => m.at - marks[0]!.at >= 1000)
    const last = marks[marks.length - 1]!
    if (first !== undefined && last.at > first.at) rates.push(((last.done - first.done) * 1000) / (last.at - first.at))
  }
  const held = median(rates)
  console.log(
    `2. held rate with --per-second ${perSecond}: ${rates.map((r) => r.toFixed(1)).join(", ")} /s; median ${
      held.toFixed(1)
    } = ${((held / perSecond) * 100).toFixed(1)}% of the limit`
  )

  // 3. p99 of a concurrent load workload, side by side
  const results: Record<string, Array<{ loads: number; p50: number; p99: number }>> = {
    alone: [],
    [`with rebuild at ${perSecond}/s`]: [],
    "with unlimited rebuild": []
  }
  const withRebuild = Effect.fnUntraced(function*(options: EventSourcedRepository.RebuildOptions) {
    yield* truncateSnapshots
    const fiber = yield* Effect.forkChild(meters.rebuild(options))
    const measured = yield* loadWorkload(gauges)
    yield* Fiber.interrupt(fiber)
    return measured
  })
  yield* loadWorkload(gauges) // warm-up
  for (let round = 0; round < rounds; round++) {
    const order = [
      ["alone", loadWorkload(gauges)],
      [`with rebuild at ${perSecond}/s`, withRebuild({ perSecond, concurrency: 8 })],
      ["with unlimited rebuild", withRebuild({ concurrency: 8 })]
    ] as const
    for (let k = 0; k < order.length; k++) {
      const [name, run] = order[(k + round) % order.length]!
      results[name]!.push(yield* run)
    }
  }
  console.log(
    `3. load workload (4 fibers, full 200-event replays of another type), ${seconds} s each, ${rounds} rounds:`
  )
  const alone = median(results.alone!.map((r) => r.p99))
  for (const [name, runs] of Object.entries(results)) {
    const p99 = median(runs.map((r) => r.p99))
    console.log(
      `   ${name.padEnd(26)} loads/s ${(median(runs.map((r) => r.loads)) / seconds).toFixed(0).padStart(5)}  p50 ${
        ms(median(runs.map((r) => r.p50)))
      } ms  p99 ${ms(p99)} ms (${(p99 / alone).toFixed(2)}x alone)  per round p99: ${
        runs.map((r) => ms(r.p99)).join(", ")
      }`
    )
  }
  console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`)
})

const Stores = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layerUrl(url, { schema, maxConnections: 16 }))
)

const dropSchema = Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
  .pipe(
    Effect.provide(Postgres.layerUrl(url, { maxConnections: 1 })),
    Effect.scoped,
    Effect.ignore
  )

void Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(Stores),
    Effect.ensuring(dropSchema),
    Effect.tapCause(Effect.logError)
  )
)
