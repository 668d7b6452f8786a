/**
 * Fault injection: the snapshot store fails 30% of its calls and hangs on 5% (service level on memory,
 * SQL statement level on Postgres), under the `resilient` decorator. Every load must return the full-replay
 * state, no `update` may fail because of snapshots, and the fallback budget must hold: never more concurrent
 * full replays than `fallbackConcurrency`. Another stack has no decorator at all: failures and corrupt
 * snapshots reach the repository directly.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Checks, Faults } from "@effect-snapshots/reliability"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Result from "effect/Result"
import { record } from "./utils/figures.js"
import { Model } from "./utils/model.js"
import { scaled } from "./utils/scale.js"
import * as Stacks from "./utils/stacks.js"

const BUDGET = 4

/** Holds the undecorated snapshot store, so the final checks read it directly (no breaker, no faults). */
interface Raw {
  store?: SnapshotStore.SnapshotStoreService
}

const capture = (raw: Raw) => <E, R>(inner: Layer.Layer<SnapshotStore.SnapshotStore, E, R>) =>
  Layer.effect(
    SnapshotStore.SnapshotStore,
    Effect.map(SnapshotStore.SnapshotStore, (store) => {
      raw.store = store
      return store
    })
  ).pipe(Layer.provide(inner))

interface Instruments {
  readonly raw: Raw
  /** The faults of the run (service level). */
  readonly faults: Faults.Injector
  /** More injectors switched on for the workload and off for the final checks (SQL level). */
  readonly more?: ReadonlyArray<Faults.Injector>
  /** Fails every snapshot call while enabled (the storm); disabled otherwise. */
  readonly storm: Faults.Injector
  readonly gauge: Faults.ReplayGauge
}

const makeInstruments = (seed: number, plan: Faults.Plan): Instruments => {
  const storm = Faults.makeInjector(seed + 1, { failRate: 1 })
  storm.enabled = false
  return { raw: {}, faults: Faults.makeInjector(seed, plan), storm, gauge: Faults.makeReplayGauge() }
}

/** The snapshot store decorated with the storm, then the faults (the storm is closest to the store). */
const faulty = (instruments: Instruments) => <E, R>(inner: Layer.Layer<SnapshotStore.SnapshotStore, E, R>) =>
  inner.pipe(
    capture(instruments.raw),
    Faults.layerSnapshotStore(instruments.storm),
    Faults.layerSnapshotStore(instruments.faults)
  )

interface Sizes {
  readonly aggregates: number
  readonly rounds: number
}

/**
 * Rounds of concurrent updates and loads, each load compared with the model of what was committed; then a
 * load storm with every snapshot read failing; then every aggregate checked with the faults off.
 */
