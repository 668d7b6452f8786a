/**
 * `pnpm demo`: the Order aggregate of the seed design on Postgres (the server at PG_URL, else an embedded PGlite).
 * It writes a long history through the repository, loads the order by full replay and from a snapshot,
 * prints what it measured, then shows the snapshot history and what retention pruned.
 *
 *   pnpm demo [--events N]        (or DEMO_EVENTS=N; default 20,500)
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as SqlClient from "effect/sql/SqlClient"
import { pathToFileURL } from "node:url"
import * as Database from "./database.js"
import { Order } from "./Order.js"
import * as OrderDomain from "./OrderDomain.js"

export interface DemoOptions {
  /** Events in the order's history: create, items, submit. */
  readonly events: number
  /** Items added per command (one commit each). */
  readonly batch: number
  readonly snapshotEvery: number
  /** Retention: snapshots kept per aggregate. */
  readonly keepLast: number
  /** Timed loads each way (after one warm-up each), alternating. */
  readonly rounds: number
  /** Where progress and the report go; the test passes a collector. */
  readonly print: (line: string) => Effect.Effect<void>
  /** Draw the progress bar in place (a terminal) or print a few milestones (a log). */
  readonly interactive: boolean
}

export const defaults: Omit<DemoOptions, "print" | "interactive"> = {
  events: 20_500,
  batch: 100,
  snapshotEvery: 1_000,
  keepLast: 3,
  rounds: 5
}

export interface DemoResult {
  readonly backend: string
  readonly orderId: string
  readonly events: number
  readonly snapshotVersion: number | null
  readonly replayedFromSnapshot: number
  readonly replayedFull: number
  readonly fullReplayMs: number
  readonly snapshotMs: number
  readonly speedUp: number
  /** Whether both loads answered the same state (they must). */
  readonly sameState: boolean
  readonly itemCount: number
  readonly total: string
  readonly historyBefore: ReadonlyArray<number>
  readonly historyAfter: ReadonlyArray<number>
  readonly pruned: number
}

