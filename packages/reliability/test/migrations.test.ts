/**
 * Buggy migrations: version-1 snapshots of random histories, read by a version 2 whose migration is wrong (for
 * every state, or only for some: a data-dependent bug), or right (the control). No load may return a state other
 * than the fold of the stream:
 * - loads with the check on every load (`share: 1`), then a second instance's load (from what the first one
 *   left in the store);
 * - `rebuild`, then a load, with the check never sampled (`share: 0`, `firstLoads: 0`): rebuild checks anyway;
 * - `verify` with the same: it must report every wrong migration, and the load after it must be right.
 * The wrong migrated states the check found are counted by `SnapshotMetrics.migrationMismatches`: exactly the
 * aggregates whose migrated state differs from the truth. Memory and PostgreSQL (PGlite without PG_URL).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import type { EventStore } from "@effect-snapshots/loader"
import { Aggregate, EventSourcedRepository, Migration, SnapshotMetrics } from "@effect-snapshots/loader"
import { Pcg } from "@effect-snapshots/reliability"
import type { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import { record } from "./utils/figures.js"
import * as Stacks from "./utils/stacks.js"

const section = "buggy migration"

const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Int })
const Events = Schema.Union([Deposited])
type Event = typeof Events.Type
const StateV1 = Schema.Struct({ deposits: Schema.Int, sum: Schema.Int })
type StateV1 = typeof StateV1.Type
const StateV2 = Schema.Struct({ deposits: Schema.Int, total: Schema.Int })
type StateV2 = typeof StateV2.Type

/** The migrations tried: wrong for every state, wrong for some, and right. */
const kinds: ReadonlyArray<readonly [string, (v1: StateV1) => StateV2]> = [
  ["count as total", (v1) => ({ deposits: v1.deposits, total: v1.deposits })],
  ["off by one", (v1) => ({ deposits: v1.deposits - 1, total: v1.sum })],
  ["rounded to tens (wrong for some states)", (v1) => ({ deposits: v1.deposits, total: Math.floor(v1.sum / 10) * 10 })],
  ["right", (v1) => ({ deposits: v1.deposits, total: v1.sum })]
]

const truth = (amounts: ReadonlyArray<number>): StateV2 => ({
  deposits: amounts.length,
  total: amounts.reduce((a, b) => a + b, 0)
})

const v1 = (type: string) =>
  Aggregate.make({
    type,
    state: StateV1,
    initial: (): StateV1 => ({ deposits: 0, sum: 0 }),
    events: Events,
    evolve: (s: StateV1, e: Event): StateV1 => ({ deposits: s.deposits + 1, sum: s.sum + e.amount })
  })

const v2 = (type: string, migrate: (v1: StateV1) => StateV2, share: number) =>
  Aggregate.make({
    type,
    state: StateV2,
    initial: (): StateV2 => ({ deposits: 0, total: 0 }),
    events: Events,
    evolve: (s: StateV2, e: Event): StateV2 => ({ deposits: s.deposits + 1, total: s.total + e.amount }),
    migrations: Migration.from(1, StateV1).pipe(Migration.to(StateV2, migrate)),
    migrationCheck: { share, firstLoads: 0 }
  })

const same = (a: StateV2, b: StateV2) => a.deposits === b.deposits && a.total === b.total

interface Written {
  readonly id: string
  readonly amounts: ReadonlyArray<number>
  /** Whether the migration gives a wrong state for this aggregate's newest version-1 snapshot. */
  readonly wrong: boolean
}

/**
 * `count` aggregates of random histories written by version 1 (snapshots every 1 to 4 events, then 0 to 3
 * events without a snapshot).
 */
