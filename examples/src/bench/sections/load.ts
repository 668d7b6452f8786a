/**
 * The load sections: with a snapshot vs full replay against history length (`load`, `memory`), our cold load
 * against bare `pg` with the round trips of each (`vsRaw`), and a load the cache knows vs one that reads the
 * snapshot (`loadHot`, `loadCold`).
 */
import type { EventSourcedRepository } from "@effect-snapshots/loader"
import { SqlEventStore } from "@effect-snapshots/sql"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { Order } from "../../Order.js"
import type * as OrderDomain from "../../OrderDomain.js"
import * as Breakdown from "../breakdown.js"
import type { Common, Context, LoadPoint, Repo } from "../context.js"
import { compare, round, type Stats } from "../measure.js"
import * as Raw from "../raw.js"
import * as RoundTrips from "../roundtrips.js"
import * as Table from "../table.js"

/** A row of the round-trip tables: median, p99, round trips and statements of one case. */
/**
 * The sub-millisecond comparisons (vsRaw, loadHot, loadCold) warm up 50 times longer than the rest: run on its own
 * (`--only loadHot`), a section otherwise measured code V8 had not finished optimizing (ours 0.19 ms against
 * 0.11 ms after the other sections had run), which a long-running service never sees.
 */
const hotWarmup = (measure: { readonly warmup: number }): number => measure.warmup * 50

const tripsRow = (
  label: string,
  stats: Stats,
  trips: { readonly roundTrips: number; readonly statements: number }
) => [label, Table.ms(stats.medianMs), Table.ms(stats.p99Ms), trips.roundTrips, trips.statements]

// ------------------------------------------------------------------------------------------------------
// load: with a snapshot vs full replay, against history length
// ------------------------------------------------------------------------------------------------------
export const loadSeries = async <R, E>(
  ctx: Common,
  runtime: ManagedRuntime.ManagedRuntime<R, E>,
  label: string,
  sizes: ReadonlyArray<number>,
  repo: Repo,
  replay: Repo,
  seed: (id: string, events: number, tail: number) => Promise<void>
): Promise<Array<LoadPoint>> => {
  const { checkLoaded, log, measureOptions, options, section } = ctx
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

// ------------------------------------------------------------------------------------------------------
// vsRaw and round trips
// ------------------------------------------------------------------------------------------------------
export const runVsRaw = async (ctx: Context) => {
  const { checkLoaded, log, measureOptions, options, raw, section, seedSql, sql, sqlRepo, sqlReplay, wants } = ctx
  let vsRaw: Record<string, unknown> | null = null
  let roundTripsPerLoad: number | null = null
  let roundTrips: Record<string, number> | null = null
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
      { ...measureOptions, warmup: hotWarmup(measureOptions), iterations: options.iterations * 3 },
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
  return { vsRaw, roundTripsPerLoad, roundTrips }
}

// ------------------------------------------------------------------------------------------------------
// loadHot and loadCold: a load the repository's cache knows, and one that reads the snapshot
// ------------------------------------------------------------------------------------------------------
export const runLoadHotCold = async (ctx: Context) => {
  const { checkLoaded, log, measureOptions, options, raw, section, seedSql, skipped, sql, sqlHot, sqlRepo, wants } = ctx
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
      { ...measureOptions, warmup: hotWarmup(measureOptions), iterations: options.iterations * 3 },
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
      { ...measureOptions, warmup: hotWarmup(measureOptions), iterations: options.iterations * 3 },
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
  return { loadHot, loadCold }
}
