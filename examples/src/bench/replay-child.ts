/**
 * `replay1M` in its own process, so its peak RSS is the replay's and not the benchmark's: a full replay of
 * one long stream, either through `repo.load` (`SqlEventStore.read` pages it; the fold consumes page by page)
 * or, for the floor, by hand on bare `pg`: the same pages (keyset, 2,000 events, one prepared statement as
 * Effect 4's driver prepares it), the payload parsed by the driver, Schema's own decoder, the same `evolve`. The floor's process loads only `pg` and the Order's
 * domain code, never the library.
 *
 *   parent -> { type: "replay", mode, url, schema, table, id, rounds }   child -> { type: "replayed", ... }
 *   (as many times as asked; the child exits when the parent disconnects)
 */
import type * as Loader from "@effect-snapshots/loader"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { performance } from "node:perf_hooks"
import pg from "pg"
import * as OrderDomain from "../OrderDomain.js"

export type ReplayRequest = {
  readonly type: "replay"
  /** `library`: `repo.load` over `SqlEventStore`; `floor`: bare `pg`. */
  readonly mode: "library" | "floor"
  readonly url: string
  readonly schema: string
  /** The events table (for the floor, which does not load the library). */
  readonly table: string
  readonly id: string
  readonly rounds: number
}

export type ReplayResponse =
  | {
    readonly type: "replayed"
    readonly events: number
    readonly itemCount: number
    readonly ms: ReadonlyArray<number>
    /** CPU time of this process (user + system) in each round. */
    readonly cpuMs: ReadonlyArray<number>
    /** RSS before the first replay (runtime, modules, connection). */
    readonly startRssMb: number
    /** Peak RSS of the whole process so far (`process.resourceUsage().maxRSS`). */
    readonly peakRssMb: number
  }
  | { readonly type: "error"; readonly message: string }

const withSearchPath = (url: string, schema: string) => {
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return parsed.toString()
}

/** REPLAY_PAGE_SIZE: the page size of both sides instead of their defaults (`replayProbe.ts`'s PAGES). */
const pageSizeOverride = process.env.REPLAY_PAGE_SIZE === undefined ? undefined : Number(process.env.REPLAY_PAGE_SIZE)

const mb = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 10) / 10

interface Replayer {
  readonly replay: () => Promise<{ readonly events: number; readonly itemCount: number }>
}

const library = async (request: ReplayRequest): Promise<Replayer> => {
  const { SnapshotStrategy } = await import("@effect-snapshots/core")
  // AB_LOADER: another build of the loader (its `src/index.ts`), for an A/B run of two versions (`replayProbe.ts`).
  const { EventSourcedRepository } = (process.env.AB_LOADER === undefined
    ? await import("@effect-snapshots/loader")
    : await import(process.env.AB_LOADER)) as typeof Loader
  const { SqlEventStore } = await import("@effect-snapshots/sql")
  const { SnapshotStore } = await import("@effect-snapshots/store")
  const { PgClient } = await import("@effect/sql-pg")
  const Layer = await import("effect/Layer")
  const ManagedRuntime = await import("effect/ManagedRuntime")
  const Redacted = await import("effect/Redacted")
  const Scope = await import("effect/Scope")
  const { Order } = await import("../Order.js")
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      pageSizeOverride === undefined ? SqlEventStore.layer : SqlEventStore.layerWith({ pageSize: pageSizeOverride }),
      SnapshotStore.layerMemory
    ).pipe(
      // PgClient directly (not `Postgres.layer`): this runs only against a real server, and loading the
      // embedded Postgres's module would add ~40 MB to the RSS being measured.
      Layer.provide(
        PgClient.layer({ url: Redacted.make(withSearchPath(request.url, request.schema)), maxConnections: 2 })
      )
    )
  )
  const scope = Effect.runSync(Scope.make())
  const repo = await runtime.runPromise(
    // No cache: every round is a full replay.
    EventSourcedRepository.make(Order, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 }).pipe(
      Scope.provide(scope)
    )
  )
  return {
    replay: () =>
      runtime.runPromise(
        Effect.map(repo.load(request.id), (loaded) => ({
          events: loaded.replayed,
          itemCount: loaded.state.itemCount
        }))
      )
  }
}

const floor = async (request: ReplayRequest): Promise<Replayer> => {
  const client = new pg.Client({ connectionString: withSearchPath(request.url, request.schema) })
  await client.connect()
  const decodeEvent = Schema.decodeUnknownSync(Schema.toCodecJson(OrderDomain.OrderEvent))
  const pageSize = pageSizeOverride ?? 1000
  const pageSql = `SELECT version, payload FROM ${request.table}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version LIMIT $4`
  const pageAfter = (version: number) =>
    client.query<{ version: number; payload: unknown }>({
      name: "floor_page",
      text: pageSql,
      values: ["Order", request.id, version, pageSize]
    })
  return {
    // The library's way, by hand: pages of the store's size, the next page's query sent before this page is folded.
    replay: async () => {
      let state = OrderDomain.initial(request.id)
      let events = 0
      let page = await pageAfter(0)
      for (;;) {
        const full = page.rows.length === pageSize
        const next = full ? pageAfter(page.rows[page.rows.length - 1]!.version) : undefined
        for (const row of page.rows) state = OrderDomain.evolve(state, decodeEvent(row.payload))
        events += page.rows.length
        if (next === undefined) return { events, itemCount: state.itemCount }
        page = await next
      }
    }
  }
}

let replayer: Promise<Replayer> | undefined
let startRssMb = 0

const handle = async (request: ReplayRequest): Promise<ReplayResponse> => {
  if (replayer === undefined) {
    replayer = request.mode === "library" ? library(request) : floor(request)
    await replayer
    startRssMb = mb(process.memoryUsage().rss)
  }
  const { replay } = await replayer
  const ms: Array<number> = []
  const cpuMs: Array<number> = []
  let events = 0
  let itemCount = 0
  for (let round = 0; round < request.rounds; round++) {
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    const replayed = await replay()
    ms.push(performance.now() - t0)
    const cpu = process.cpuUsage(cpu0)
    cpuMs.push((cpu.user + cpu.system) / 1000)
    events = replayed.events
    itemCount = replayed.itemCount
  }
  return {
    type: "replayed",
    events,
    itemCount,
    ms,
    cpuMs,
    startRssMb,
    peakRssMb: mb(process.resourceUsage().maxRSS * 1024)
  }
}

if (process.send !== undefined) {
  process.on("message", (request: ReplayRequest) => {
    handle(request).then(
      (response) => process.send!(response),
      (error: unknown) => process.send!({ type: "error", message: String(error) })
    )
  })
  // The parent disconnecting ends the child (the pool's sockets would keep it alive).
  process.once("disconnect", () => process.exit(0))
}
