/**
 * `--only citus`: the repository and the event store on a Citus cluster (CITUS_URL, the coordinator; both
 * tables hash-distributed by aggregate_id and colocated, `layerWith({ distributed: true })`) against a plain
 * PostgreSQL server (CITUS_PLAIN_URL, default PG_URL, the stores' default layers), side by side in one loop
 * (alternating, rotating who goes first), medians:
 *
 * - repository load, cold (no cache: snapshot + tail in one statement) and hot (a cached state, the tail only);
 * - repository save of one event (snapshot strategy evaluated, snapshots in the background);
 * - `EventStore.append` of one event on its own, and inside an application's transaction (Citus delegates the
 *   append function to the stream's worker only outside a transaction);
 * - a `readAll` poll at the head of the plain server's store (on Citus readAll is refused: the refusal is
 *   recorded).
 *
 * On Citus each operation also runs once under `citus_stat_counters` (single-shard and multi-shard executions,
 * when `citus.enable_stat_counters` is on) and `pg_dist_transaction` (rows written by two-phase commits).
 * Without CITUS_URL (or without a plain server) the section is skipped and says why.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import pg from "pg"
import { Order } from "../Order.js"
import * as OrderDomain from "../OrderDomain.js"
import { expectedState, historyEvent } from "./history.js"
import { compare, type MeasureOptions, round, type Stats } from "./measure.js"
import * as Seed from "./seed.js"
import * as Table from "./table.js"

export interface Options {
  /** Events in the loaded stream (its newest snapshot `tail` events before its head). */
  readonly events: number
  readonly tail: number
  readonly snapshotEvery: number
  /** Timed rounds of the save and append comparisons (each round writes one event per case). */
  readonly writeIterations: number
  readonly measure: MeasureOptions
  /** The schema created (and dropped) on both servers. */
  readonly schema: string
  readonly log: (line?: string) => void
}

/** What the section measured, or why it did not run. */
export type Outcome =
  | { readonly _tag: "Skipped"; readonly reason: string }
  | { readonly _tag: "Measured"; readonly result: Record<string, unknown> }

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value

type Repo = EventSourcedRepository.EventSourcedRepository<OrderDomain.OrderState, OrderDomain.OrderEvent>

const fingerprintOf = (state: OrderDomain.OrderState) =>
  `${state.itemCount}/${BigDecimal.format(state.total)}/${state.lines.length}/${state.status}`

const withAdmin = async <A>(url: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** One server with the stores on it: the repositories and the event store of the comparison. */
const makeSide = async (url: string, distributed: boolean, options: Options) => {
  const layer = Layer.mergeAll(
    SqlEventStore.layerWith({ distributed }),
    SqlSnapshotStore.layerWith({ distributed })
  ).pipe(Layer.provideMerge(Postgres.layerUrl(url, { schema: options.schema, maxConnections: 4 })))
  const runtime = ManagedRuntime.make(layer)
  const scope = Effect.runSync(Scope.make())
  const repo = (repoOptions: EventSourcedRepository.Options): Promise<Repo> =>
    runtime.runPromise(EventSourcedRepository.make(Order, repoOptions).pipe(Scope.provide(scope)))
  const strategy = SnapshotStrategy.everyNEvents(options.snapshotEvery)
  const side = {
    runtime,
    store: await runtime.runPromise(EventStore.EventStore),
    cold: await repo({ strategy, cacheMaxBytes: 0 }),
    hot: await repo({ strategy }),
    save: await repo({ strategy, mode: "background" }),
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    }
  }
  return side
}

type Side = Awaited<ReturnType<typeof makeSide>>

