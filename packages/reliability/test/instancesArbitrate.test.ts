/**
 * Issue 22, item 7: several instances in background mode, one aggregate. Each instance is its own repository
 * (its own cache and background writer) on one shared event store and snapshot store; they take turns saving
 * one event each, 400 events, `eventsSinceSnapshot(100)`. The store arbitrates (`saveIfDue`): across instances
 * each due point gets one snapshot.
 *
 * What is counted: a snapshot taken fewer than 100 events after the one before it (or before version 100) is
 * one the strategy did not call for: a due point served twice (seen before: 100,101,201,202,302). That count
 * must be 0. The total is at most 400 / 100 = 4 and often 3: in background mode a due point is served at the
 * version its writer got to (101, 102...: a writer merges its queued requests into the newest), and the next
 * one is due 100 events after that, so the last falls past 400. Every due point must be served: no gap of
 * 200 events or more, and the last snapshot fewer than 100 events before the end.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, SnapshotMetrics } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Pcg } from "@effect-snapshots/reliability"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as References from "effect/References"
import { record } from "./utils/figures.js"
import * as Stacks from "./utils/stacks.js"

const section = "instances (snapshot arbitration)"
const events = 400
const interval = 100
const runs = 20

const deposit = (v: number): Account.Event => ({ _tag: "Deposited", amount: 1, tx: `t${v}`, index: 0, size: 1 })

/** One run: `instances` repositories take turns on one fresh aggregate; the versions of its snapshots. */
const runOnce = (instances: number, id: string) =>
  Effect.scoped(Effect.gen(function*() {
    const strategy = SnapshotStrategy.eventsSinceSnapshot(interval)
    const repos = yield* Effect.forEach(
      Array.from({ length: instances }),
      () => EventSourcedRepository.make(Account.Account, { strategy, mode: "background" })
    )
    for (let v = 0; v < events; v++) {
      yield* repos[v % instances]!.save(id, v, [deposit(v)])
      // What a command's I/O gives the background writers on a real backend: a turn of the scheduler.
      yield* Effect.yieldNow
    }
    yield* Effect.forEach(repos, (repo) => repo.flush, { discard: true })
    const store = yield* SnapshotStore.SnapshotStore
    return (yield* store.list(Account.Account.type, id)).map((info) => info.version)
  }))

/** Snapshots the strategy did not call for, and due points left without a snapshot. */
const judge = (versions: ReadonlyArray<number>) => {
  let over = 0
  let missed = 0
  for (const [i, version] of versions.entries()) {
    const gap = version - (i === 0 ? 0 : versions[i - 1]!)
    if (gap < interval) over++
    if (gap >= 2 * interval) missed++
  }
  if (events - (versions[versions.length - 1] ?? 0) >= interval) missed++
  return { over, missed }
}

const metrics = SnapshotMetrics.forAggregateType(Account.Account.type)
const count = (metric: Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

/** `runs` runs with `instances` instances; asserts every due point one snapshot and records the section. */
const scenario = (backend: string, instances: number) =>
  Effect.gen(function*() {
    const started = Date.now()
    const wrong: Array<string> = []
    let over = 0
    let stored = 0
    const [writtenBefore, coveredBefore] = yield* Effect.all([count(metrics.written), count(metrics.covered)])
    for (let run = 0; run < runs; run++) {
      const versions = yield* runOnce(instances, `arbitrate-${backend}-${instances}-${run}-${started}`)
      const judged = judge(versions)
      if (judged.over > 0 || judged.missed > 0) wrong.push(`run ${run}: ${versions.join(",")}`)
      over += judged.over
      stored += versions.length
    }
    const [written, covered] = yield* Effect.all([count(metrics.written), count(metrics.covered)])
    record(section, { casesTried: runs, snapshotsOverIdeal: over }, Date.now() - started)
    // "written" is counted only for a row that was stored; a due point served by another instance is "covered".
    assert.strictEqual(written - writtenBefore, stored)
    // The seeded memory runs are deterministic: their writers do race (and the store settles it).
    if (backend === "memory") assert.isAbove(covered - coveredBefore, 0, "no due point was raced for")
    assert.deepStrictEqual(
      wrong,
      [],
      `${instances} instances on ${backend}: runs with a due point served twice or never`
    )
  }).pipe(Effect.provideService(References.MinimumLogLevel, "Error"))

/**
 * The memory snapshot store with a few scheduler turns (seeded, 0 to 3) before each call: what a real store's
 * I/O does to the writers of several instances, which then interleave between their read of the last
 * snapshot and their write.
 */
const withTurns = (seed: number) =>
  Layer.effect(
    SnapshotStore.SnapshotStore,
    Effect.map(SnapshotStore.SnapshotStore, (inner): SnapshotStore.SnapshotStoreService => {
      const rng = new Pcg.Pcg(seed)
      const turns = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.andThen(Effect.forEach(Array.from({ length: rng.integer(4) }), () => Effect.yieldNow), effect)
      return {
        ...inner,
        save: (snapshot) => turns(inner.save(snapshot)),
        saveIfDue: (snapshot, options) => turns(inner.saveIfDue(snapshot, options)),
        load: (type, id, options) => turns(inner.load(type, id, options)),
        list: (type, id) => turns(inner.list(type, id))
      }
    })
  ).pipe(Layer.provideMerge(Stacks.memory))

describe(`${section}: memory`, () => {
  for (const instances of [2, 4]) {
    it.live(`${instances} instances x ${runs} runs, background: one snapshot per due point`, () =>
      scenario("memory", instances).pipe(Effect.provide(withTurns(instances))))
  }
})

describe.skipIf(!Postgres.hasServer)(`${section}: real Postgres`, () => {
  for (const instances of [2, 4]) {
    it.live(
      `${instances} instances x ${runs} runs, background: one snapshot per due point`,
      () => scenario("postgres", instances).pipe(Effect.provide(Stacks.sql("reliability_arbitrate", 8))),
      120_000
    )
  }
})
