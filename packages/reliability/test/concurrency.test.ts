/**
 * Concurrency: 16 fibers x 250 `update`s on one aggregate, and 1,000 aggregates updated in parallel (two
 * writers each). No event lost or duplicated (every update's batch id is in the stream exactly once, versions
 * contiguous), every conflict retried (every update succeeds), and the newest snapshot's version never goes
 * backwards (watched while the writers run).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Checks, Pcg } from "@effect-snapshots/reliability"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import { record } from "./utils/figures.js"
import { scaled } from "./utils/scale.js"
import * as Stacks from "./utils/stacks.js"

/** Retry conflicts until the update goes through (the default gives up after 8 retries); ~1 ms apart, jittered. */
const retry = Schedule.spaced("1 millis").pipe(Schedule.jittered, Schedule.upTo({ times: 100_000 }))

interface Run {
  readonly updates: number
  readonly attempts: number
  readonly failures: ReadonlyArray<string>
  readonly acked: Map<string, Set<string>>
}

/**
 * `writers` fibers per aggregate, each doing `perWriter` updates of one to three events. Counts the
 * decisions (each attempt decides once), so attempts - updates is the number of conflicts retried.
 */
const hammer = Effect.fnUntraced(function*(
  repo: EventSourcedRepository.EventSourcedRepository<Account.State, Account.Event>,
  ids: ReadonlyArray<string>,
  writers: number,
  perWriter: number,
  seed: number
) {
  const rng = new Pcg.Pcg(seed)
  const acked = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]))
  const failures: Array<string> = []
  let attempts = 0
  let updates = 0
  const writer = (id: string, w: number) =>
    Effect.forEach(Array.from({ length: perWriter }, (_, i) => i), (i) => {
      const tx = `${id}-w${w}-${i}`
      const size = 1 + rng.integer(3)
      return Effect.result(repo.update(id, () =>
        Effect.sync(() => {
          attempts++
          return Account.batch(tx, size, () => rng.number())
        }))).pipe(Effect.map((result) => {
          if (Result.isFailure(result)) failures.push(`${tx}: ${result.failure._tag}: ${result.failure.message}`)
          else {
            updates++
            acked.get(id)!.add(tx)
          }
        }))
    }, { discard: true })
  yield* Effect.forEach(
    ids.flatMap((id) => Array.from({ length: writers }, (_, w) => [id, w] as const)),
    ([id, w]) => writer(id, w),
    { concurrency: Math.min(ids.length * writers, 64), discard: true }
  )
  const run: Run = { updates, attempts, failures, acked }
  return run
})

/** Watches the newest snapshot of `ids` while `body` runs: answers every time a version went backwards. */
const watchSnapshots = <A, E, R>(ids: ReadonlyArray<string>, body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const store = yield* SnapshotStore.SnapshotStore
    const newest = new Map<string, number>()
    const backwards: Array<string> = []
    let polls = 0
    const poll = Effect.forEach(ids, (id) =>
      Effect.map(Effect.result(store.load("Account", id)), (found) => {
        if (Result.isFailure(found) || Option.isNone(found.success)) return
        polls++
        const seen = newest.get(id) ?? 0
        if (found.success.value.version < seen) backwards.push(`${id}: ${seen} -> ${found.success.value.version}`)
        newest.set(id, Math.max(seen, found.success.value.version))
      }), { discard: true })
    const watcher = yield* Effect.forkChild(Effect.forever(Effect.andThen(poll, Effect.sleep("2 millis"))))
    const result = yield* body
    yield* Fiber.interrupt(watcher)
    yield* poll
    return { result, backwards, polls }
  })