const writeHistories = Effect.fnUntraced(function*(
  rng: Pcg.Pcg,
  type: string,
  migrate: (v1: StateV1) => StateV2,
  count: number
) {
  const written: Array<Written> = []
  for (let i = 0; i < count; i++) {
    const id = `${type}-${i}`
    const every = 1 + rng.integer(4)
    const snapshotted = every + rng.integer(12)
    const tail = rng.integer(4)
    const amounts = Array.from({ length: snapshotted + tail }, () => 1 + rng.integer(40))
    yield* Effect.scoped(Effect.gen(function*() {
      const snapshotting = yield* EventSourcedRepository.make(v1(type), {
        strategy: SnapshotStrategy.everyNEvents(every)
      })
      const plain = yield* EventSourcedRepository.make(v1(type), { strategy: SnapshotStrategy.never })
      for (let v = 0; v < snapshotted; v++) yield* snapshotting.save(id, v, [Deposited.make({ amount: amounts[v]! })])
      for (let v = snapshotted; v < amounts.length; v++) {
        yield* plain.save(id, v, [Deposited.make({ amount: amounts[v]! })])
      }
    }))
    // The newest version-1 snapshot is at the last multiple of `every` within the snapshotted events.
    const at = snapshotted - (snapshotted % every)
    const stateAt = { deposits: at, sum: amounts.slice(0, at).reduce((a, b) => a + b, 0) }
    written.push({ id, amounts, wrong: !same(migrate(stateAt), { deposits: at, total: stateAt.sum }) })
  }
  return written
})

const counted = (type: string) =>
  Effect.map(Metric.value(SnapshotMetrics.forAggregateType(type).migrationMismatches), (state) => state.count)

const fresh = (type: string, migrate: (v1: StateV1) => StateV2, share: number) =>
  EventSourcedRepository.make(v2(type, migrate, share), { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })

const run = <ROut, E>(
  backend: string,
  layer: Layer.Layer<ROut | EventStore.EventStore | SnapshotStore.SnapshotStore, E>,
  perKind: number,
  seed: number
) =>
  Effect.gen(function*() {
    const started = Date.now()
    const rng = Pcg.make(seed)
    const problems: Array<string> = []
    let cases = 0
    let faults = 0
    let mismatches = 0
    const expectTruth = (what: string, written: Written, state: StateV2) => {
      cases++
      if (!same(state, truth(written.amounts))) {
        mismatches++
        problems.push(
          `${what} ${written.id}: ${JSON.stringify(state)}, expected ${JSON.stringify(truth(written.amounts))}`
        )
      }
    }
    for (const [kind, migrate] of kinds) {
      for (const mode of ["load", "rebuild", "verify"] as const) {
        const type = `Buggy${backend}${kinds.findIndex(([k]) => k === kind)}${mode}`
        const written = yield* writeHistories(rng, type, migrate, perKind)
        const wrong = written.filter((w) => w.wrong).length
        faults += wrong
        yield* Effect.scoped(Effect.gen(function*() {
          if (mode === "load") {
            const checking = yield* fresh(type, migrate, 1)
            for (const w of written) expectTruth(`${kind}: load`, w, (yield* checking.load(w.id)).state)
          } else if (mode === "rebuild") {
            const summary = yield* (yield* fresh(type, migrate, 0)).rebuild()
            if (summary.failed > 0) problems.push(`${kind}: rebuild failed for ${summary.failed}`)
          } else {
            const verifier = yield* fresh(type, migrate, 0)
            for (const w of written) {
              cases++
              const verified = yield* verifier.verify(w.id)
              if (verified.consistent === w.wrong) {
                mismatches++
                problems.push(
                  `${kind}: verify ${w.id} says consistent: ${verified.consistent}, the migration is wrong: ${w.wrong}`
                )
              }
            }
          }
          // Another instance loads what the first one left: never the wrong migrated state.
          const next = yield* fresh(type, migrate, mode === "load" ? 1 : 0)
          for (const w of written) expectTruth(`${kind}: ${mode}, then a load`, w, (yield* next.load(w.id)).state)
        }))
        const found = yield* counted(type)
        if (found !== wrong) problems.push(`${kind} (${mode}): ${found} mismatches counted, ${wrong} wrong migrations`)
      }
    }
    record(section, { casesTried: cases, faultsInjected: faults, mismatches }, Date.now() - started)
    assert.deepStrictEqual(problems, [])
    assert.isAbove(faults, 0)
  }).pipe(Effect.provide(layer), Effect.provideService(References.MinimumLogLevel, "Error"))

describe("buggy migrations cost a replay, never a wrong state", () => {
  it.effect("memory", () => run("Memory", Stacks.memory, 12, 20261207), { timeout: 120_000 })
  it.effect("PostgreSQL", () => run("Sql", Stacks.sql("reliability_migrations"), 6, 7), { timeout: 300_000 })
})
