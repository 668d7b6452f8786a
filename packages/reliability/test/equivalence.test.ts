/**
 * Equivalence at scale: random histories (random strategies, batch sizes, inline or background snapshots,
 * random snapshot faults: failures, corrupt answers, and hangs under `resilient`), 10,000 on memory and 500
 * on Postgres (the snapshot store on its own pool: see `Stacks.ownPool`). After every batch (sometimes), at the end with the faults on, and at the end with them off,
 * the repository's load (snapshot + tail) must equal the full replay of what was committed: 0 mismatches.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Faults } from "@effect-snapshots/reliability"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as FastCheck from "fast-check"
import { record } from "./utils/figures.js"
import { Model } from "./utils/model.js"
import { scaled } from "./utils/scale.js"
import * as Stacks from "./utils/stacks.js"

// ---------------------------------------------------------------------------------------------------------------
// random histories
// ---------------------------------------------------------------------------------------------------------------

const leaf: FastCheck.Arbitrary<SnapshotStrategy.SnapshotStrategy> = FastCheck.oneof(
  FastCheck.integer({ min: 1, max: 20 }).map(SnapshotStrategy.everyNEvents),
  FastCheck.integer({ min: 1, max: 20 }).map(SnapshotStrategy.eventsSinceSnapshot),
  FastCheck.integer({ min: 1, max: 30 }).map(SnapshotStrategy.replayedAtLeast),
  FastCheck.subarray(["Deposited", "Withdrawn", "Noted"], { minLength: 1 }).map((types) =>
    SnapshotStrategy.onEventTypes(...types)
  ),
  FastCheck.integer({ min: 0, max: 3 }).map((ms) => SnapshotStrategy.afterDuration(`${ms} millis`)),
  FastCheck.constant(SnapshotStrategy.loadTimeAtLeast("0 millis")),
  FastCheck.constant(SnapshotStrategy.custom("everyThird")),
  FastCheck.constant(SnapshotStrategy.always),
  FastCheck.constant(SnapshotStrategy.never)
)

const strategy: FastCheck.Arbitrary<SnapshotStrategy.SnapshotStrategy> = FastCheck.letrec<{
  s: SnapshotStrategy.SnapshotStrategy
}>((tie) => ({
  s: FastCheck.oneof(
    { maxDepth: 3, depthIdentifier: "strategy" },
    { weight: 4, arbitrary: leaf },
    FastCheck.array(tie("s"), { minLength: 1, maxLength: 3 }).map((s) => SnapshotStrategy.any(...s)),
    FastCheck.array(tie("s"), { minLength: 1, maxLength: 3 }).map((s) => SnapshotStrategy.all(...s)),
    tie("s").map(SnapshotStrategy.not),
    FastCheck.tuple(tie("s"), tie("s")).map(([account, other]) =>
      SnapshotStrategy.perAggregateType({ Account: account }, other)
    )
  )
})).s

const predicates: SnapshotStrategy.CustomPredicates = { everyThird: (context) => context.currentVersion % 3 === 0 }

interface History {
  readonly seed: number
  readonly strategy: SnapshotStrategy.SnapshotStrategy
  readonly mode: "inline" | "background"
  readonly batches: ReadonlyArray<number>
  /** Use `update` (load, decide, save) rather than `save` for a share of the batches. */
  readonly updateShare: number
  /** Load and compare after a share of the batches. */
  readonly loadShare: number
  readonly faults: {
    readonly failRate: number
    readonly corruptRate: number
    /** Hangs need `resilient` (its timeout) above the faulty store; false: the repository sees faults bare. */
    readonly resilient: false | { readonly hangRate: number }
  }
}

const history: FastCheck.Arbitrary<History> = FastCheck.record({
  seed: FastCheck.integer({ min: 0, max: 2 ** 31 - 1 }),
  strategy,
  mode: FastCheck.constantFrom("inline" as const, "inline" as const, "inline" as const, "background" as const),
  batches: FastCheck.array(FastCheck.integer({ min: 1, max: 8 }), { maxLength: 16 }),
  updateShare: FastCheck.constantFrom(0, 0.3, 1),
  loadShare: FastCheck.constantFrom(0, 0.2, 0.5),
  faults: FastCheck.record({
    failRate: FastCheck.constantFrom(0, 0, 0.1, 0.3),
    corruptRate: FastCheck.constantFrom(0, 0, 0.1, 0.3),
    resilient: FastCheck.oneof(
      { weight: 4, arbitrary: FastCheck.constant(false as const) },
      { weight: 1, arbitrary: FastCheck.record({ hangRate: FastCheck.constantFrom(0, 0.05) }) }
    )
  })
})

// ---------------------------------------------------------------------------------------------------------------
// running one
// ---------------------------------------------------------------------------------------------------------------

interface Result {
  readonly comparisons: number
  readonly mismatches: ReadonlyArray<string>
  readonly faults: number
}