const scenario = (section: string, options: {
  readonly mode: "inline" | "background"
  readonly aggregates: number
  readonly writers: number
  readonly perWriter: number
  readonly watch: number
  readonly seed: number
}) =>
  Effect.gen(function*() {
    const started = Date.now()
    const repo = yield* EventSourcedRepository.make(Account.Account, {
      strategy: SnapshotStrategy.any(SnapshotStrategy.everyNEvents(10), SnapshotStrategy.eventsSinceSnapshot(7)),
      mode: options.mode,
      retry
    })
    const ids = Array.from({ length: options.aggregates }, (_, i) => `${section}-${options.mode}-${i}`)
    const { backwards, polls, result: run } = yield* watchSnapshots(
      ids.slice(0, options.watch),
      Effect.tap(hammer(repo, ids, options.writers, options.perWriter, options.seed), () => repo.flush)
    )
    const problems: Array<string> = [...run.failures.slice(0, 5), ...backwards.slice(0, 5)]
    let lost = 0
    let mismatches = 0
    for (const id of ids) {
      const report = yield* Checks.aggregate(repo, id, { acked: run.acked.get(id)! })
      lost += report.lost
      if (report.mismatch) mismatches++
      const replay = yield* Account.replay(id)
      const expectedUpdates = options.writers * options.perWriter
      if (replay.txs.length !== expectedUpdates) {
        problems.push(`${id}: ${replay.txs.length} batches in the stream, ${expectedUpdates} updates made`)
      }
      if (report.problems.length > 0) problems.push(`${id}: ${report.problems.slice(0, 3).join("; ")}`)
    }
    const conflicts = run.attempts - run.updates
    record(section, {
      casesTried: run.updates + ids.length,
      conflictsRetried: conflicts,
      mismatches,
      rowsLost: lost
    }, Date.now() - started)
    return { problems, conflicts, polls, updates: run.updates }
  }).pipe(Effect.scoped)

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, References.MinimumLogLevel, "Error")

const oneAggregate = { aggregates: 1, writers: 16, perWriter: 250, watch: 1 }
const manyAggregates = { aggregates: 1000, writers: 2, perWriter: 2, watch: 50 }
// The memory sections at a newcomer's scale (see utils/scale.ts): the same shapes, fewer updates.
const memoryOne = { ...oneAggregate, perWriter: scaled(250, 100) }
const memoryMany = { ...manyAggregates, aggregates: scaled(1000, 400) }
const updatesOf = (shape: { aggregates: number; writers: number; perWriter: number }) =>
  shape.aggregates * shape.writers * shape.perWriter

describe("concurrency (memory)", () => {
  for (const mode of ["inline", "background"] as const) {
    it.live(`${mode}: 16 fibers x ${memoryOne.perWriter} updates on one aggregate`, () =>
      Effect.gen(function*() {
        const run = yield* scenario("concurrency (memory)", { ...memoryOne, mode, seed: 16 })
        assert.deepStrictEqual(run.problems, [])
        assert.strictEqual(run.updates, updatesOf(memoryOne))
        assert.isAbove(run.polls, 0)
      }).pipe(Effect.provide(Stacks.memory), quiet))

    it.live(`${mode}: ${memoryMany.aggregates} aggregates, two writers each, in parallel`, () =>
      Effect.gen(function*() {
        const run = yield* scenario("concurrency (memory)", { ...memoryMany, mode, seed: 1000 })
        assert.deepStrictEqual(run.problems, [])
        assert.strictEqual(run.updates, updatesOf(memoryMany))
      }).pipe(Effect.provide(Stacks.memory), quiet))
  }
})

// On the server each mode runs one of the two shapes (the run time of the whole suite must fit CI); the
// memory runs above do both shapes in both modes.
describe.skipIf(!Postgres.hasServer)("concurrency (real Postgres, 8 connections)", () => {
  const Db = Stacks.sql("reliability_concurrency", 8)
  it.live("inline: 16 fibers x 250 updates on one aggregate", () =>
    Effect.gen(function*() {
      const run = yield* scenario("concurrency (Postgres)", { ...oneAggregate, mode: "inline", seed: 17 })
      assert.deepStrictEqual(run.problems, [])
      assert.strictEqual(run.updates, 4000)
      assert.isAbove(run.conflicts, 0)
    }).pipe(Effect.provide(Db), quiet))

  it.live("background: 1,000 aggregates, two writers each, in parallel", () =>
    Effect.gen(function*() {
      const run = yield* scenario("concurrency (Postgres)", { ...manyAggregates, mode: "background", seed: 1001 })
      assert.deepStrictEqual(run.problems, [])
      assert.strictEqual(run.updates, 4000)
    }).pipe(Effect.provide(Db), quiet))
})