const workload = Effect.fnUntraced(
  function*(section: string, mode: "inline" | "background", sizes: Sizes, instruments: Instruments) {
    const started = Date.now()
    const { faults, gauge, storm } = instruments
    const all = [faults, storm, ...(instruments.more ?? [])]
    const injected = () => all.reduce((n, injector) => n + injector.injected(), 0)
    const injectedBefore = injected()
    const enable = (on: boolean) => {
      faults.enabled = on
      for (const injector of instruments.more ?? []) injector.enabled = on
    }
    const options = {
      strategy: SnapshotStrategy.any(SnapshotStrategy.everyNEvents(5), SnapshotStrategy.eventsSinceSnapshot(3)),
      mode,
      fallbackConcurrency: BUDGET
    }
    const repo = yield* EventSourcedRepository.make(Account.Account, options)
    // Another instance with no known states, as a process just started: every load reads the snapshot store
    // (the hot repository's cache, proven by the stream, answers most of its loads without it).
    const cold = yield* EventSourcedRepository.make(Account.Account, { ...options, cacheMaxBytes: 0 })
    const model = new Model()
    const ids = Array.from({ length: sizes.aggregates }, (_, i) => `${mode}-${i}`)
    const failures: Array<string> = []
    let mismatches = 0
    let cases = 0
    let tx = 0
    const compare = (id: string, result: Result.Result<EventSourcedRepository.Loaded<Account.State>, Error>) => {
      cases++
      const expected = model.expected(id)
      if (Result.isFailure(result)) {
        failures.push(`load ${id}: ${result.failure.message}`)
      } else if (
        result.success.version !== expected.version || !Account.sameState(result.success.state, expected.state)
      ) {
        mismatches++
        failures.push(`load ${id}: version ${result.success.version}, expected ${expected.version}`)
      }
    }
    enable(true)
    gauge.active = true
    gauge.max = 0
    for (let round = 0; round < sizes.rounds; round++) {
      yield* Effect.forEach(ids, (id) =>
        Effect.result(
          repo.update(id, () => Effect.sync(() => Account.batch(`${mode}-${tx}`, 1 + (tx++ % 4), faults.random)))
        ).pipe(Effect.map((result) => {
          cases++
          if (Result.isFailure(result)) {
            failures.push(`update ${id}: ${result.failure._tag}: ${result.failure.message}`)
          } else model.commit(id, result.success.version, result.success.events)
        })), { concurrency: 16, discard: true })
      for (const instance of [repo, cold]) {
        yield* Effect.forEach(
          ids,
          (id) => Effect.map(Effect.result(instance.load(id)), (result) => compare(id, result)),
          { concurrency: 32, discard: true }
        )
      }
    }
    yield* repo.flush
    const workloadMax = gauge.max

    // The storm: every snapshot read fails, 64 loads at once on the cold instance, all full replays, at most
    // BUDGET at a time.
    storm.enabled = true
    gauge.max = 0
    const totalBefore = gauge.total
    const stormIds = Array.from({ length: 64 }, (_, i) => ids[i % ids.length]!)
    yield* Effect.forEach(stormIds, (id) => Effect.map(Effect.result(cold.load(id)), (result) => compare(id, result)), {
      concurrency: "unbounded",
      discard: true
    })
    const stormMax = gauge.max
    const stormReplays = gauge.total - totalBefore
    storm.enabled = false

    // Final checks with the faults off: every aggregate sound, every snapshot equal to the replay at its version.
    enable(false)
    gauge.active = false
    let snapshotsChecked = 0
    for (const id of ids) {
      const report = yield* Checks.aggregate(repo, id).pipe(
        Effect.provideService(SnapshotStore.SnapshotStore, instruments.raw.store!)
      )
      cases++
      snapshotsChecked += report.snapshots
      if (report.problems.length > 0) failures.push(`check ${id}: ${report.problems.join("; ")}`)
      if (report.version !== model.expected(id).version) failures.push(`check ${id}: version differs from the model`)
    }
    record(section, {
      casesTried: cases,
      faultsInjected: injected() - injectedBefore,
      mismatches
    }, Date.now() - started)
    return { failures, workloadMax, stormMax, stormReplays, snapshotsChecked }
  }
)

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, References.MinimumLogLevel, "Error")

/**
 * Short timeouts, so a hung call costs little test time, and a breaker that closes again quickly (the storm
 * opens it on purpose). `maintenanceTimeout` bounds `delete`, which the repository calls when it replaces an
 * unusable snapshot (default: one minute).
 */
const resilience = (timeout: Duration.Input): SnapshotStore.ResilientOptions => ({
  timeout,
  maintenanceTimeout: "1 second",
  circuitBreaker: { failureThreshold: 5, resetAfter: "200 millis" }
})

const assertRun = (run: Effect.Success<ReturnType<typeof workload>>) => {
  assert.deepStrictEqual(run.failures.slice(0, 10), [])
  assert.isAtMost(run.workloadMax, BUDGET, "full replays at once during the workload")
  assert.isAtMost(run.stormMax, BUDGET, "full replays at once during the storm")
  // The storm did replay every aggregate, concurrently up to the budget.
  assert.strictEqual(run.stormReplays, 64)
  assert.strictEqual(run.stormMax, BUDGET)
  assert.isAbove(run.snapshotsChecked, 0)
}

/** Rounds of the memory sections: 6 on CI, 2 in a newcomer's run (see utils/scale.ts). */
const memoryRounds = scaled(6, 2)

