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
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import { mkdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { dirname, resolve } from "node:path"
import pg from "pg"
import { Order } from "../Order.js"
import * as OrderDomain from "../OrderDomain.js"
import * as Breakdown from "./breakdown.js"
import * as Chart from "./chart.js"
import * as Child from "./child.js"
import * as Citus from "./citus.js"
import { expectedState, historyEvent } from "./history.js"
import { compare, round, SelfTimed, type Stats } from "./measure.js"
import * as Cli from "./options.js"
import type { PeerRequest, PeerResponse } from "./peer-child.js"
import * as Raw from "./raw.js"
import * as RedisBench from "./redis.js"
import type { ReplayRequest, ReplayResponse } from "./replay-child.js"
import { decodeOrderState } from "./restoreDecoders.js"
import * as RoundTrips from "./roundtrips.js"
import * as Seed from "./seed.js"
import * as Table from "./table.js"

/** A row of the round-trip tables: median, p99, round trips and statements of one case. */
const tripsRow = (
  label: string,
  stats: Stats,
  trips: { readonly roundTrips: number; readonly statements: number }
) => [label, Table.ms(stats.medianMs), Table.ms(stats.p99Ms), trips.roundTrips, trips.statements]

type Repo = EventSourcedRepository.EventSourcedRepository<OrderDomain.OrderState, OrderDomain.OrderEvent>

export interface LoadPoint {
  readonly events: number
  readonly snapshotEvery: number
  readonly withSnapshotMs: number
  readonly fullReplayMs: number
  readonly withSnapshotP99Ms: number
  readonly fullReplayP99Ms: number
  readonly snapshotVersion: number | null
  readonly replayedWithSnapshot: number
  readonly speedUp: number
  readonly samples: number
}

export interface Target {
  readonly name: string
  readonly target: string
  readonly value: string
  readonly met: boolean
}

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
  const skipped: Array<{ readonly part: string; readonly reason: string }> = []
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

  // ------------------------------------------------------------------------------------------------------
  // load: with a snapshot vs full replay, against history length
  // ------------------------------------------------------------------------------------------------------
  const loadSeries = async <R, E>(
    runtime: ManagedRuntime.ManagedRuntime<R, E>,
    label: string,
    sizes: ReadonlyArray<number>,
    repo: Repo,
    replay: Repo,
    seed: (id: string, events: number, tail: number) => Promise<void>
  ): Promise<Array<LoadPoint>> => {
    section(`load (${label}): snapshot every ${options.snapshotEvery}, ${options.tail} events after the snapshot`)
    const points: Array<LoadPoint> = []
    for (const events of sizes) {
      const id = `load-${events}`
      await seed(id, events, options.tail)
      let snapshotVersion: number | null = null
      let replayed = 0
      const stats = await compare(
        {
          withSnapshot: () => runtime.runPromise(repo.load(id)),
          fullReplay: () => runtime.runPromise(replay.load(id))
        },
        measureOptions,
        (name, result) => {
          checkLoaded(events)(name, result)
          if (name === "withSnapshot") {
            const loaded = result as EventSourcedRepository.Loaded<OrderDomain.OrderState>
            snapshotVersion = Option.getOrNull(loaded.snapshotVersion)
            replayed = loaded.replayed
          }
        }
      )
      const point: LoadPoint = {
        events,
        snapshotEvery: options.snapshotEvery,
        withSnapshotMs: round(stats.withSnapshot.medianMs),
        fullReplayMs: round(stats.fullReplay.medianMs),
        withSnapshotP99Ms: round(stats.withSnapshot.p99Ms),
        fullReplayP99Ms: round(stats.fullReplay.p99Ms),
        snapshotVersion,
        replayedWithSnapshot: replayed,
        speedUp: round(stats.fullReplay.medianMs / stats.withSnapshot.medianMs),
        samples: stats.withSnapshot.samples
      }
      points.push(point)
      log(
        `  ${Table.int(events).padStart(9)} events: with snapshot ${Table.ms(point.withSnapshotMs)} ms, ` +
          `full replay ${Table.ms(point.fullReplayMs)} ms (${Table.times(point.speedUp)}, n=${point.samples})`
      )
    }
    return points
  }

  const load = wants("load")
    ? await loadSeries(sql, backend, options.sqlSizes, sqlRepo, sqlReplay, seedSql)
    : []

  // ------------------------------------------------------------------------------------------------------
  // vsRaw and round trips
  // ------------------------------------------------------------------------------------------------------
  let vsRaw: Record<string, unknown> | null = null
  let roundTripsPerLoad: number | null = null
  let roundTrips: Record<string, number> | null = null
  let save: Record<string, unknown> | null = null
  const raw = url === undefined ? undefined : Raw.makeRaw(url, schema)
  if ((wants("vsRaw") || wants("save")) && raw === undefined) {
    skipped.push({ part: "vsRaw, save", reason: "the bare-pg baseline needs its own connection (set PG_URL)" })
  }

  if (wants("vsRaw") && raw !== undefined) {
    section(`vsRaw: repo.load vs bare pg (snapshot row + tail, JSON.parse, same Schemas, same evolve)`)
    const events = options.vsRawEvents
    const id = `load-${events}`
    await seedSql(id, events, options.tail)
    const stats = await compare(
      {
        library: () => sql.runPromise(sqlRepo.load(id)),
        rawOneQuery: () => raw.loadOneQuery(id),
        rawTwoQueries: () => raw.loadTwoQueries(id),
        effectOneQuery: () => sql.runPromise(Raw.effectOneQuery(id)),
        // The library's stores without the repository: where the time of `repo.load` goes.
        servicesStream: () => sql.runPromise(Breakdown.servicesWithStream(id)),
        servicesNoStream: () => sql.runPromise(Breakdown.servicesWithoutStream(id))
      },
      { ...measureOptions, iterations: options.iterations * 3 },
      checkLoaded(events)
    )
    const library = await RoundTrips.measure(() => sql.runPromise(sqlRepo.load(id)))
    const one = await RoundTrips.measure(() => raw.loadOneQuery(id))
    const two = await RoundTrips.measure(() => raw.loadTwoQueries(id))
    const full = await RoundTrips.measure(() => sql.runPromise(sqlReplay.load(id)))
    roundTripsPerLoad = library.roundTrips
    roundTrips = {
      library: library.roundTrips,
      libraryFullReplay: full.roundTrips,
      rawOneQuery: one.roundTrips,
      rawTwoQueries: two.roundTrips
    }
    vsRaw = {
      events,
      tail: options.tail,
      libraryMs: round(stats.library.medianMs),
      rawMs: round(stats.rawOneQuery.medianMs),
      ratio: round(stats.library.medianMs / stats.rawOneQuery.medianMs),
      rawTwoQueriesMs: round(stats.rawTwoQueries.medianMs),
      ratioTwoQueries: round(stats.library.medianMs / stats.rawTwoQueries.medianMs),
      libraryP99Ms: round(stats.library.p99Ms),
      rawP99Ms: round(stats.rawOneQuery.p99Ms),
      effectOneQueryMs: round(stats.effectOneQuery.medianMs),
      servicesStreamMs: round(stats.servicesStream.medianMs),
      servicesNoStreamMs: round(stats.servicesNoStream.medianMs),
      samples: stats.library.samples
    }
    log(
      Table.render(["", "median ms", "p99 ms", "round trips"], [
        ["repo.load (ours)", Table.ms(stats.library.medianMs), Table.ms(stats.library.p99Ms), library.roundTrips],
        ["bare pg, 1 query", Table.ms(stats.rawOneQuery.medianMs), Table.ms(stats.rawOneQuery.p99Ms), one.roundTrips],
        [
          "bare pg, 2 queries",
          Table.ms(stats.rawTwoQueries.medianMs),
          Table.ms(stats.rawTwoQueries.p99Ms),
          two.roundTrips
        ],
        [
          "effect/sql, 1 query",
          Table.ms(stats.effectOneQuery.medianMs),
          Table.ms(stats.effectOneQuery.p99Ms),
          one.roundTrips
        ],
        [
          "our stores, tail as a Stream",
          Table.ms(stats.servicesStream.medianMs),
          Table.ms(stats.servicesStream.p99Ms),
          library.roundTrips
        ],
        [
          "our stores, tail in 1 sql call",
          Table.ms(stats.servicesNoStream.medianMs),
          Table.ms(stats.servicesNoStream.p99Ms),
          library.roundTrips
        ]
      ])
    )
    log(
      `  ratio ours / 1-query floor: ${Table.times(vsRaw.ratio as number)}; ours / 2 queries: ${
        Table.times(vsRaw.ratioTwoQueries as number)
      }; full replay of ${Table.int(events)} events: ${full.roundTrips} round trips`
    )
  }

  // ------------------------------------------------------------------------------------------------------
  // loadHot and loadCold: a load the repository's cache knows, and one that reads the snapshot
  // ------------------------------------------------------------------------------------------------------
  let loadHot: Record<string, unknown> | null = null
  let loadCold: Record<string, unknown> | null = null
  if ((wants("loadHot") || wants("loadCold")) && raw === undefined) {
    skipped.push({ part: "loadHot, loadCold", reason: "the bare-pg baseline needs its own connection (set PG_URL)" })
  }
  if (wants("loadHot") && raw !== undefined) {
    section(`loadHot: repo.load of an aggregate it loaded before vs bare pg, one query for the tail`)
    const events = options.vsRawEvents
    const id = `load-${events}`
    await seedSql(id, events, options.tail)
    // The repository now holds it; the bare side holds the same state, version and position.
    const first = await sql.runPromise(sqlHot.load(id))
    const at = await raw.pool.query<{ position: string }>(
      `SELECT position FROM ${SqlEventStore.defaultTable} WHERE aggregate_type = $1 AND aggregate_id = $2 AND version = $3`,
      [Order.type, id, first.version]
    )
    const known: Raw.Known = { state: first.state, version: first.version, position: Number(at.rows[0]!.position) }
    const stats = await compare(
      {
        library: () => sql.runPromise(sqlHot.load(id)),
        rawTail: () => raw.loadTail(id, known),
        effectTail: () => sql.runPromise(Raw.effectLoadTail(id, known))
      },
      { ...measureOptions, iterations: options.iterations * 3 },
      checkLoaded(events)
    )
    const library = await RoundTrips.measure(() => sql.runPromise(sqlHot.load(id)))
    const bare = await RoundTrips.measure(() => raw.loadTail(id, known))
    const effectBare = await RoundTrips.measure(() => sql.runPromise(Raw.effectLoadTail(id, known)))
    loadHot = {
      events,
      libraryMs: round(stats.library.medianMs),
      rawMs: round(stats.rawTail.medianMs),
      ratio: round(stats.library.medianMs / stats.rawTail.medianMs),
      libraryP99Ms: round(stats.library.p99Ms),
      rawP99Ms: round(stats.rawTail.p99Ms),
      roundTrips: library.roundTrips,
      statements: library.statements,
      rawRoundTrips: bare.roundTrips,
      effectMs: round(stats.effectTail.medianMs),
      effectRatio: round(stats.effectTail.medianMs / stats.rawTail.medianMs),
      samples: stats.library.samples
    }
    log(
      Table.render(["", "median ms", "p99 ms", "round trips", "statements"], [
        tripsRow("repo.load, known aggregate (ours)", stats.library, library),
        tripsRow("bare pg, 1 query for the tail", stats.rawTail, bare),
        tripsRow("effect/sql, 1 query", stats.effectTail, effectBare)
      ])
    )
    log(
      `  ratio ours / bare: ${Table.times(loadHot.ratio as number)}; effect/sql alone / bare: ${
        Table.times(loadHot.effectRatio as number)
      }`
    )
  }
  if (wants("loadCold") && raw !== undefined) {
    section(`loadCold: repo.load without a cache (snapshot + ${options.tail} events) vs bare pg, 1 query`)
    const events = options.vsRawEvents
    const id = `load-${events}`
    await seedSql(id, events, options.tail)
    const stats = await compare(
      {
        library: () => sql.runPromise(sqlRepo.load(id)),
        rawOneQuery: () => raw.loadOneQuery(id),
        // The same one query decoding with the library's decoders (through `Aggregate`): what is around the decoding.
        rawSameDecoders: () => raw.loadOneQuery(id, Raw.aggregateDecoders)
      },
      { ...measureOptions, iterations: options.iterations * 3 },
      checkLoaded(events)
    )
    const library = await RoundTrips.measure(() => sql.runPromise(sqlRepo.load(id)))
    const bare = await RoundTrips.measure(() => raw.loadOneQuery(id))
    loadCold = {
      events,
      tail: options.tail,
      libraryMs: round(stats.library.medianMs),
      rawMs: round(stats.rawOneQuery.medianMs),
      ratio: round(stats.library.medianMs / stats.rawOneQuery.medianMs),
      rawSameDecodersMs: round(stats.rawSameDecoders.medianMs),
      ratioSameDecoders: round(stats.library.medianMs / stats.rawSameDecoders.medianMs),
      libraryP99Ms: round(stats.library.p99Ms),
      rawP99Ms: round(stats.rawOneQuery.p99Ms),
      roundTrips: library.roundTrips,
      statements: library.statements,
      rawRoundTrips: bare.roundTrips,
      samples: stats.library.samples
    }
    log(
      Table.render(["", "median ms", "p99 ms", "round trips", "statements"], [
        tripsRow("repo.load, cold (ours)", stats.library, library),
        tripsRow("bare pg, 1 query (Schema's decoders)", stats.rawOneQuery, bare),
        tripsRow("bare pg, 1 query (our decoders)", stats.rawSameDecoders, bare)
      ])
    )
    log(
      `  ratio ours / bare: ${Table.times(loadCold.ratio as number)}; with the same decoders: ${
        Table.times(loadCold.ratioSameDecoders as number)
      }`
    )
  }

  // ------------------------------------------------------------------------------------------------------
  // save: one event, strategy evaluated, snapshot in background mode, vs a bare INSERT
  // ------------------------------------------------------------------------------------------------------
  if (wants("save") && raw !== undefined) {
    section(`save: repo.save of one event (${SnapshotStrategy.format(strategy)}, background) vs bare INSERT`)
    const saveRepo = await repoOf(sql, { strategy, mode: "background" })
    const encode = Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderEvent))
    const libId = "save-library"
    const rawId = "save-raw"
    await sql.runPromise(saveRepo.save(libId, 0, [historyEvent(1)]))
    await raw.insert(rawId, 1, historyEvent(1), encode(historyEvent(1)))
    // A command loads before it saves: the repository then knows the state it folds the new event onto.
    await sql.runPromise(saveRepo.load(libId))
    let libVersion = 1
    let rawVersion = 1
    // Diagnostics, each on its own stream: the event store's append without the repository, and the
    // append statement sent with bare pg, plain and from a PL/pgSQL function.
    const versions = { store: 0, statement: 0, fn: 0, effect: 0 }
    await Breakdown.createAppendFunction(raw.pool)
    const eventStore = await sql.runPromise(EventStore.EventStore)
    const stats = await compare(
      {
        library: async () => {
          const event = historyEvent(libVersion + 1)
          const saved = await sql.runPromise(saveRepo.save(libId, libVersion, [event]))
          libVersion = saved.version
          return saved
        },
        raw: async () => {
          const event = historyEvent(rawVersion + 1)
          await raw.insert(rawId, rawVersion + 1, event, encode(event))
          rawVersion++
        },
        effectInsert: async () => {
          const event = historyEvent(versions.effect + 1)
          await sql.runPromise(Raw.effectInsert("save-effect", versions.effect + 1, event, encode(event)))
          versions.effect++
        },
        eventStoreAppend: async () => {
          const event = historyEvent(versions.store + 1)
          const appended = await sql.runPromise(
            eventStore.append(Order.type, "save-store", versions.store, [{ type: event._tag, payload: encode(event) }])
          )
          versions.store = appended.version
        },
        appendStatement: async () => {
          const event = historyEvent(versions.statement + 1)
          await Breakdown.appendWithStatement(raw.pool, "save-statement", versions.statement, event._tag, encode(event))
          versions.statement++
        },
        appendFunction: async () => {
          const event = historyEvent(versions.fn + 1)
          await Breakdown.appendWithFunction(raw.pool, "save-function", versions.fn, event._tag, encode(event))
          versions.fn++
        }
      },
      { warmup: 200, iterations: options.saveIterations, budgetMs: undefined }
    )
    await sql.runPromise(saveRepo.flush)
    const snapshots = await sql.runPromise(
      Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.list(Order.type, libId))
    )
    const saveTrips = await RoundTrips.measure(async () => {
      const saved = await sql.runPromise(saveRepo.save(libId, libVersion, [historyEvent(libVersion + 1)]))
      libVersion = saved.version
    })
    save = {
      libraryMs: round(stats.library.medianMs),
      rawMs: round(stats.raw.medianMs),
      ratio: round(stats.library.medianMs / stats.raw.medianMs),
      libraryP99Ms: round(stats.library.p99Ms),
      rawP99Ms: round(stats.raw.p99Ms),
      iterations: stats.library.samples,
      snapshotsWritten: snapshots.length,
      libraryRoundTrips: saveTrips.roundTrips,
      effectInsertMs: round(stats.effectInsert.medianMs),
      effectRatio: round(stats.effectInsert.medianMs / stats.raw.medianMs),
      eventStoreAppendMs: round(stats.eventStoreAppend.medianMs),
      appendStatementMs: round(stats.appendStatement.medianMs),
      appendFunctionMs: round(stats.appendFunction.medianMs)
    }
    log(
      Table.render(["", "median ms", "p99 ms"], [
        ["repo.save (ours)", Table.ms(stats.library.medianMs), Table.ms(stats.library.p99Ms)],
        ["bare INSERT", Table.ms(stats.raw.medianMs), Table.ms(stats.raw.p99Ms)],
        ["effect/sql, same INSERT", Table.ms(stats.effectInsert.medianMs), Table.ms(stats.effectInsert.p99Ms)],
        ["EventStore.append (ours)", Table.ms(stats.eventStoreAppend.medianMs), Table.ms(stats.eventStoreAppend.p99Ms)],
        [
          "bare pg, our append statement",
          Table.ms(stats.appendStatement.medianMs),
          Table.ms(stats.appendStatement.p99Ms)
        ],
        [
          "bare pg, batch statement in its fn",
          Table.ms(stats.appendFunction.medianMs),
          Table.ms(stats.appendFunction.p99Ms)
        ]
      ])
    )
    log(
      `  ratio ${Table.times(save.ratio as number)} (p99 ${
        Table.times(stats.library.p99Ms / stats.raw.p99Ms)
      }); ${stats.library.samples} saves, ${snapshots.length} snapshots written in the background; ` +
        `${saveTrips.roundTrips} round trip(s) per save without a snapshot; effect/sql alone / bare: ${
          Table.times(save.effectRatio as number)
        }`
    )
  }

  // ------------------------------------------------------------------------------------------------------
  // replay1M: a full replay in its own process, events/s and peak RSS
  // ------------------------------------------------------------------------------------------------------
  let replay1M: Record<string, unknown> | null = null
  const replayFloor: Array<Record<string, unknown>> = []
  if (wants("replay1M") && url === undefined) {
    skipped.push({ part: "replay1M", reason: "runs in a child process, which cannot reach the embedded PGlite" })
  } else if (wants("replay1M") && url !== undefined) {
    section(`replay1M: full replay of ${Table.int(options.replayEvents)} events in a child process`)
    const id = `replay-${options.replayEvents}`
    await seedSql(id, options.replayEvents, options.replayEvents)
    // Ours and the bare-pg floor, each in its own process (each peak RSS is its own), alternating round by
    // round (rotating who goes first).
    const children = {
      library: Child.start<ReplayRequest, ReplayResponse>(new URL("./replay-child.ts", import.meta.url)),
      floor: Child.start<ReplayRequest, ReplayResponse>(new URL("./replay-child.ts", import.meta.url))
    }
    try {
      const ms = { library: [] as Array<number>, floor: [] as Array<number> }
      const cpuMs = { library: [] as Array<number>, floor: [] as Array<number> }
      const loadAverages: Array<number> = []
      const last: Partial<Record<"library" | "floor", Extract<ReplayResponse, { type: "replayed" }>>> = {}
      for (let round = 0; round < options.replayRounds; round++) {
        const order = round % 2 === 0 ? (["library", "floor"] as const) : (["floor", "library"] as const)
        for (const mode of order) {
          const response = await children[mode].request({
            type: "replay",
            mode,
            url,
            schema,
            table: SqlEventStore.defaultTable,
            id,
            rounds: 1
          })
          if (response.type !== "replayed") throw new Error("unexpected response")
          if (response.events !== options.replayEvents) {
            throw new Error(`${mode}: replayed ${response.events} events, expected ${options.replayEvents}`)
          }
          ms[mode].push(...response.ms)
          cpuMs[mode].push(...response.cpuMs)
          loadAverages.push(os.loadavg()[0]!)
          last[mode] = response
        }
      }
      const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      const medianMs = median(ms.library)
      const floorMs = median(ms.floor)
      const response = last.library!
      replay1M = {
        events: response.events,
        eventsPerSecond: Math.round(response.events / (medianMs / 1000)),
        peakRssMb: response.peakRssMb,
        ms: round(medianMs),
        startRssMb: response.startRssMb,
        rounds: ms.library.length,
        floorMs: round(floorMs),
        floorPeakRssMb: last.floor!.peakRssMb,
        floorStartRssMb: last.floor!.startRssMb,
        floorRatio: round(medianMs / floorMs),
        cpuMs: round(median(cpuMs.library)),
        floorCpuMs: round(median(cpuMs.floor)),
        loadAverage: { min: round(Math.min(...loadAverages)), max: round(Math.max(...loadAverages)) }
      }
      replayFloor.push({
        part: "replay1M",
        events: response.events,
        oursMs: round(medianMs),
        floorMs: round(floorMs),
        ratio: round(medianMs / floorMs),
        oursPeakRssMb: response.peakRssMb,
        floorPeakRssMb: last.floor!.peakRssMb,
        samples: ms.library.length
      })
      log(
        `  ours: ${Table.int(response.events)} events in ${Table.ms(medianMs)} ms (median of ${ms.library.length}): ` +
          `${Table.int(replay1M.eventsPerSecond as number)} events/s; peak RSS ${response.peakRssMb} MB ` +
          `(${response.startRssMb} MB before the first replay)`
      )
      log(
        `  bare pg floor (pages of 1,000, the next one read ahead, driver-parsed jsonb, Schema's decoder, same evolve): ${
          Table.ms(floorMs)
        } ms; peak RSS ${last.floor!.peakRssMb} MB (${last.floor!.startRssMb} MB before); ours / floor ${
          Table.times(medianMs / floorMs)
        }`
      )
      log(
        `  CPU time of each process (median): ours ${Table.ms(median(cpuMs.library))} ms, floor ${
          Table.ms(median(cpuMs.floor))
        } ms (${Table.times(median(cpuMs.library) / median(cpuMs.floor))}); load average ${
          Math.min(...loadAverages).toFixed(2)
        }..${Math.max(...loadAverages).toFixed(2)}`
      )
    } finally {
      await children.library.close()
      await children.floor.close()
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // peer: Emmett, in its own process, on the same stream
  // ------------------------------------------------------------------------------------------------------
  let peer: Record<string, unknown> | null = null
  if (wants("peer") && url === undefined) {
    skipped.push({ part: "peer", reason: "Emmett runs in a child process, which cannot reach the embedded PGlite" })
  } else if (wants("peer") && url !== undefined) {
    section(`peer: the same ${Table.int(options.peerEvents)}-event Order stream, Emmett 0.42 vs ours`)
    const events = options.peerEvents
    const id = `load-${events}`
    await seedSql(id, events, options.tail)
    const child = Child.start<PeerRequest, PeerResponse>(new URL("./peer-child.ts", import.meta.url))
    try {
      await child.request({ type: "setup", url, database: `${schema}_emmett`, events })
      const stats = await compare(
        {
          peer: async () => {
            const response = await child.request({ type: "load" })
            if (response.type !== "loaded") throw new Error("unexpected response")
            return new SelfTimed(response.ms, response)
          },
          oursFullReplay: () => sql.runPromise(sqlReplay.load(id)),
          oursWithSnapshot: () => sql.runPromise(sqlRepo.load(id)),
          // The floor of a full replay: bare pg, the same pages, Schema's decoder (and ours), the same evolve.
          floor: () => raw!.fullReplay(id),
          floorSameDecoders: () => raw!.fullReplay(id, Raw.aggregateDecoders)
        },
        measureOptions,
        (name, result) => {
          if (name === "peer") {
            const response = result as Extract<PeerResponse, { type: "loaded" }>
            const state = expectedState("x", events)
            const got = `${response.version}:${response.itemCount}/${response.total}`
            const want = `${events}:${state.itemCount}/${BigDecimal.format(state.total)}`
            if (got !== want) throw new Error(`peer: loaded ${got}, expected ${want}`)
          } else {
            checkLoaded(events)(name, result)
          }
        }
      )
      peer = {
        name: "@event-driven-io/emmett-postgresql 0.42.0",
        events,
        peerMs: round(stats.peer.medianMs),
        oursFullReplayMs: round(stats.oursFullReplay.medianMs),
        oursWithSnapshotMs: round(stats.oursWithSnapshot.medianMs),
        fullReplayRatio: round(stats.oursFullReplay.medianMs / stats.peer.medianMs),
        snapshotSpeedUp: round(stats.peer.medianMs / stats.oursWithSnapshot.medianMs),
        samples: stats.peer.samples,
        floorMs: round(stats.floor.medianMs),
        floorSameDecodersMs: round(stats.floorSameDecoders.medianMs)
      }
      replayFloor.push({
        part: "peer",
        events,
        oursMs: round(stats.oursFullReplay.medianMs),
        floorMs: round(stats.floor.medianMs),
        ratio: round(stats.oursFullReplay.medianMs / stats.floor.medianMs),
        floorSameDecodersMs: round(stats.floorSameDecoders.medianMs),
        ratioSameDecoders: round(stats.oursFullReplay.medianMs / stats.floorSameDecoders.medianMs),
        samples: stats.peer.samples
      })
      log(
        Table.render(["", "median ms", "p99 ms"], [
          ["Emmett aggregateStream", Table.ms(stats.peer.medianMs), Table.ms(stats.peer.p99Ms)],
          ["ours, full replay", Table.ms(stats.oursFullReplay.medianMs), Table.ms(stats.oursFullReplay.p99Ms)],
          ["ours, with snapshot", Table.ms(stats.oursWithSnapshot.medianMs), Table.ms(stats.oursWithSnapshot.p99Ms)],
          ["bare pg full replay (Schema's decoder)", Table.ms(stats.floor.medianMs), Table.ms(stats.floor.p99Ms)],
          [
            "bare pg full replay (our decoders)",
            Table.ms(stats.floorSameDecoders.medianMs),
            Table.ms(stats.floorSameDecoders.p99Ms)
          ]
        ])
      )
    } finally {
      await child.close({ type: "close" })
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // largeState: a state that grows with the stream (one line per event)
  // ------------------------------------------------------------------------------------------------------
  let largeState: Record<string, unknown> | null = null
  if (wants("largeState")) {
    const skus = options.largeStateItems
    const events = skus + 1
    section(`largeState: ${Table.int(skus)} distinct items (the state grows with the stream), ${events} events`)
    const id = `large-${skus}`
    await seedSql(id, events, options.tail, skus)
    const sizes = await sql.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (client) =>
        client.unsafe<{ json_bytes: number; jsonb_bytes: number }>(
          // `jsonb_bytes` (the JSON's field name kept): what the state takes on disk, as text since migration 0003.
          `SELECT octet_length(state_text) AS json_bytes, pg_column_size(state_text) AS jsonb_bytes
FROM ${SqlSnapshotStore.defaultTable} WHERE aggregate_id = $1 ORDER BY version DESC LIMIT 1`,
          [id]
        ))
    )
    const stats = await compare(
      {
        withSnapshot: () => sql.runPromise(sqlRepo.load(id)),
        fullReplay: () => sql.runPromise(sqlReplay.load(id))
      },
      measureOptions,
      checkLoaded(events, skus)
    )
    // Where a with-snapshot load of a large state goes, in process: parse the stored JSON, decode it with
    // the state Schema, fold the tail onto it (the read itself is the rest).
    const stateText = (await sql.runPromise(Effect.flatMap(SqlClient.SqlClient, (client) =>
      client.unsafe<{ state: string }>(
        `SELECT state_text AS state FROM ${SqlSnapshotStore.defaultTable} WHERE aggregate_id = $1
ORDER BY version DESC LIMIT 1`,
        [id]
      ))))[0]!.state
    const decodeState = Schema.decodeUnknownSync(Schema.toCodecJson(OrderDomain.OrderState))
    const decoded = decodeState(JSON.parse(stateText))
    const tailEvents = Array.from({ length: options.tail }, (_, k) =>
      historyEvent(events - options.tail + 1 + k, skus))
    const steps = await compare(
      {
        parse: async () => JSON.parse(stateText),
        decode: async () => decodeState(JSON.parse(stateText)),
        foldTail: async () => tailEvents.reduce(OrderDomain.evolve, decoded)
      },
      measureOptions
    )
    largeState = {
      items: skus,
      events,
      stateJsonBytes: Number(sizes[0]?.json_bytes ?? 0),
      stateJsonbBytes: Number(sizes[0]?.jsonb_bytes ?? 0),
      withSnapshotMs: round(stats.withSnapshot.medianMs),
      fullReplayMs: round(stats.fullReplay.medianMs),
      speedUp: round(stats.fullReplay.medianMs / stats.withSnapshot.medianMs),
      parseMs: round(steps.parse.medianMs),
      parseAndDecodeMs: round(steps.decode.medianMs),
      foldTailMs: round(steps.foldTail.medianMs)
    }
    log(
      `  state ${Table.int(largeState.stateJsonBytes as number)} bytes of JSON (on disk ${
        Table.int(largeState.stateJsonbBytes as number)
      }): with snapshot ${Table.ms(stats.withSnapshot.medianMs)} ms, full replay ${
        Table.ms(stats.fullReplay.medianMs)
      } ms (${Table.times(largeState.speedUp as number)})`
    )
    log(
      `  in process: JSON.parse ${Table.ms(steps.parse.medianMs)} ms, parse + Schema decode ${
        Table.ms(steps.decode.medianMs)
      } ms, fold of the ${options.tail}-event tail ${Table.ms(steps.foldTail.medianMs)} ms`
    )
  }

  // ------------------------------------------------------------------------------------------------------
  // restore: a snapshot of a large state against replaying its events; the decode per line
  // ------------------------------------------------------------------------------------------------------
  const restore: Array<Record<string, unknown>> = []
  if (wants("restore")) {
    for (const lines of options.restoreLines) {
      const events = lines + 1
      const id = `restore-${lines}`
      section(`restore: a ${Table.int(lines)}-line state (${Table.int(events)} events, snapshot at the head)`)
      // In process: JSON.parse of the stored state, its decode by the library (`Aggregate.restoreState`: the
      // fingerprint check, the JSON decoder built once per aggregate) and by Schema's own decoder, built here.
      const text = JSON.stringify(
        Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderState))(expectedState(id, events, lines))
      )
      const parsed: unknown = JSON.parse(text)
      const schemaDecode = Schema.decodeUnknownResult(Schema.toCodecJson(OrderDomain.OrderState))
      const snapshot = { schemaVersion: Order.schemaVersion, state: parsed, metadata: {} }
      const steps = await compare(
        {
          parse: async () => JSON.parse(text),
          decode: async () => Aggregate.restoreState(Order, snapshot),
          schemaDecode: async () => schemaDecode(parsed),
          // What a decoder compiler could emit for this Schema at best (the bound of the hand-written decoders).
          byHand: async () => Result.succeed(decodeOrderState(parsed))
        },
        measureOptions,
        (name, result) => {
          if (name !== "parse" && !Result.isSuccess(result as Result.Result<unknown, unknown>)) {
            throw new Error(`${name}: the state does not decode`)
          }
        }
      )
      const perLine = (ms: number) => round((ms * 1000) / lines)
      const decodeFigures = {
        stateJsonBytes: Buffer.byteLength(text, "utf8"),
        parseMs: round(steps.parse.medianMs),
        decodeMs: round(steps.decode.medianMs),
        schemaDecodeMs: round(steps.schemaDecode.medianMs),
        parseUsPerLine: perLine(steps.parse.medianMs),
        decodeUsPerLine: perLine(steps.decode.medianMs),
        schemaDecodeUsPerLine: perLine(steps.schemaDecode.medianMs),
        byHandDecodeMs: round(steps.byHand.medianMs)
      }
      log(
        `  in process (${Table.int(decodeFigures.stateJsonBytes)} bytes of JSON): JSON.parse ${
          Table.ms(steps.parse.medianMs)
        } ms (${decodeFigures.parseUsPerLine} µs/line); decode ${
          Table.ms(steps.decode.medianMs)
        } ms (${decodeFigures.decodeUsPerLine} µs/line; Schema's own decoder ${
          Table.ms(steps.schemaDecode.medianMs)
        } ms, ${decodeFigures.schemaDecodeUsPerLine} µs/line; by hand for this Schema ${
          Table.ms(steps.byHand.medianMs)
        } ms)`
      )
      const backends = [
        {
          label: backend,
          runtime: sql as ManagedRuntime.ManagedRuntime<unknown, unknown>,
          repo: sqlRepo,
          replay: sqlReplay,
          seed: seedSql
        },
        {
          label: "memory",
          runtime: memory as ManagedRuntime.ManagedRuntime<unknown, unknown>,
          repo: memRepo,
          replay: memReplay,
          seed: seedMemory
        }
      ]
      for (const b of backends) {
        await b.seed(id, events, 0, lines)
        // On Postgres, the floor of a restore: bare `pg`, the snapshot row and the tail in one prepared statement,
        // JSON.parse, Schema's own decoder.
        const floor = b.label === "memory" ? undefined : raw
        const cases: Record<string, () => Promise<unknown>> = {
          snapshot: () => b.runtime.runPromise(b.repo.load(id)),
          replay: () => b.runtime.runPromise(b.replay.load(id))
        }
        if (floor !== undefined) cases.floor = () => floor.loadOneQuery(id)
        const stats: Record<string, Stats> = await compare(
          cases,
          measureOptions,
          (name, result) => {
            checkLoaded(events, lines)(name, result)
            const loaded = result as EventSourcedRepository.Loaded<OrderDomain.OrderState>
            if (name === "snapshot" && loaded.replayed !== 0) throw new Error(`snapshot: replayed ${loaded.replayed}`)
          }
        )
        const snapshotMs = stats.snapshot!.medianMs
        const replayMs = stats.replay!.medianMs
        const floorMs = stats.floor?.medianMs
        const row = {
          backend: b.label,
          lines,
          events,
          snapshotMs: round(snapshotMs),
          replayMs: round(replayMs),
          speedUp: round(replayMs / snapshotMs),
          samples: stats.snapshot!.samples,
          ...(floorMs === undefined ? {} : {
            floorMs: round(floorMs),
            floorRatio: round(snapshotMs / floorMs),
            floorSpeedUp: round(replayMs / floorMs)
          }),
          ...decodeFigures
        }
        restore.push(row)
        log(
          `  ${b.label}: from the snapshot ${Table.ms(row.snapshotMs)} ms, replay ${Table.ms(row.replayMs)} ms (${
            Table.times(row.speedUp)
          }, n=${row.samples})${
            floorMs === undefined ?
              "" :
              `; bare pg floor ${Table.ms(floorMs)} ms (ours / floor ${
                Table.times(snapshotMs / floorMs)
              }; replay / floor ${Table.times(replayMs / floorMs)})`
          }; load average ${os.loadavg()[0]!.toFixed(2)}`
        )
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // seedScenario: the seed design's test_snapshot_performance, as it is written
  // ------------------------------------------------------------------------------------------------------
  const seedScenario: Array<Record<string, unknown>> = []
  if (wants("seedScenario")) {
    const items = options.seedItems
    const more = options.seedMore
    section(
      `seedScenario: ${Table.int(items)} items, a hand-saved snapshot, ${more} more items; load with vs without`
    )
    const item = (i: number) =>
      OrderDomain.ItemAdded.make({ sku: `item_${i}`, quantity: 1, unitPrice: BigDecimal.fromStringUnsafe("10.00") })
    const history = [
      OrderDomain.OrderCreated.make({ customerId: "cust_456" }),
      ...Array.from({ length: items }, (_, i) => item(i))
    ]
    const backends = [
      { label: "memory", runtime: memory as ManagedRuntime.ManagedRuntime<unknown, unknown>, scope: memoryScope },
      { label: backend, runtime: sql as ManagedRuntime.ManagedRuntime<unknown, unknown>, scope: sqlScope }
    ]
    for (const b of backends) {
      const repo = await repoOf(b.runtime, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      const without = "order_123-without"
      const withId = "order_123"
      // `repo.save(order)` of the seed: the order's 1,001 events in one commit (two orders, one per side).
      await b.runtime.runPromise(repo.save(without, 0, history))
      await b.runtime.runPromise(repo.save(withId, 0, history))
      // `snapshot_store.save(...)` by hand: the state as the application has it, through the store's own API.
      const order = await b.runtime.runPromise(repo.load(withId))
      const state = Result.getOrThrowWith(Aggregate.encodeState(Order, order.state), (e) => new Error(e))
      await b.runtime.runPromise(
        Effect.flatMap(SnapshotStore.SnapshotStore, (store) =>
          Effect.flatMap(DateTime.now, (createdAt) =>
            store.save(
              Snapshot.Snapshot.make({
                aggregateType: Order.type,
                aggregateId: withId,
                version: order.version,
                schemaVersion: Order.schemaVersion,
                state,
                createdAt,
                metadata: {}
              })
            )))
      )
      await b.runtime.runPromise(
        repo.save(withId, order.version, Array.from({ length: more }, (_, i) => item(items + i)))
      )
      const stats = await compare(
        {
          without: () => b.runtime.runPromise(repo.load(without)),
          with: () => b.runtime.runPromise(repo.load(withId))
        },
        measureOptions,
        (name, result) => {
          const loaded = result as EventSourcedRepository.Loaded<OrderDomain.OrderState>
          const want = name === "without"
            ? `${items + 1}/${items}/none`
            : `${items + more + 1}/${items + more}/${items + 1}`
          const got = `${loaded.version}/${loaded.state.lines.length}/${
            Option.match(loaded.snapshotVersion, { onNone: () => "none", onSome: String })
          }`
          if (got !== want) throw new Error(`seedScenario ${name}: loaded ${got}, expected ${want}`)
        }
      )
      const row = {
        backend: b.label,
        items,
        more,
        withoutMs: round(stats.without.medianMs),
        withMs: round(stats.with.medianMs),
        ratio: round(stats.with.medianMs / stats.without.medianMs),
        samples: stats.with.samples
      }
      seedScenario.push(row)
      log(
        `  ${b.label}: without a snapshot ${Table.ms(row.withoutMs)} ms (${Table.int(items + 1)} events), with ${
          Table.ms(row.withMs)
        } ms (snapshot + ${more}): ratio ${Table.times(row.ratio)} (n=${row.samples})`
      )
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // citus: the stores distributed on a Citus cluster vs a plain server, side by side
  // ------------------------------------------------------------------------------------------------------
  let citus: Record<string, unknown> | null = null
  if (wants("citus")) {
    section(`citus: Citus (CITUS_URL) vs a plain server, repository load/save, append, readAll poll`)
    const outcome = await Citus.run({
      events: options.citusEvents,
      tail: options.tail,
      snapshotEvery: options.snapshotEvery,
      writeIterations: options.saveIterations,
      measure: measureOptions,
      schema: options.profile === "smoke"
        ? `effect_snapshots_bench_citus_${process.pid}`
        : "effect_snapshots_bench_citus",
      log
    })
    if (outcome._tag === "Skipped") {
      log(`  skipped: ${outcome.reason}`)
      skipped.push({ part: "citus", reason: outcome.reason })
    } else citus = outcome.result
  }

  // ------------------------------------------------------------------------------------------------------
  // redis: a cold load from a snapshot in Redis vs in PostgreSQL (events in PostgreSQL)
  // ------------------------------------------------------------------------------------------------------
  let redis: Record<string, unknown> | null = null
  if (wants("redis")) {
    section(`redis: cold load from a snapshot in Redis (REDIS_URL) vs in PostgreSQL, events in PostgreSQL`)
    const outcome = await RedisBench.run({
      events: options.vsRawEvents,
      tail: options.tail,
      measure: { ...measureOptions, iterations: options.iterations * 3 },
      schema: options.profile === "smoke"
        ? `effect_snapshots_bench_redis_${process.pid}`
        : "effect_snapshots_bench_redis",
      log
    })
    if (outcome._tag === "Skipped") {
      log(`  skipped: ${outcome.reason}`)
      skipped.push({ part: "redis", reason: outcome.reason })
    } else redis = outcome.result
  }

  await raw?.close()
  await Effect.runPromise(Scope.close(sqlScope, Exit.void))
  await sql.dispose()

  // The memory layers last: their streams (up to 1,000,000 events) live in this process's heap, which
  // would slow every later measurement; they go when this runtime is disposed.
  const loadMemory = wants("memory")
    ? await loadSeries(memory, "memory layers", options.memorySizes, memRepo, memReplay, seedMemory)
    : []
  await Effect.runPromise(Scope.close(memoryScope, Exit.void))
  await memory.dispose()
  await dropBenchData()

  // ------------------------------------------------------------------------------------------------------
  // targets, JSON, chart
  // ------------------------------------------------------------------------------------------------------
  const targets: Array<Target> = []
  const at = (events: number) => load.find((p) => p.events === events)
  const at1k = at(1_000)
  const at100k = at(100_000)
  if (at1k !== undefined && at100k !== undefined) {
    const growth = at100k.withSnapshotMs / at1k.withSnapshotMs
    targets.push({
      name: "with-snapshot load at 100,000 events vs at 1,000",
      target: "<= 1.5x",
      value: Table.times(growth),
      met: growth <= 1.5
    })
    targets.push({
      name: "full replay / with snapshot at 100,000 events",
      target: ">= 100x",
      value: Table.times(at100k.speedUp),
      met: at100k.speedUp >= 100
    })
  }
  if (vsRaw !== null) {
    targets.push({
      name: "vsRaw.ratio (ours / bare pg, 1 query)",
      target: "<= 1.25",
      value: Table.times(vsRaw.ratio as number),
      met: (vsRaw.ratio as number) <= 1.25
    })
  }
  if (loadHot !== null) {
    targets.push({
      name: "loadHot.ratio (known aggregate / bare pg, 1 query for the tail)",
      target: "<= 1.15",
      value: Table.times(loadHot.ratio as number),
      met: (loadHot.ratio as number) <= 1.15
    })
  }
  if (loadCold !== null) {
    targets.push({
      name: "loadCold.ratio (no cache / bare pg, 1 query)",
      target: "<= 1.25",
      value: Table.times(loadCold.ratio as number),
      met: (loadCold.ratio as number) <= 1.25
    })
    targets.push({
      name: "loadCold.roundTrips",
      target: "1",
      value: String(loadCold.roundTrips),
      met: loadCold.roundTrips === 1
    })
  }
  if (replay1M !== null) {
    targets.push({
      name: `replay1M peak RSS (${Table.int(replay1M.events as number)} events)`,
      target: "<= 200 MB",
      value: `${replay1M.peakRssMb} MB`,
      met: (replay1M.peakRssMb as number) <= 200
    })
  }
  for (const row of replayFloor) {
    targets.push({
      name: `replayFloor ${row.part} (${Table.int(row.events as number)} events): ours / bare pg`,
      target: "<= 1.25",
      value: Table.times(row.ratio as number),
      met: (row.ratio as number) <= 1.25
    })
  }
  for (const row of restore) {
    const lines = row.lines as number
    const wanted = lines >= 10_000 ? 20 : lines >= 1_000 ? 5 : undefined
    if (wanted === undefined) continue
    targets.push({
      name: `restore ${row.backend}, ${Table.int(lines)} lines (${
        Math.round((row.stateJsonBytes as number) / 1000)
      } KB): replay / snapshot`,
      target: `>= ${wanted}x`,
      value: Table.times(row.speedUp as number),
      met: (row.speedUp as number) >= wanted
    })
  }
  for (const row of seedScenario) {
    targets.push({
      name: `seedScenario ${row.backend}: with / without snapshot`,
      target: "< 0.5",
      value: Table.times(row.ratio as number),
      met: (row.ratio as number) < 0.5
    })
  }
  if (save !== null) {
    targets.push({
      name: "save.ratio (repo.save / bare INSERT, medians)",
      target: "<= 1.3",
      value: Table.times(save.ratio as number),
      met: (save.ratio as number) <= 1.3
    })
  }
  if (peer !== null) {
    targets.push({
      name: "peer: our full replay vs Emmett",
      target: "no slower (<= 1x)",
      value: Table.times(peer.fullReplayRatio as number),
      met: (peer.fullReplayRatio as number) <= 1
    })
    targets.push({
      name: "peer: Emmett / ours with snapshot",
      target: ">= 50x",
      value: Table.times(peer.snapshotSpeedUp as number),
      met: (peer.snapshotSpeedUp as number) >= 50
    })
  }

  if (citus !== null) {
    const ratio = (key: string) => (citus![key] as { readonly ratio: number }).ratio
    targets.push({
      name: "citus: EventStore.append p50, Citus / plain",
      target: "<= 2x",
      value: Table.times(ratio("append")),
      met: ratio("append") <= 2
    })
    for (const key of ["loadCold", "loadHot"]) {
      targets.push({
        name: `citus: ${key} p50, Citus / plain`,
        target: "<= 1.5x",
        value: Table.times(ratio(key)),
        met: ratio(key) <= 1.5
      })
    }
  }

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

export type { Stats }
