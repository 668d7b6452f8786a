/**
 * A locked snapshots table (PG_URL; skipped without it): another connection holds `ACCESS EXCLUSIVE` on
 * `effect_snapshots` for 5 s while loads (no cache: every load reads the snapshot store) and saves (an inline
 * snapshot each) run. With `SnapshotStore.resilient({ timeout: "200 millis" })` every load and save must return
 * well within the lock (a structural bound: under 1.5 s each, the lock is held 5 s) and stay correct: a load
 * that cannot read its snapshot replays, a save commits its events and reports its snapshot `failed`. Two
 * set-ups: README's (the snapshot store on its own pool of 4, saves outside transactions), and both stores on
 * the application's client with saves inside units of work (the snapshot statement in the unit's transaction).
 * The bench (`examples/src/bench/lockedSnapshots.ts`) measures p50 / p99.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as SqlClient from "effect/sql/SqlClient"
import { Ledger, type LedgerEvent, type LedgerState } from "../../loader/test/utils/Ledger.js"
import { deposits, freshId } from "../../loader/test/utils/repositorySuite.js"

const TestLayer = Layer.mergeAll(
  Postgres.layerTest("loader_locked_snapshots", { maxConnections: 4 }),
  // The snapshots that could not be written are logged as warnings on purpose.
  Layer.succeed(References.MinimumLogLevel, "Error")
)

const LOCK_MS = 5_000
const BOUND_MS = 1_500

/** Another pool on the same database and schema. */
const poolOnSchema = (maxConnections: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql.unsafe(`SELECT current_schema()`).values
    const context = yield* Layer.build(
      Postgres.layerUrl(process.env.PG_URL!, { schema: String(rows[0]![0]), maxConnections })
    )
    return Context.get(context, SqlClient.SqlClient)
  })

/** Holds ACCESS EXCLUSIVE on the snapshots table for `ms` in a transaction of `locker`; waits until it is held. */
const holdLock = (locker: SqlClient.SqlClient, ms: number) =>
  Effect.gen(function*() {
    const held = Latch.makeUnsafe(false)
    const fiber = yield* Effect.forkChild(locker.withTransaction(
      Effect.andThen(
        locker.unsafe(`LOCK TABLE effect_snapshots IN ACCESS EXCLUSIVE MODE`),
        Effect.andThen(held.open, Effect.sleep(ms))
      )
    ))
    yield* held.await
    return fiber
  })

interface Timed {
  readonly kind: "load" | "save"
  readonly ms: number
}

/**
 * Runs loads and saves, `workers` at a time, until `lock` ends: each load is checked against the number of
 * deposits saved (balance n(n+1)/2 after deposits 1..n), each save must commit its event.
 */
const workload = Effect.fnUntraced(function*(options: {
  readonly repo: EventSourcedRepository.EventSourcedRepository<LedgerState, LedgerEvent>
  readonly ids: ReadonlyArray<string>
  readonly versions: Map<string, number>
  readonly lock: Fiber.Fiber<unknown, unknown>
  readonly workers: number
  readonly unit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R | UnitOfWork.UnitOfWork>
}) {
  const timings: Array<Timed> = []
  const problems: Array<string> = []
  let stop = false
  const timed = <A, E, R>(kind: Timed["kind"], effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const started = performance.now()
      const result = yield* Effect.result(effect)
      timings.push({ kind, ms: performance.now() - started })
      return result
    })
  const worker = (w: number) =>
    Effect.gen(function*() {
      let round = 0
      while (!stop) {
        // Each worker owns the ids i with i % workers === w: its saves never conflict with another's.
        const mine = options.ids.filter((_, i) => i % options.workers === w)
        const id = mine[round++ % mine.length]!
        const version = options.versions.get(id)!
        const loaded = yield* timed("load", options.repo.load(id))
        if (loaded._tag === "Failure") problems.push(`load ${id}: ${loaded.failure.message}`)
        else {
          const expected = BigDecimal.fromNumberUnsafe(version * (version + 1) / 2)
          if (loaded.success.version !== version || !BigDecimal.equals(loaded.success.state.balance, expected)) {
            problems.push(`load ${id}: version ${loaded.success.version}, expected ${version}`)
          }
        }
        const saved = yield* timed("save", options.unit(options.repo.save(id, version, deposits(1, version + 1))))
        if (saved._tag === "Failure") problems.push(`save ${id}: ${String(saved.failure)}`)
        else options.versions.set(id, version + 1)
      }
    })
  const fibers = yield* Effect.forEach(
    Array.from({ length: options.workers }, (_, w) => w),
    (w) => Effect.forkChild(worker(w))
  )
  yield* Fiber.join(options.lock)
  stop = true
  yield* Fiber.joinAll(fibers)
  return { timings, problems }
})