describe("fault injection (memory)", () => {
  it.live("snapshot store failing 30% and hanging 5% under resilient(): loads exact, updates never fail", () => {
    const instruments = makeInstruments(3005, { failRate: 0.3, hangRate: 0.05 })
    const eventLatency = Faults.makeInjector(7, { latency: ["0 millis", "2 millis"] })
    const stack = Layer.merge(
      EventStore.layerMemoryWith({ pageSize: 20 }).pipe(
        Faults.layerEventStore(eventLatency),
        Faults.layerCountFullReplays(instruments.gauge)
      ),
      SnapshotStore.layerMemory.pipe(faulty(instruments), SnapshotStore.resilient(resilience("40 millis")))
    )
    const sizes = { aggregates: 200, rounds: memoryRounds }
    return Effect.gen(function*() {
      for (const mode of ["inline", "background"] as const) {
        assertRun(yield* Effect.scoped(workload("faults (memory)", mode, sizes, instruments)))
      }
      assert.isAbove(instruments.faults.counters.failed, 500 * memoryRounds / 6)
      assert.isAbove(instruments.faults.counters.hung, 50 * memoryRounds / 6)
    }).pipe(Effect.provide(stack), quiet)
  })

  it.live("no decorator: 30% failures and 10% corrupt snapshots reach the repository; loads exact", () => {
    const instruments = makeInstruments(3010, { failRate: 0.3, corruptRate: 0.1 })
    const eventLatency = Faults.makeInjector(8, { latency: ["0 millis", "2 millis"] })
    const stack = Layer.merge(
      EventStore.layerMemoryWith({ pageSize: 20 }).pipe(
        Faults.layerEventStore(eventLatency),
        Faults.layerCountFullReplays(instruments.gauge)
      ),
      SnapshotStore.layerMemory.pipe(faulty(instruments))
    )
    const sizes = { aggregates: 200, rounds: memoryRounds }
    return Effect.gen(function*() {
      for (const mode of ["inline", "background"] as const) {
        assertRun(yield* Effect.scoped(workload("faults (memory, bare)", mode, sizes, instruments)))
      }
      assert.isAbove(instruments.faults.counters.corrupted, 100 * memoryRounds / 6)
    }).pipe(Effect.provide(stack), quiet)
  })
})

describe.skipIf(!Postgres.hasServer)("fault injection (real Postgres)", () => {
  it.live("SQL statements on the snapshot table failing 30%, hanging 5%, 5% corrupt rows", () => {
    // The service-level injector has no faults here: the SQL statements get them.
    const instruments = makeInstruments(3015, {})
    // Faults at the SqlClient: only statements on the snapshot table (its name, quoted, in the SQL text).
    const sqlFaults = Faults.makeInjector(3016, { failRate: 0.3, hangRate: 0.05, corruptRate: 0.05 })
    sqlFaults.enabled = false
    const faultySql = Faults.layerSqlClient(sqlFaults, { match: /"effect_snapshots"/ })
    // The snapshot store on its own pool: a timed-out snapshot statement is cancelled by pid, and the cancel
    // must not land on an event store statement (see `Stacks.ownPool`).
    const stack = Layer.merge(
      SqlEventStore.layer.pipe(Faults.layerCountFullReplays(instruments.gauge)),
      Stacks.ownPool(SqlSnapshotStore.layer.pipe(Layer.provide(faultySql))).pipe(
        faulty(instruments),
        SnapshotStore.resilient(resilience("100 millis"))
      )
    ).pipe(Layer.provide(Postgres.layerTest("reliability_faults_pg", { maxConnections: 8 })))
    const sizes = { aggregates: 60, rounds: 5 }
    return Effect.gen(function*() {
      for (const mode of ["inline", "background"] as const) {
        assertRun(
          yield* Effect.scoped(workload("faults (Postgres)", mode, sizes, { ...instruments, more: [sqlFaults] }))
        )
      }
      assert.isAbove(sqlFaults.counters.failed, 50)
      assert.isAbove(sqlFaults.counters.hung, 5)
      assert.isAbove(sqlFaults.counters.corrupted, 5)
    }).pipe(Effect.provide(stack), quiet)
  })
})
