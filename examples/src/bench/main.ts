/**
 * `pnpm bench`: load time with and without snapshots against history length, our load against a bare-`pg`
 * baseline, round trips per load, a 1,000,000-event replay, save against a bare INSERT, and Emmett as the
 * peer. On the server at PG_URL when set, else on the embedded PGlite; and on the memory layers. With
 * CITUS_URL, the stores distributed on Citus against a plain server (`--only citus`, see `citus.ts`).
 *
 *   pnpm bench [--quick | --smoke] [--out FILE] [--only part,...]
 *
 * Every comparison runs side by side in one loop (alternating, rotating who goes first), after a warm-up,
 * and reports medians (p99 where asked). Results go to the terminal, to JSON (--out), and to an SVG chart
 * next to the JSON.
 *
 * This module sets up (options, servers, runtimes, repositories, seeding) and writes the summary; each section
 * is a function of `sections/` over the `Context` built here, and the targets are judged in `targets.ts`.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import { mkdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { dirname, resolve } from "node:path"
import pg from "pg"
import { Order } from "../Order.js"
import type * as OrderDomain from "../OrderDomain.js"
import * as Chart from "./chart.js"
import type { Common, Context, LoadPoint, Repo, Skipped } from "./context.js"
import { expectedState } from "./history.js"
import { round, type Stats } from "./measure.js"
import * as Cli from "./options.js"
import * as Raw from "./raw.js"
import * as RoundTrips from "./roundtrips.js"
import * as Backends from "./sections/backends.js"
import * as Load from "./sections/load.js"
import * as Replay from "./sections/replay.js"
import * as Restore from "./sections/restore.js"
import * as Save from "./sections/save.js"
import * as SeedScenario from "./sections/seedScenario.js"
import * as Seed from "./seed.js"
import * as Table from "./table.js"
import * as Targets from "./targets.js"
import type { Target } from "./targets.js"

const log = (line = "") => console.log(line)
const section = (title: string) => log(`\n== ${title} ${"=".repeat(Math.max(0, 100 - title.length))}`)

const fingerprintOf = (state: OrderDomain.OrderState) =>
  `${state.itemCount}/${BigDecimal.format(state.total)}/${state.lines.length}/${state.status}`

/** Drops what the run created on a real server; called at the end, and on failure. */
let dropBenchData = async (): Promise<void> => {}