const runHistory = (h: History, id: string) =>
  Effect.gen(function*() {
    const store = yield* SnapshotStore.SnapshotStore
    const injector = Faults.makeInjector(h.seed, {
      failRate: h.faults.failRate,
      corruptRate: h.faults.corruptRate,
      hangRate: h.faults.resilient === false ? 0 : h.faults.resilient.hangRate
    })
    const faulty = Faults.snapshotStore(store, injector)
    const snapshots = h.faults.resilient === false
      ? faulty
      : yield* SnapshotStore.makeResilient(faulty, {
        timeout: "20 millis",
        maintenanceTimeout: "200 millis",
        circuitBreaker: false
      })
    const options = { strategy: h.strategy, predicates, mode: h.mode }
    const repo = yield* EventSourcedRepository.make(Account.Account, options).pipe(
      Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
    )
    // A second instance without known states: its loads always go through the snapshot store (snapshot + tail),
    // where the first one's are mostly answered by its cache.
    const cold = yield* EventSourcedRepository.make(Account.Account, { ...options, cacheMaxBytes: 0 }).pipe(
      Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
    )
    const model = new Model()
    const mismatches: Array<string> = []
    let comparisons = 0
    const compareOne = (instance: typeof repo, when: string) =>
      Effect.map(Effect.result(instance.load(id)), (loaded) => {
        comparisons++
        const expected = model.expected(id)
        if (Result.isFailure(loaded)) {
          mismatches.push(`${id} ${when}: load failed: ${loaded.failure.message}`)
        } else if (
          loaded.success.version !== expected.version || !Account.sameState(loaded.success.state, expected.state)
        ) {
          mismatches.push(
            `${id} ${when}: snapshot ${Option.getOrElse(loaded.success.snapshotVersion, () => "none")} + ` +
              `${loaded.success.replayed} events gave version ${loaded.success.version}, ` +
              `the full replay ${expected.version}`
          )
        }
      })
    const compare = (when: string) =>
      Effect.andThen(compareOne(repo, `${when} (cached)`), compareOne(cold, `${when} (cold)`))
    let version = 0
    for (const [i, size] of h.batches.entries()) {
      const events = Account.batch(`${id}-${i}`, size, injector.random)
      if (injector.random() < h.updateShare) {
        const updated = yield* repo.update(id, () => Effect.succeed(events))
        model.commit(id, updated.version, updated.events)
        version = updated.version
      } else {
        const saved = yield* repo.save(id, version, events)
        model.commit(id, saved.version, events)
        version = saved.version
      }
      if (injector.random() < h.loadShare) yield* compare(`after batch ${i}`)
    }
    if (version > 0) {
      yield* compare("at the end, faults on")
      yield* repo.flush
      injector.enabled = false
      yield* compare("at the end, faults off")
      const verified = yield* repo.verify(id)
      comparisons++
      if (!verified.consistent) mismatches.push(`${id}: verify found snapshot + tail != full replay`)
    }
    const result: Result = { comparisons, mismatches, faults: injector.injected() }
    return result
  }).pipe(Effect.scoped)

const runAll = (section: string, histories: ReadonlyArray<History>, concurrency: number) =>
  Effect.gen(function*() {
    const started = Date.now()
    let comparisons = 0
    let faults = 0
    const mismatches: Array<string> = []
    const failures: Array<string> = []
    yield* Effect.forEach(histories, (h, i) =>
      Effect.result(runHistory(h, `${section}-${i}`)).pipe(Effect.map((result) => {
        if (Result.isFailure(result)) {
          failures.push(`history ${i} (seed ${h.seed}): ${String(result.failure)}`)
        } else {
          comparisons += result.success.comparisons
          faults += result.success.faults
          if (result.success.mismatches.length > 0) {
            mismatches.push(
              `history ${i}: ${result.success.mismatches[0]} — strategy ${SnapshotStrategy.format(h.strategy)}, ` +
                `mode ${h.mode}, batches ${JSON.stringify(h.batches)}, faults ${JSON.stringify(h.faults)}`
            )
          }
        }
      })), { concurrency, discard: true })
    // The bulk check over every aggregate with a snapshot, with the faults gone.
    const sweep = yield* EventSourcedRepository.make(Account.Account, { strategy: SnapshotStrategy.never }).pipe(
      Effect.flatMap((repo) =>
        repo.verifyAll({ concurrency })
      ),
      Effect.scoped
    )
    for (const { aggregateId, verified } of sweep.inconsistent) {
      mismatches.push(`verifyAll: ${aggregateId} differs at ${
        verified.differences.map((d) => d.path).join(", ")
      }`)
    }
    for (const { aggregateId, message } of sweep.failed) failures.push(`verifyAll: ${aggregateId}: ${message}`)
    record(section, {
      casesTried: comparisons + sweep.checked,
      faultsInjected: faults,
      mismatches: mismatches.length
    }, Date.now() - started)
    return { comparisons, faults, mismatches, failures, swept: sweep.checked }
  })

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, References.MinimumLogLevel, "None")

const memoryHistories = scaled(10_000, 1_000)

describe("equivalence at scale", () => {
  it.live(`${memoryHistories.toLocaleString("en-US")} random histories on memory: snapshot + tail == full replay`, () =>
    Effect.gen(function*() {
      const histories = FastCheck.sample(history, { seed: 10_000, numRuns: memoryHistories })
      const run = yield* runAll("equivalence (memory)", histories, 32)
      assert.deepStrictEqual(run.failures.slice(0, 5), [])
      assert.deepStrictEqual(run.mismatches.slice(0, 5), [])
      // Enough faults to mean something: a full run injects about 0.9 per history (9,000 to 10,500 for 10,000;
      // the count depends on the seed).
      assert.isAbove(run.faults, memoryHistories / 2)
      assert.isAbove(run.swept, memoryHistories / 2)
    }).pipe(Effect.provide(Stacks.memory), quiet))

  it.live.skipIf(!Postgres.hasServer)(
    "500 random histories on Postgres: snapshot + tail == full replay",
    () =>
      Effect.gen(function*() {
        const histories = FastCheck.sample(history, { seed: 500, numRuns: 500 })
        const run = yield* runAll("equivalence (Postgres)", histories, 8)
        assert.deepStrictEqual(run.failures.slice(0, 5), [])
        assert.deepStrictEqual(run.mismatches.slice(0, 5), [])
      }).pipe(Effect.provide(Stacks.sqlTwoPools("reliability_equivalence", 8)), quiet)
  )
})