const fmt = (n: number) => n.toLocaleString("en-US")
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)) + " ms"

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const bar = (done: number, total: number, width = 30) => {
  const filled = Math.round((done / total) * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${fmt(done)}/${fmt(total)} events`
}

const versions = (history: ReadonlyArray<{ readonly version: number }>) => history.map((s) => s.version)

const showVersions = (vs: ReadonlyArray<number>) =>
  vs.length <= 8 ?
    vs.map((v) => `v${fmt(v)}`).join(" ") :
    `v${fmt(vs[0]!)} v${fmt(vs[1]!)} … v${fmt(vs[vs.length - 2]!)} v${fmt(vs[vs.length - 1]!)}`

/**
 * The demo itself. Needs an EventStore and a SnapshotStore (SQL in `pnpm demo`, whatever the caller
 * provides in tests) and the Postgres backend description.
 */
export const program = Effect.fn("demo")(
  function*(options: DemoOptions) {
    const { print } = options
    const backend = yield* Postgres.Backend
    const store = yield* SnapshotStore.SnapshotStore
    yield* print(`Backend: ${backend.description}`)

    const strategy = SnapshotStrategy.everyNEvents(options.snapshotEvery)
    const repo = yield* EventSourcedRepository.make(Order, { strategy })
    // Loads as a process that has not seen the order loads it: newest snapshot plus tail, no cache.
    const fromSnapshot = yield* EventSourcedRepository.make(Order, { strategy, cacheMaxBytes: 0 })
    // The same repository without snapshots (an empty snapshot store of its own: `Layer.fresh`, never an
    // instance memoized by the caller's layers) and without a cache, for the full-replay side: with a cache,
    // every load after the first would read only the tail.
    const replayOnly = yield* EventSourcedRepository.make(Order, {
      strategy: SnapshotStrategy.never,
      cacheMaxBytes: 0
    }).pipe(Effect.provide(Layer.fresh(SnapshotStore.layerMemory)))

    const orderId = `order-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
    const events = Math.max(3, options.events)
    yield* print(
      `\nWriting ${fmt(events)} events to ${orderId} (create, ${
        fmt(events - 2)
      } items in commits of ${options.batch}, ` +
        `submit), snapshot strategy: ${SnapshotStrategy.format(strategy)}`
    )

    const started = Date.now()
    let milestone = 0
    const progress = (done: number) =>
      options.interactive
        ? Effect.sync(() => process.stdout.write(`\r  ${bar(done, events)}`))
        : done >= ((milestone + 1) / 4) * events
        ? Effect.suspend(() => {
          milestone = Math.floor((done / events) * 4)
          return print(`  ${bar(done, events)}`)
        })
        : Effect.void

    let version = (yield* repo.update(orderId, (state) => OrderDomain.create(state, "customer-42"))).version
    yield* progress(version)
    while (version < events - 1) {
      const n = Math.min(options.batch, events - 1 - version)
      // Items are numbered from 0; item i is the event at version i + 2.
      const items = Array.from({ length: n }, (_, k) => OrderDomain.catalogItem(version - 1 + k))
      version = (yield* repo.update(orderId, (state) => OrderDomain.addItems(state, items))).version
      yield* progress(version)
    }
    version = (yield* repo.update(orderId, OrderDomain.submit)).version
    yield* progress(version)
    if (options.interactive) yield* Effect.sync(() => process.stdout.write("\n"))
    yield* print(`  written in ${((Date.now() - started) / 1000).toFixed(1)} s`)

    // Loads, alternating, after one warm-up each way.
    const timed = <A, E, R>(load: Effect.Effect<A, E, R>) =>
      Effect.map(Effect.timed(load), ([d, loaded]) => [Duration.toMillis(d), loaded] as const)
    yield* replayOnly.load(orderId)
    yield* fromSnapshot.load(orderId)
    const rounds = Math.max(1, options.rounds)
    const fullRuns: Array<readonly [number, EventSourcedRepository.Loaded<OrderDomain.OrderState>]> = []
    const snapRuns: Array<readonly [number, EventSourcedRepository.Loaded<OrderDomain.OrderState>]> = []
    for (let round = 0; round < rounds; round++) {
      fullRuns.push(yield* timed(replayOnly.load(orderId)))
      snapRuns.push(yield* timed(fromSnapshot.load(orderId)))
    }
    const fullMs = fullRuns.map(([ms]) => ms)
    const snapMs = snapRuns.map(([ms]) => ms)
    // The table reports what the timed loads did: the fewest events a full replay read, the most a snapshot
    // load read.
    const full = fullRuns.reduce((a, b) => b[1].replayed < a[1].replayed ? b : a)[1]
    const snap = snapRuns.reduce((a, b) => b[1].replayed > a[1].replayed ? b : a)[1]
    const fullReplayMs = median(fullMs)
    const snapshotMs = median(snapMs)
    const encode = (state: OrderDomain.OrderState) =>
      JSON.stringify({ ...state, total: BigDecimal.format(state.total), lines: state.lines.length })
    const sameState = full.version === snap.version && encode(full.state) === encode(snap.state)

    const snapshotVersion = Option.getOrNull(snap.snapshotVersion)
    const speedUp = fullReplayMs / snapshotMs
    const rows: ReadonlyArray<readonly [string, string, string]> = [
      ["", "full replay", "from snapshot"],
      ["events in the stream", fmt(full.version), fmt(snap.version)],
      ["snapshot version", "-", snapshotVersion === null ? "-" : fmt(snapshotVersion)],
      ["events replayed", fmt(full.replayed), fmt(snap.replayed)],
      [`load time (median of ${rounds})`, fmtMs(fullReplayMs), fmtMs(snapshotMs)],
      ["speed-up", "", `${speedUp >= 10 ? speedUp.toFixed(0) : speedUp.toFixed(1)}x`]
    ]
    const w0 = Math.max(...rows.map((r) => r[0].length))
    const w1 = Math.max(...rows.map((r) => r[1].length))
    const w2 = Math.max(...rows.map((r) => r[2].length))
    yield* print(`\nLoading ${orderId}, measured in this run on ${backend.kind}:`)
    for (const [a, b, c] of rows) yield* print(`  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c.padStart(w2)}`)
    yield* print(
      `  both loads: ${sameState ? "the same state" : "DIFFERENT STATES"} — ${snap.state.status}, ` +
        `${fmt(snap.state.itemCount)} items in ${snap.state.lines.length} lines, total ${
          BigDecimal.format(snap.state.total)
        }`
    )

    // Snapshot history and retention.
    const before = versions(yield* store.list(Order.type, orderId))
    yield* print(`\nSnapshot history of ${orderId}: ${before.length} snapshots (${showVersions(before)})`)
    const pruned = yield* store.prune({ keepLast: options.keepLast, aggregateType: Order.type })
    const after = versions(yield* store.list(Order.type, orderId))
    const gone = before.filter((v) => !after.includes(v))
    yield* print(
      `Retention prune({ keepLast: ${options.keepLast} }): deleted ${fmt(gone.length)} of this order's snapshots` +
        (gone.length > 0 ? ` (${showVersions(gone)})` : "") +
        `, kept ${showVersions(after)}` +
        (pruned.deleted > gone.length ? `; ${fmt(pruned.deleted - gone.length)} more of earlier runs` : "")
    )
    const reload = yield* fromSnapshot.load(orderId)
    yield* print(
      `After pruning, the order still loads from v${fmt(Option.getOrElse(reload.snapshotVersion, () => 0))} ` +
        `+ ${fmt(reload.replayed)} events.`
    )

    const result: DemoResult = {
      backend: backend.kind,
      orderId,
      events: snap.version,
      snapshotVersion,
      replayedFromSnapshot: snap.replayed,
      replayedFull: full.replayed,
      fullReplayMs,
      snapshotMs,
      speedUp,
      sameState,
      itemCount: snap.state.itemCount,
      total: BigDecimal.format(snap.state.total),
      historyBefore: before,
      historyAfter: after,
      pruned: gone.length
    }
    return result
  },
  Effect.scoped
)