/** Single- and multi-shard executions and two-phase-commit records on the coordinator, around `f`. */
const citusCounters = async (url: string, f: () => Promise<unknown>) => {
  const read = () =>
    withAdmin(url, async (client) => {
      const counters = await client.query<{ single: string; multi: string }>(
        `SELECT query_execution_single_shard AS single, query_execution_multi_shard AS multi
         FROM citus_stat_counters WHERE name = current_database()`
      )
      const twoPhase = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_dist_transaction`)
      return {
        single: Number(counters.rows[0]?.single ?? 0),
        multi: Number(counters.rows[0]?.multi ?? 0),
        twoPhase: Number(twoPhase.rows[0]?.n ?? 0)
      }
    })
  const before = await read()
  await f()
  const after = await read()
  return {
    singleShard: after.single - before.single,
    multiShard: after.multi - before.multi,
    // pg_dist_transaction rows are removed by 2PC recovery (citus.recover_2pc_interval): never below 0.
    twoPhaseCommitRecords: Math.max(0, after.twoPhase - before.twoPhase)
  }
}

export const run = async (options: Options): Promise<Outcome> => {
  const { log } = options
  const citusUrl = nonEmpty(process.env.CITUS_URL)
  const plainUrl = nonEmpty(process.env.CITUS_PLAIN_URL) ?? nonEmpty(process.env.PG_URL)
  if (citusUrl === undefined) return { _tag: "Skipped", reason: "set CITUS_URL (a Citus coordinator)" }
  if (plainUrl === undefined) {
    return { _tag: "Skipped", reason: "set CITUS_PLAIN_URL or PG_URL (the plain server to compare with)" }
  }
  const dropSchema = (url: string) =>
    withAdmin(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${options.schema} CASCADE`))
  await dropSchema(citusUrl)
  await dropSchema(plainUrl)
  const describe = (url: string) =>
    withAdmin(url, async (client) => {
      const version = await client.query<{ server_version: string }>(`SHOW server_version`)
      const citus = (await client.query<{ version: string | null }>(
        `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'citus') AS version`
      )).rows[0]?.version ?? null
      const workers = citus === null ? 0 : Number(
        (await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0`
        )).rows[0]?.n
      )
      const counters = citus === null
        ? null
        : (await client.query<{ on: string }>(`SELECT current_setting('citus.enable_stat_counters') AS on`)).rows[0]
          ?.on
      return {
        host: new URL(url).host,
        postgres: version.rows[0]?.server_version ?? "?",
        citus,
        workers,
        statCounters: counters === "on"
      }
    })
  const servers = { citus: await describe(citusUrl), plain: await describe(plainUrl) }
  log(
    `  Citus ${servers.citus.citus} (PostgreSQL ${servers.citus.postgres}) at ${servers.citus.host}, ${servers.citus.workers} workers; plain PostgreSQL ${servers.plain.postgres} at ${servers.plain.host}`
  )
  if (servers.citus.citus === null) throw new Error(`CITUS_URL (${servers.citus.host}) has no citus extension`)

  const sides: { citus: Side; plain: Side } = {
    citus: await makeSide(citusUrl, true, options),
    plain: await makeSide(plainUrl, false, options)
  }
  try {
    const names = ["citus", "plain"] as const
    const id = `citus-load-${options.events}`
    for (const name of names) {
      await sides[name].runtime.runPromise(
        Seed.seedStream(id, options.events, options.tail, (id, from, to) => Seed.insertRange(id, from, to))
      )
    }
    const want = `${options.events}:${fingerprintOf(expectedState("x", options.events))}`
    const checkLoaded = (name: "citus" | "plain", result: unknown) => {
      const loaded = result as EventSourcedRepository.Loaded<OrderDomain.OrderState>
      const got = `${loaded.version}:${fingerprintOf(loaded.state)}`
      if (got !== want) throw new Error(`citus ${name}: loaded ${got}, expected ${want}`)
    }
    const pair = <A>(f: (side: Side, name: "citus" | "plain") => () => Promise<A>) => ({
      citus: f(sides.citus, "citus"),
      plain: f(sides.plain, "plain")
    })
    const rows: Record<string, { citus: Stats; plain: Stats }> = {}

    rows.loadCold = await compare(
      pair((side) => () => side.runtime.runPromise(side.cold.load(id))),
      options.measure,
      checkLoaded
    )
    for (const name of names) await sides[name].runtime.runPromise(sides[name].hot.load(id))
    rows.loadHot = await compare(
      pair((side) => () => side.runtime.runPromise(side.hot.load(id))),
      options.measure,
      checkLoaded
    )

    // Writes: each case on a stream of its own, one event per call, versions tracked here.
    const encode = Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderEvent))
    const versions = { save: { citus: 0, plain: 0 }, append: { citus: 0, plain: 0 }, tx: { citus: 0, plain: 0 } }
    for (const name of names) {
      const saved = await sides[name].runtime.runPromise(sides[name].save.save("citus-save", 0, [historyEvent(1)]))
      versions.save[name] = saved.version
      await sides[name].runtime.runPromise(sides[name].save.load("citus-save"))
    }
    const writeOptions = { warmup: 20, iterations: options.writeIterations, budgetMs: undefined }
    const save = (side: Side, name: "citus" | "plain") => async () => {
      const saved = await side.runtime.runPromise(
        side.save.save("citus-save", versions.save[name], [historyEvent(versions.save[name] + 1)])
      )
      versions.save[name] = saved.version
    }
    rows.save = await compare(pair(save), writeOptions)
    const appendOne = (side: Side, name: "citus" | "plain", kind: "append" | "tx") => () => {
      const event = historyEvent(versions[kind][name] + 1)
      const append = side.store.append(Order.type, `citus-${kind}`, versions[kind][name], [
        { type: event._tag, payload: encode(event) }
      ])
      const effect = kind === "tx"
        ? Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(append))
        : append
      return side.runtime.runPromise(effect).then((appended) => {
        versions[kind][name] = appended.version
      })
    }
    rows.append = await compare(pair((side, name) => appendOne(side, name, "append")), writeOptions)
    rows.appendInTransaction = await compare(pair((side, name) => appendOne(side, name, "tx")), writeOptions)
    for (const name of names) await sides[name].runtime.runPromise(sides[name].save.flush)

    // readAll: a poll at the head of the plain store (what a caught-up subscriber does); refused on Citus.
    const plainStore = sides.plain.store
    const [head] = await withAdmin(plainUrl, (client) =>
      client.query<{ position: string }>(
        `SELECT COALESCE(max(position), 0) AS position FROM ${options.schema}.${SqlEventStore.defaultTable}`
      ).then((result) => result.rows.map((row) => Number(row.position))))
    const poll = await compare(
      {
        plain: () =>
          sides.plain.runtime.runPromise(
            Stream.runCount(plainStore.readAll({ fromPosition: head! }))
          )
      },
      options.measure,
      (_, count) => {
        if (count !== 0) throw new Error(`readAll poll at the head answered ${String(count)} events`)
      }
    )
    const refusal = await sides.citus.runtime.runPromise(
      Effect.flip(Stream.runDrain(sides.citus.store.readAll({ fromPosition: 0 })))
    )

    // Where each Citus operation ran: one execution each, counted by the coordinator.
    const routing = servers.citus.statCounters
      ? {
        loadCold: await citusCounters(citusUrl, () => sides.citus.runtime.runPromise(sides.citus.cold.load(id))),
        loadHot: await citusCounters(citusUrl, () => sides.citus.runtime.runPromise(sides.citus.hot.load(id))),
        save: await citusCounters(citusUrl, save(sides.citus, "citus")),
        append: await citusCounters(citusUrl, appendOne(sides.citus, "citus", "append")),
        appendInTransaction: await citusCounters(citusUrl, appendOne(sides.citus, "citus", "tx"))
      }
      : null

    const labels: Record<string, string> = {
      loadCold: `repo.load, cold (snapshot + ${options.tail} events, no cache)`,
      loadHot: "repo.load, hot (cached state, tail query)",
      save: "repo.save, one event",
      append: "EventStore.append, one event",
      appendInTransaction: "EventStore.append in sql.withTransaction"
    }
    const result: Record<string, unknown> = {
      servers,
      events: options.events,
      tail: options.tail,
      readAllPoll: {
        plainMs: round(poll.plain.medianMs),
        plainP99Ms: round(poll.plain.p99Ms),
        citus: `refused: ${refusal.reason}`,
        samples: poll.plain.samples
      },
      routing
    }
    for (const [key, stats] of Object.entries(rows)) {
      result[key] = {
        citusMs: round(stats.citus.medianMs),
        plainMs: round(stats.plain.medianMs),
        ratio: round(stats.citus.medianMs / stats.plain.medianMs),
        citusP99Ms: round(stats.citus.p99Ms),
        plainP99Ms: round(stats.plain.p99Ms),
        samples: stats.citus.samples
      }
    }
    const routed = (key: string) => {
      const r = routing?.[key as keyof typeof routing]
      return r === undefined ? "-" : `${r.singleShard}/${r.multiShard}/${r.twoPhaseCommitRecords}`
    }
    log(
      Table.render(
        ["", "Citus ms", "plain ms", "ratio", "Citus p99", "plain p99", "Citus 1-shard/multi/2PC"],
        [
          ...Object.entries(rows).map(([key, stats]) => [
            labels[key]!,
            Table.ms(stats.citus.medianMs),
            Table.ms(stats.plain.medianMs),
            Table.times(stats.citus.medianMs / stats.plain.medianMs),
            Table.ms(stats.citus.p99Ms),
            Table.ms(stats.plain.p99Ms),
            routed(key)
          ]),
          [
            "readAll poll at the head",
            "refused",
            Table.ms(poll.plain.medianMs),
            "-",
            "-",
            Table.ms(poll.plain.p99Ms),
            "-"
          ]
        ]
      )
    )
    log(`  readAll on Citus: ${refusal.reason}: ${refusal.message.slice(0, 160)}...`)
    if (routing === null) log("  (routing counts need citus.enable_stat_counters = on on the coordinator)")
    return { _tag: "Measured", result }
  } finally {
    await sides.citus.close()
    await sides.plain.close()
    await dropSchema(citusUrl)
    await dropSchema(plainUrl)
  }
}
