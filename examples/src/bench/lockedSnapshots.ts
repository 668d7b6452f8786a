/**
 * A locked snapshots table: another connection holds `ACCESS EXCLUSIVE` on `effect_snapshots` for `LOCK_MS`
 * (default 5000) while 16 orders are loaded (no cache: every load reads the snapshot store) and saved (one
 * event, an inline snapshot each) in a loop, and reports p50 / p99 / max of each operation:
 *
 * - `resilient, own pool`: README's set-up, `SnapshotStore.resilient({ timeout: "200 millis" })` over a
 *   snapshot store on its own pool of 4, saves outside transactions, 8 workers;
 * - `resilient, one pool, units`: both stores on the application's pool of 4, saves inside
 *   `UnitOfWork.transaction` (the snapshot statement in the unit's transaction), 4 workers;
 * - `no resilient`: both stores on one pool of 4 (the one-statement cold load), saves outside transactions,
 *   4 workers.
 *
 * Every load must answer the version its saves reached (a snapshot it cannot read costs a replay) and every
 * save must commit its event; `problems` counts the ones that did not.
 *
 *   PG_URL=postgres://… npx tsx examples/src/bench/lockedSnapshots.ts
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as SqlClient from "effect/sql/SqlClient"
import { Order } from "../Order.js"
import type * as OrderDomain from "../OrderDomain.js"
import { historyEvent } from "./history.js"

const lockMs = Number(process.env.LOCK_MS ?? "5000")
const url = process.env.PG_URL ?? ""

type Repo = EventSourcedRepository.EventSourcedRepository<OrderDomain.OrderState, OrderDomain.OrderEvent>

const poolOnSchema = (maxConnections: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql.unsafe(`SELECT current_schema()`).values
    const context = yield* Layer.build(Postgres.layerUrl(url, { schema: String(rows[0]![0]), maxConnections }))
    return Context.get(context, SqlClient.SqlClient)
  })

const holdLock = (locker: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const held = Latch.makeUnsafe(false)
    const fiber = yield* Effect.forkChild(locker.withTransaction(
      Effect.andThen(
        locker.unsafe(`LOCK TABLE effect_snapshots IN ACCESS EXCLUSIVE MODE`),
        Effect.andThen(held.open, Effect.sleep(lockMs))
      )
    ))
    yield* held.await
    return fiber
  })

interface Row {
  readonly scenario: string
  readonly op: "load" | "save"
  readonly n: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly problems: number
}

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!

const scenario = Effect.fnUntraced(function*(options: {
  readonly name: string
  readonly repo: Repo
  readonly workers: number
  readonly unit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R | UnitOfWork.UnitOfWork>
}) {
  const locker = yield* poolOnSchema(1)
  const ids = Array.from({ length: 16 }, (_, i) => `${options.name.replace(/\W+/g, "-")}-${i}`)
  const versions = new Map<string, number>()
  for (const id of ids) {
    yield* options.repo.save(id, 0, [historyEvent(1), historyEvent(2), historyEvent(3)])
    versions.set(id, 3)
  }
  const times = { load: [] as Array<number>, save: [] as Array<number> }
  const problems = { load: 0, save: 0 }
  let stop = false
  const timed = <A, E, R>(op: "load" | "save", effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const started = performance.now()
      const result = yield* Effect.result(effect)
      times[op].push(performance.now() - started)
      return result
    })
  const worker = (w: number) =>
    Effect.gen(function*() {
      const mine = ids.filter((_, i) => i % options.workers === w)
      for (let round = 0; !stop; round++) {
        const id = mine[round % mine.length]!
        const version = versions.get(id)!
        const loaded = yield* timed("load", options.repo.load(id))
        if (loaded._tag === "Failure" || loaded.success.version !== version) problems.load++
        const saved = yield* timed("save", options.unit(options.repo.save(id, version, [historyEvent(version + 1)])))
        if (saved._tag === "Failure") problems.save++
        else versions.set(id, version + 1)
      }
    })
  const lock = yield* holdLock(locker)
  const fibers = yield* Effect.forEach(
    Array.from({ length: options.workers }, (_, w) => w),
    (w) => Effect.forkChild(worker(w))
  )
  yield* Fiber.join(lock)
  stop = true
  yield* Fiber.joinAll(fibers)
  return (["load", "save"] as const).map((op): Row => {
    const sorted = [...times[op]].sort((a, b) => a - b)
    return {
      scenario: options.name,
      op,
      n: sorted.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      problems: problems[op]
    }
  })
})

const program = Effect.gen(function*() {
  const events = yield* SqlEventStore.make()
  const plain = yield* SqlSnapshotStore.make()
  const ownPool = yield* Effect.provideService(SqlSnapshotStore.make(), SqlClient.SqlClient, yield* poolOnSchema(4))
  const repoOn = (snapshots: SnapshotStore.SnapshotStoreService) =>
    EventSourcedRepository.make(Order, { strategy: SnapshotStrategy.everyNEvents(1), cacheMaxBytes: 0 }).pipe(
      Effect.provideService(EventStore.EventStore, events),
      Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
    )
  const timeout = { timeout: "200 millis" } as const
  const rows = [
    ...yield* scenario({
      name: "resilient, own pool",
      repo: yield* repoOn(yield* SnapshotStore.makeResilient(ownPool, timeout)),
      workers: 8,
      unit: (effect) => effect
    }),
    ...yield* scenario({
      name: "resilient, one pool, units",
      repo: yield* repoOn(yield* SnapshotStore.makeResilient(plain, timeout)),
      workers: 4,
      unit: UnitOfWork.transaction
    }),
    ...yield* scenario({ name: "no resilient", repo: yield* repoOn(plain), workers: 4, unit: (effect) => effect })
  ]
  const ms = (value: number) => value.toFixed(0).padStart(6)
  console.log(`ACCESS EXCLUSIVE on effect_snapshots for ${lockMs} ms; timeout 200 ms; times in ms`)
  console.log(`${"scenario".padEnd(28)} op       n    p50    p99    max  problems`)
  for (const row of rows) {
    console.log(
      `${row.scenario.padEnd(28)} ${row.op}  ${String(row.n).padStart(5)} ${ms(row.p50)} ${ms(row.p99)} ${
        ms(row.max)
      }  ${row.problems}`
    )
  }
})

if (url === "") {
  console.log("lockedSnapshots: PG_URL is not set; skipped")
} else {
  const Db = Postgres.layerUrlTest(url, "bench_locked", { maxConnections: 4 })
  Effect.runPromise(
    program.pipe(
      Effect.provide(Layer.merge(Db, SqlUnitOfWork.layer.pipe(Layer.provide(Db)))),
      Effect.scoped,
      Effect.provideService(References.MinimumLogLevel, "Error")
    )
  ).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