/** The library's SQL stores on a given Postgres layer (`Postgres.layer()`, or `Postgres.layerTest` in tests). */
export const layerOn = <E>(postgres: Layer.Layer<Postgres.Backend | SqlClient.SqlClient, E>) =>
  Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(Layer.provideMerge(postgres))

/**
 * The stores the demo runs on: Postgres on PG_URL (in the given schema), or the embedded Postgres kept in its
 * data folder, with the library's SQL layers.
 */
export const layer = (options: Pick<Postgres.Options, "schema"> = {}) => layerOn(Database.layer(options))

/** The innermost message of an error's cause chain (the driver's), with its code when the message lacks it. */
const reason = (error: unknown): string => {
  const chain: Array<object> = []
  for (
    let e: unknown = error;
    typeof e === "object" && e !== null && chain.length < 8;
    e = (e as { cause?: unknown }).cause
  ) {
    chain.push(e)
  }
  const messages = chain.flatMap((e) =>
    "message" in e && typeof e.message === "string" && e.message !== "" ? [e.message] : []
  )
  const codes = chain.flatMap((e) => "code" in e && e.code !== undefined ? [String(e.code)] : [])
  const message = messages[messages.length - 1] ?? String(error)
  const code = codes[0]
  return code === undefined || message.includes(code) ? message : `${message} (${code})`
}

export const parseEvents = (argv: ReadonlyArray<string>, env: string | undefined): number | string => {
  const i = argv.indexOf("--events")
  const raw = i >= 0 ? argv[i + 1] : env
  if (raw === undefined || raw === "") return defaults.events
  const n = Number(raw.replaceAll("_", "").replaceAll(",", ""))
  return Number.isSafeInteger(n) && n >= 3 ? n : `--events must be an integer >= 3, got ${JSON.stringify(raw)}`
}

const main = async () => {
  const events = parseEvents(process.argv.slice(2), process.env.DEMO_EVENTS)
  if (typeof events === "string") {
    console.error(events)
    process.exitCode = 2
    return
  }
  const t0 = Date.now()
  console.log(
    "effect-snapshots demo: the Order aggregate of the seed design, loaded by full replay and from a snapshot"
  )
  console.log(`Connecting to ${Database.describe()} …`)
  const exit = await Effect.runPromiseExit(
    program({
      ...defaults,
      events,
      print: (line) => Console.log(line),
      interactive: process.stdout.isTTY === true
    }).pipe(Effect.provide(layer({ schema: "effect_snapshots_demo" })))
  )
  if (Exit.isSuccess(exit)) {
    console.log(`\nDone in ${((Date.now() - t0) / 1000).toFixed(1)} s.`)
    return
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value as { readonly _tag?: string }
    if (error._tag === "SqlError" || error._tag === "SnapshotStoreError" || error._tag === "EventStoreError") {
      console.error(`\nError: cannot connect to ${Database.describe()}: ${reason(error)}`)
    } else {
      console.error(`\nError: ${reason(error)}`)
    }
  } else {
    console.error(`\nError: ${Cause.pretty(exit.cause).split("\n")[0]}`)
  }
  process.exitCode = 1
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main()
}