describe.skipIf(!Postgres.hasServer)("a locked snapshots table (Postgres)", () => {
  layer(Layer.merge(TestLayer, SqlUnitOfWork.layer.pipe(Layer.provide(TestLayer))), {
    timeout: 120_000,
    excludeTestServices: true
  })((it) => {
    /** Seeds `count` aggregates with 3 deposits and a snapshot each, through the repository. */
    const seed = Effect.fnUntraced(function*(
      repo: EventSourcedRepository.EventSourcedRepository<LedgerState, LedgerEvent>,
      count: number
    ) {
      const ids = Array.from({ length: count }, () => freshId("lock"))
      const versions = new Map<string, number>()
      for (const id of ids) {
        const saved = yield* repo.save(id, 0, deposits(3))
        assert.strictEqual(saved.snapshot, "written")
        versions.set(id, 3)
      }
      return { ids, versions }
    })

    /** After the lock: every aggregate loads at the version its saves reached, with the matching balance. */
    const checkAfter = Effect.fnUntraced(function*(
      repo: EventSourcedRepository.EventSourcedRepository<LedgerState, LedgerEvent>,
      versions: Map<string, number>
    ) {
      for (const [id, version] of versions) {
        const loaded = yield* repo.load(id)
        assert.strictEqual(loaded.version, version, id)
        assert.isTrue(
          BigDecimal.equals(loaded.state.balance, BigDecimal.fromNumberUnsafe(version * (version + 1) / 2)),
          id
        )
      }
    })

    const assertBounded = (
      result: { readonly timings: ReadonlyArray<Timed>; readonly problems: ReadonlyArray<string> }
    ) => {
      assert.deepStrictEqual(result.problems, [])
      const loads = result.timings.filter((t) => t.kind === "load")
      const saves = result.timings.filter((t) => t.kind === "save")
      assert.isAbove(loads.length, 8)
      assert.isAbove(saves.length, 8)
      const slowest = Math.max(...result.timings.map((t) => t.ms))
      assert.isBelow(
        slowest,
        BOUND_MS,
        `an operation took ${Math.round(slowest)} ms while the lock was held ${LOCK_MS} ms`
      )
    }

    it.effect("README's set-up (resilient on its own pool of 4): every load and save returns well within the lock, and stays correct", () =>
      Effect.gen(function*() {
        const snapshotPool = yield* poolOnSchema(4)
        const locker = yield* poolOnSchema(1)
        const events = yield* SqlEventStore.make()
        const inner = yield* Effect.provideService(SqlSnapshotStore.make(), SqlClient.SqlClient, snapshotPool)
        const snapshots = yield* SnapshotStore.makeResilient(inner, { timeout: "200 millis" })
        const repo = yield* EventSourcedRepository.make(Ledger, {
          strategy: SnapshotStrategy.everyNEvents(1),
          cacheMaxBytes: 0
        }).pipe(
          Effect.provideService(EventStore.EventStore, events),
          Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
        )
        const { ids, versions } = yield* seed(repo, 16)
        const lock = yield* holdLock(locker, LOCK_MS)
        const result = yield* workload({ repo, ids, versions, lock, workers: 8, unit: (effect) => effect })
        assertBounded(result)
        yield* checkAfter(repo, versions)
      }))

    it.effect("both stores on the application's client, saves inside units of work, resilient: every load and save returns well within the lock, and stays correct", () =>
      Effect.gen(function*() {
        const locker = yield* poolOnSchema(1)
        const events = yield* SqlEventStore.make()
        const snapshots = yield* SnapshotStore.makeResilient(yield* SqlSnapshotStore.make(), { timeout: "200 millis" })
        const repo = yield* EventSourcedRepository.make(Ledger, {
          strategy: SnapshotStrategy.everyNEvents(1),
          cacheMaxBytes: 0
        }).pipe(
          Effect.provideService(EventStore.EventStore, events),
          Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
        )
        const { ids, versions } = yield* seed(repo, 16)
        const lock = yield* holdLock(locker, LOCK_MS)
        const result = yield* workload({ repo, ids, versions, lock, workers: 4, unit: UnitOfWork.transaction })
        assertBounded(result)
        yield* checkAfter(repo, versions)
      }))
  })
})