const main = async (options: Cli.Options) => {
  const startedAt = new Date()
  const loadAtStart = os.loadavg()
  const url = process.env.PG_URL !== undefined && process.env.PG_URL !== "" ? process.env.PG_URL : undefined
  const backend: "postgres" | "pglite" = url === undefined ? "pglite" : "postgres"
  const skipped: Array<Skipped> = []
  const wants = (part: Cli.Part) => options.parts.includes(part)
  RoundTrips.install()
  // Its own schema on a shared server (dropped before and after); the smoke run's is per process, so a
  // test run cannot disturb a benchmark running at the same time. BENCH_SCHEMA names another one (two full
  // runs at once on one server would otherwise drop each other's tables).
  const schema = options.profile === "smoke"
    ? `effect_snapshots_bench_smoke_${process.pid}`
    : process.env.BENCH_SCHEMA ?? "effect_snapshots_bench"

  log(`effect-snapshots bench (${options.profile}), ${startedAt.toISOString()}`)
  log(
    `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}, ${
      Math.round(os.totalmem() / 2 ** 30)
    } GiB, Node ${process.version}`
  )

  // A fresh schema on a real server (and a database for Emmett); a fresh embedded instance otherwise.
  dropBenchData = async () => {
    if (url === undefined) return
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.query(`DROP DATABASE IF EXISTS ${schema}_emmett`)
    await admin.end()
  }
  await dropBenchData()
  if (url !== undefined) {
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    const version = await admin.query<{ server_version: string }>("SHOW server_version")
    log(`server: PostgreSQL ${version.rows[0]?.server_version} at ${new URL(url).host}`)
    await admin.end()
  } else {
    log("server: embedded PGlite (one connection); parts that need a second connection or process are skipped")
  }

  const sqlLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
    Layer.provideMerge(Postgres.layer({ schema }))
  )
  const sql = ManagedRuntime.make(sqlLayer)
  const memory = ManagedRuntime.make(Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory))
  const sqlScope = Effect.runSync(Scope.make())
  const memoryScope = Effect.runSync(Scope.make())
  const backendDescription = (await sql.runPromise(Postgres.Backend)).description

  const repoOf = <E, R>(
    runtime: ManagedRuntime.ManagedRuntime<R, E>,
    options: EventSourcedRepository.Options,
    snapshots?: Layer.Layer<SnapshotStore.SnapshotStore, never, never>
  ): Promise<Repo> => {
    const scope = (runtime as unknown) === (memory as unknown) ? memoryScope : sqlScope
    const make = EventSourcedRepository.make(Order, options)
    return runtime.runPromise(
      Scope.provide(snapshots === undefined ? make : Effect.provide(make, snapshots), scope) as Effect.Effect<
        Repo,
        unknown,
        R
      >
    )
  }
  const strategy = SnapshotStrategy.everyNEvents(options.snapshotEvery)

  // Cold loads (no cache): every with-snapshot load reads the snapshot and its tail.
  const cold = { strategy, cacheMaxBytes: 0 }
  const sqlRepo = await repoOf(sql, cold)
  // The same repository with an empty snapshot store: the full-replay side.
  const never = { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 }
  // `Layer.fresh`: an empty store of its own, never the memory runtime's (Effect 4 memoizes a layer provided
  // inside a runtime built from the same layer object).
  const sqlReplay = await repoOf(sql, never, Layer.fresh(SnapshotStore.layerMemory))
  const memRepo = await repoOf(memory, cold)
  const memReplay = await repoOf(memory, never, Layer.fresh(SnapshotStore.layerMemory))
  // Hot loads: the repository's cache (default capacity) holds what it loaded before.
  const sqlHot = await repoOf(sql, { strategy })

  const seeded = new Set<string>()
  const seedSql = async (id: string, events: number, tail: number, skus?: number) => {
    if (seeded.has(id)) return
    const t0 = performance.now()
    await sql.runPromise(
      Seed.seedStream(id, events, tail, (id, from, to) => Seed.insertRange(id, from, to, skus), skus)
    )
    seeded.add(id)
    log(`  seeded ${id}: ${Table.int(events)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }
  const seedMemory = async (id: string, events: number, tail: number, skus?: number) => {
    const t0 = performance.now()
    await memory.runPromise(
      Seed.seedStream(id, events, tail, (id, from, to) => Seed.appendRange(id, from, to, skus), skus)
    )
    log(`  seeded ${id}: ${Table.int(events)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }

  const expectedCache = new Map<string, string>()
  const expected = (events: number, skus?: number) => {
    const key = `${events}/${skus}`
    let value = expectedCache.get(key)
    if (value === undefined) {
      value = fingerprintOf(expectedState("x", events, skus))
      expectedCache.set(key, value)
    }
    return value
  }
  const checkLoaded = (events: number, skus?: number) => (name: string, result: unknown) => {
    const loaded = result as { readonly state: OrderDomain.OrderState; readonly version: number }
    const got = `${loaded.version}:${fingerprintOf(loaded.state)}`
    const want = `${events}:${expected(events, skus)}`
    if (got !== want) throw new Error(`${name}: loaded ${got}, expected ${want}`)
  }
  const measureOptions = {
    warmup: options.warmup,
    iterations: options.iterations,
    budgetMs: options.budgetMs,
    minIterations: options.minIterations
  }
  const common: Common = { options, log, section, wants, measureOptions, checkLoaded }

  const load = wants("load")
    ? await Load.loadSeries(common, sql, backend, options.sqlSizes, sqlRepo, sqlReplay, seedSql)
    : []

  const raw = url === undefined ? undefined : Raw.makeRaw(url, schema)
  if ((wants("vsRaw") || wants("save")) && raw === undefined) {
    skipped.push({ part: "vsRaw, save", reason: "the bare-pg baseline needs its own connection (set PG_URL)" })
  }
  const replayFloor: Array<Record<string, unknown>> = []
  const context: Context = {
    ...common,
    backend,
    url,
    schema,
    raw,
    sql,
    memory,
    repoOf,
    strategy,
    sqlRepo,
    sqlReplay,
    memRepo,
    memReplay,
    sqlHot,
    seedSql,
    seedMemory,
    skipped,
    replayFloor
  }
  const { vsRaw, roundTripsPerLoad, roundTrips } = await Load.runVsRaw(context)
  const { loadHot, loadCold } = await Load.runLoadHotCold(context)
  const save = await Save.runSave(context)
  const replay1M = await Replay.runReplay1M(context)
  const peer = await Replay.runPeer(context)
  const largeState = await Restore.runLargeState(context)
  const restore = await Restore.runRestore(context)
  const seedScenario = await SeedScenario.runSeedScenario(context)
  const citus = await Backends.runCitus(context)
  const redis = await Backends.runRedis(context)

  await raw?.close()
  await Effect.runPromise(Scope.close(sqlScope, Exit.void))
  await sql.dispose()

  // The memory layers last: their streams (up to 1,000,000 events) live in this process's heap, which
  // would slow every later measurement; they go when this runtime is disposed.
  const loadMemory = wants("memory")
    ? await Load.loadSeries(common, memory, "memory layers", options.memorySizes, memRepo, memReplay, seedMemory)
    : []
  await Effect.runPromise(Scope.close(memoryScope, Exit.void))
  await memory.dispose()
  await dropBenchData()

  // ------------------------------------------------------------------------------------------------------
  // targets, JSON, chart
  // ------------------------------------------------------------------------------------------------------
  const targets = Targets.targetsOf({
    load,
    vsRaw,
    loadHot,
    loadCold,
    replay1M,
    replayFloor,
    restore,
    seedScenario,
    save,
    peer,
    citus
  })

  section("summary")
  if (load.length > 0 || loadMemory.length > 0) {
    log(Table.render(
      ["backend", "events", "with snapshot ms", "full replay ms", "speed-up", "snapshot at", "replayed"],
      [...load.map((p) => [backend, p] as const), ...loadMemory.map((p) => ["memory", p] as const)].map((
        [b, p]
      ) => [
        b,
        Table.int(p.events),
        Table.ms(p.withSnapshotMs),
        Table.ms(p.fullReplayMs),
        Table.times(p.speedUp),
        p.snapshotVersion === null ? "-" : Table.int(p.snapshotVersion),
        Table.int(p.replayedWithSnapshot)
      ])
    ))
  }
  if (backend !== "postgres") {
    // The targets are judged on a real server; PGlite is one in-process connection.
    targets.length = 0
    log("\ntargets: judged on a real PostgreSQL server only (set PG_URL)")
  }
  if (targets.length > 0) {
    log()
    log(
      Table.render(
        ["target", "wanted", "measured", ""],
        targets.map((t) => [t.name, t.target, t.value, t.met ? "met" : "MISSED"])
      )
    )
  }
  for (const s of skipped) log(`skipped ${s.part}: ${s.reason}`)

  const finishedAt = new Date()
  const results = {
    backend,
    backendDescription,
    profile: options.profile,
    date: startedAt.toISOString(),
    durationSeconds: round((finishedAt.getTime() - startedAt.getTime()) / 1000),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      // 1-minute load average at the start and at the end: other work on the machine shows here.
      loadAverage: { start: round(loadAtStart[0]!), end: round(os.loadavg()[0]!) }
    },
    snapshotEvery: options.snapshotEvery,
    tail: options.tail,
    load,
    loadMemory,
    vsRaw,
    roundTripsPerLoad,
    roundTrips,
    loadHot,
    loadCold,
    replay1M,
    replayFloor,
    save,
    peer,
    largeState,
    restore,
    seedScenario,
    citus,
    redis,
    targets,
    skipped
  }
  const out = resolve(options.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
  const chartPath = out.replace(/\.json$/i, "") + ".svg"
  const points = [
    ...load.map((p) => ({ backend: backend === "postgres" ? "PostgreSQL" : "PGlite", ...p })),
    ...loadMemory.map((p) => ({ backend: "memory layers", ...p }))
  ]
  if (points.length > 0) {
    writeFileSync(
      chartPath,
      await Chart.render(
        points,
        `effect-snapshots: load time vs history length (${startedAt.toISOString().slice(0, 10)})`
      )
    )
  }
  log(`\nwrote ${out}${points.length > 0 ? ` and ${chartPath}` : ""} (${results.durationSeconds} s)`)
}

let options: Cli.Options
try {
  options = Cli.parse(process.argv.slice(2))
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(2)
}
main(options).then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
    await dropBenchData().catch(() => undefined)
    process.exit(1)
  }
)

export type { LoadPoint, Stats, Target }
