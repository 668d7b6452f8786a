/**
 * Where a restore from Postgres goes: `repo.load` of a stream whose snapshot is at its head, against the same
 * work built up step by step, side by side in one loop (alternating, medians).
 *
 *   PG_URL=... tsx examples/src/bench/restoreBreakdown.ts [lines=1000] [profile]
 *
 * First, in process, the state's decoding: the library's (`Aggregate.restoreState`), Schema's own decoder, one
 * written by hand for this Schema (`restoreDecoders.ts`), and `JSON.parse` of the stored text. With `profile`,
 * only `repo.load` runs in a loop (for `node --cpu-prof`).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import type * as Loader from "@effect-snapshots/loader"
import { Aggregate, EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import pg from "pg"
import { Order } from "../Order.js"
import * as OrderDomain from "../OrderDomain.js"
import { encodedHistoryEvent, expectedState } from "./history.js"
import { compare, type Stats } from "./measure.js"
import { decodeOrderEvent, decodeOrderState } from "./restoreDecoders.js"
import * as Seed from "./seed.js"

const url = process.env.PG_URL
if (url === undefined) throw new Error("set PG_URL")
const lines = Number(process.argv[2] ?? 1000)
const profile = process.argv.includes("profile")
const schema = "effect_snapshots_restore_probe"
const id = `restore-${lines}`

const sqlLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layer({ schema }))
)
const runtime = ManagedRuntime.make(sqlLayer)
const scope = Effect.runSync(Scope.make())
const repoOf = (options: EventSourcedRepository.Options, snapshots?: Layer.Layer<SnapshotStore.SnapshotStore>) => {
  const make = EventSourcedRepository.make(Order, options)
  return runtime.runPromise(Scope.provide(snapshots === undefined ? make : Effect.provide(make, snapshots), scope))
}

const admin = new pg.Client({ connectionString: url })
await admin.connect()
await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
const repo = await repoOf({ strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
const replay = await repoOf(
  { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 },
  Layer.fresh(SnapshotStore.layerMemory)
)
await runtime.runPromise(
  Seed.seedStream(id, lines + 1, 0, (id, from, to) => Seed.insertRange(id, from, to, lines), lines)
)

// AB_OLD=<dir>/src/index.ts: the same two loads through another copy of the loader's sources (see
// `replayProbe.ts`), on a runtime of its own, alternating with the others.
const previous = process.env.AB_OLD === undefined ? undefined : await (async () => {
  const old = (await import(process.env.AB_OLD!)) as typeof Loader
  const oldRuntime = ManagedRuntime.make(
    Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(Layer.provideMerge(Postgres.layer({ schema })))
  )
  const make = (snapshots?: Layer.Layer<SnapshotStore.SnapshotStore>) => {
    const made = old.EventSourcedRepository.make(Order, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
    return oldRuntime.runPromise(Scope.provide(snapshots === undefined ? made : Effect.provide(made, snapshots), scope))
  }
  const oldRepo = await make()
  const oldReplay = await make(Layer.fresh(SnapshotStore.layerMemory))
  return {
    ours: () => oldRuntime.runPromise(oldRepo.load(id)),
    replay: () => oldRuntime.runPromise(oldReplay.load(id)),
    dispose: () => oldRuntime.dispose()
  }
})()

// The floor: bare `pg`, one prepared statement for the newest snapshot and the events after it, the state
// text parsed and decoded with Schema's own decoder.
const searchPath = new URL(url)
searchPath.searchParams.set("options", `-c search_path=${schema}`)
const client = new pg.Client({ connectionString: searchPath.toString() })
await client.connect()
const decodeState = Schema.decodeUnknownSync(Schema.toCodecJson(OrderDomain.OrderState))
const snapshotSql = `SELECT version, state_text FROM ${SqlSnapshotStore.defaultTable}
WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`
const tailSql = `SELECT version, payload FROM ${SqlEventStore.defaultTable}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version >= $3 ORDER BY version LIMIT 2000`
const floor = async () => {
  const snap = await client.query({ name: "snap", text: snapshotSql, values: ["Order", id], rowMode: "array" })
  const [version, text] = snap.rows[0] as [string, string]
  const tail = await client.query({ name: "tail", text: tailSql, values: ["Order", id, version], rowMode: "array" })
  return { state: decodeState(JSON.parse(text)), tail: tail.rows.length }
}
const floorFetch = () => client.query({ name: "snap", text: snapshotSql, values: ["Order", id], rowMode: "array" })

const effectFetch = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe(
    `SELECT version, schema_version, created_at, metadata::text AS metadata, encoding, state_text, state_bytes
FROM ${SqlSnapshotStore.defaultTable} WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1`,
    ["Order", id]
  ).values)

const storeRestore = Effect.flatMap(
  SnapshotStore.SnapshotStore,
  (store) =>
    Effect.map(store.load(Order.type, id), (found) => {
      if (found._tag === "None") throw new Error("no snapshot")
      return Aggregate.restoreState(Order, found.value)
    })
)

const inProcess = async () => {
  const text = JSON.stringify(
    Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderState))(expectedState(id, lines + 1, lines))
  )
  const parsed: unknown = JSON.parse(text)
  const snapshot = { schemaVersion: Order.schemaVersion, state: parsed, metadata: {} }
  const schemaDecode = Schema.decodeUnknownResult(Schema.toCodecJson(OrderDomain.OrderState))
  const storedEvents = Array.from({ length: lines + 1 }, (_, i) => {
    const event = encodedHistoryEvent(i + 1, lines)
    return {
      aggregateType: Order.type,
      aggregateId: id,
      version: i + 1,
      position: i + 1,
      type: event.type,
      payload: JSON.parse(JSON.stringify(event.payload)),
      metadata: {},
      createdAt: DateTime.makeUnsafe(0)
    }
  })
  const stats = await compare(
    {
      library: async () => Aggregate.restoreState(Order, snapshot),
      schemaJit: async () => schemaDecode(parsed),
      byHand: async () => Result.succeed(decodeOrderState(parsed)),
      parse: async () => Result.succeed(JSON.parse(text)),
      // The replay's share of decoding: every event of the stream, by the library and by hand.
      eventsLibrary: async () => {
        for (const stored of storedEvents) {
          const event = Aggregate.decodeEvent(Order, stored)
          if (Result.isFailure(event)) return event
        }
        return Result.succeed(storedEvents.length)
      },
      eventsByHand: async () => {
        for (const stored of storedEvents) decodeOrderEvent(stored.payload)
        return Result.succeed(storedEvents.length)
      }
    },
    { warmup: 200, iterations: lines > 5000 ? 300 : 3000 },
    (name, result) => {
      if (!Result.isSuccess(result as Result.Result<unknown, unknown>)) throw new Error(`${name} failed`)
    }
  )
  for (const [name, s] of Object.entries(stats)) {
    console.log(
      `in process: ${name.padEnd(10)} median ${s.medianMs.toFixed(4)} ms (x Schema's decoder ${
        (s.medianMs / stats.schemaJit.medianMs).toFixed(2)
      })`
    )
  }
}

if (profile) {
  const t0 = performance.now()
  for (let i = 0; i < 3000; i++) await runtime.runPromise(repo.load(id))
  console.log(`3000 loads in ${(performance.now() - t0).toFixed(0)} ms`)
} else {
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`)
  await inProcess()
  const cases: Record<string, () => Promise<unknown>> = previous === undefined ?
    {
      ours: () => runtime.runPromise(repo.load(id)),
      replay: () => runtime.runPromise(replay.load(id)),
      storeLoadRestore: () => runtime.runPromise(storeRestore),
      effectFetch: () => runtime.runPromise(effectFetch),
      floor,
      floorFetch
    } :
    {
      ours: () => runtime.runPromise(repo.load(id)),
      replay: () => runtime.runPromise(replay.load(id)),
      floor,
      oursPrevious: previous.ours,
      replayPrevious: previous.replay
    }
  const stats: Record<string, Stats> = await compare(
    cases,
    { warmup: lines > 5000 ? 5 : 50, iterations: lines > 5000 ? 40 : 400 },
    (name, result) => {
      if (name === "ours" && (result as { replayed: number }).replayed !== 0) throw new Error("ours replayed")
      if (name === "storeLoadRestore" && !Result.isSuccess(result as Result.Result<unknown, unknown>)) {
        throw new Error("no restore")
      }
    }
  )
  for (const [name, s] of Object.entries(stats)) {
    console.log(
      `${name.padEnd(18)} median ${s.medianMs.toFixed(3)} ms  (x floor ${
        (s.medianMs / stats.floor.medianMs).toFixed(2)
      })`
    )
  }
  console.log(
    `replay / ours ${(stats.replay.medianMs / stats.ours.medianMs).toFixed(2)}x, replay / floor ${
      (stats.replay.medianMs / stats.floor.medianMs).toFixed(2)
    }x${
      previous === undefined ?
        "" :
        `; previous: replay / ours ${(stats.replayPrevious!.medianMs / stats.oursPrevious!.medianMs).toFixed(2)}x`
    }; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`
  )
}
await client.end()
await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
await admin.end()
await runtime.dispose()
await previous?.dispose()
