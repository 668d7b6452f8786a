/**
 * Issue 22, item 6: clock skew between instances. Two repositories on the same stores are two instances; one
 * runs with a Clock shifted from the test's TestClock (memory) or from the real clock (Postgres). `afterDuration`
 * must keep snapshotting about once per interval on every instance, whatever another instance's clock says. On
 * SQL the database's clock stamps the snapshots and is the decisions' "now", so a skewed instance compares
 * like with like and snapshots on schedule, neither suppressed nor at every save.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import { Deposited, Ledger } from "../../loader/test/utils/Ledger.js"

const HOUR = 3_600_000
const MINUTE = 60_000

/** The clock `clock`, moved by `offset()` milliseconds (read on every use, so a test can step it). */
const shifted = (clock: Clock.Clock, offset: () => number): Clock.Clock => ({
  currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe() + offset(),
  currentTimeMillis: Effect.sync(() => clock.currentTimeMillisUnsafe() + offset()),
  currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe() + BigInt(offset()) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => clock.currentTimeNanosUnsafe() + BigInt(offset()) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: clock.monotonicTimeNanos,
  sleep: (duration) => clock.sleep(duration)
})

/** Run `effect` as an instance whose clock is the current one moved by `offset()`. */
const skewed = (offset: () => number) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Clock.clockWith(Effect.succeed),
    (clock) => Effect.provideService(effect, Clock.Clock, shifted(clock, offset))
  )

const deposit = (n: number) => Deposited.make({ amount: BigDecimal.fromNumberUnsafe(n), note: "" })

const memory = Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory)

const repository = EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.afterDuration("1 hour") })

/** Save one event every `every` ms of the test clock for `total` ms; the test-clock times of the saves that snapshot. */
const saveEvery = Effect.fnUntraced(function*(
  save: (version: number) => Effect.Effect<EventSourcedRepository.Saved, unknown>,
  from: number,
  every: number,
  total: number,
  step?: { readonly at: number; readonly run: () => void }
) {
  const taken: Array<number> = []
  let version = from
  for (let elapsed = every; elapsed <= total; elapsed += every) {
    yield* TestClock.adjust(every)
    if (step !== undefined && elapsed === step.at) step.run()
    const saved = yield* save(version)
    version = saved.version
    if (saved.snapshot === "written") taken.push(elapsed)
  }
  return taken
})

const gaps = (start: number, taken: ReadonlyArray<number>): Array<number> =>
  taken.map((t, i) => t - (i === 0 ? start : taken[i - 1]!))

describe("afterDuration under clock skew (memory layers, TestClock)", () => {
  it.effect("a snapshot stamped by an instance a day fast does not stop another instance's snapshots", () =>
    Effect.gen(function*() {
      const normal = yield* repository
      const fast = yield* repository
      const ahead = skewed(() => 24 * HOUR)
      const id = "skew-day"
      assert.strictEqual((yield* normal.save(id, 0, [deposit(1)])).snapshot, "written")
      assert.strictEqual((yield* ahead(fast.save(id, 1, [deposit(2)]))).snapshot, "written")
      // Twelve hours of the normal instance's clock, one save every ten minutes.
      const taken = yield* saveEvery((v) => normal.save(id, v, [deposit(v + 1)]), 2, 10 * MINUTE, 12 * HOUR)
      assert.isAtLeast(taken.length, 11, `snapshots at ${taken.map((t) => t / MINUTE).join(", ")} min`)
      assert.isAtMost(taken.length, 13, `snapshots at ${taken.map((t) => t / MINUTE).join(", ")} min`)
      assert.isAtMost(Math.max(...gaps(0, taken)), HOUR)
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("a 2-hour step back of the instance's clock does not delay its next snapshot past the interval", () =>
    Effect.gen(function*() {
      const repo = yield* repository
      let offset = 0
      const stepped = skewed(() => offset)
      const id = "skew-step-back"
      assert.strictEqual((yield* stepped(repo.save(id, 0, [deposit(1)]))).snapshot, "written")
      const taken = yield* saveEvery(
        (v) => stepped(repo.save(id, v, [deposit(v + 1)])),
        1,
        10 * MINUTE,
        6 * HOUR,
        { at: 30 * MINUTE, run: () => offset = -2 * HOUR }
      )
      // A step back of at least the interval makes the next save's snapshot due (one early one), never late.
      assert.isAtMost(Math.max(...gaps(0, taken)), HOUR, `snapshots at ${taken.map((t) => t / MINUTE).join(", ")}`)
      assert.isAtMost(taken.length, 7)
    }).pipe(Effect.scoped, Effect.provide(memory)))

  it.effect("a step back shorter than the interval delays the next snapshot by at most the step", () =>
    Effect.gen(function*() {
      const repo = yield* repository
      let offset = 0
      const stepped = skewed(() => offset)
      const id = "skew-small-step"
      assert.strictEqual((yield* stepped(repo.save(id, 0, [deposit(1)]))).snapshot, "written")
      const taken = yield* saveEvery(
        (v) => stepped(repo.save(id, v, [deposit(v + 1)])),
        1,
        10 * MINUTE,
        6 * HOUR,
        { at: 30 * MINUTE, run: () => offset = -30 * MINUTE }
      )
      const g = gaps(0, taken)
      assert.isAtMost(g[0]!, HOUR + 30 * MINUTE, `snapshots at ${taken.map((t) => t / MINUTE).join(", ")}`)
      assert.isAtMost(Math.max(...g.slice(1)), HOUR)
    }).pipe(Effect.scoped, Effect.provide(memory)))
})

describe.skipIf(!Postgres.hasServer)("afterDuration under clock skew (real Postgres, the database's clock)", () => {
  const sql = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
    Layer.provideMerge(Postgres.layerTest("loader_clock_skew", { maxConnections: 4 }))
  )
  const interval = 1_000
  const period = 100
  const total = 6_000

  it.live(
    "two instances, one a day fast, taking turns: a snapshot about once per interval of the database's time",
    () =>
      Effect.gen(function*() {
        const strategy = SnapshotStrategy.afterDuration(`${interval} millis`)
        const normal = yield* EventSourcedRepository.make(Ledger, { strategy })
        const fast = yield* EventSourcedRepository.make(Ledger, { strategy })
        const ahead = skewed(() => 24 * HOUR)
        const id = "skew-sql"
        const started = Date.now()
        let version = 0
        while (Date.now() - started < total) {
          const saved = version % 2 === 0
            ? yield* normal.save(id, version, [deposit(version + 1)])
            : yield* ahead(fast.save(id, version, [deposit(version + 1)]))
          version = saved.version
          yield* Effect.sleep(`${period} millis`)
        }
        const elapsed = Date.now() - started
        const store = yield* SnapshotStore.SnapshotStore
        const history = yield* store.list("Ledger", id)
        const stamps = history.map((info) => DateTime.toEpochMillis(info.createdAt))
        const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!)
        const shown = `${history.length} snapshots in ${elapsed} ms over ${version} saves; gaps ${gaps.join(", ")} ms`
        // Stamped by the database: the fast instance's clock shows in none of them.
        for (const stamp of stamps) assert.isAtMost(Math.abs(stamp - Date.now()), 60_000, shown)
        // Never more often than the interval (with a day's skew compared to database stamps, every save would
        // snapshot), and never suppressed: about elapsed / interval of them.
        for (const gap of gaps) assert.isAtLeast(gap, interval - 100, shown)
        assert.isAtLeast(history.length, Math.floor(elapsed / interval / 2), shown)
        assert.isAtMost(history.length, Math.ceil(elapsed / interval) + 1, shown)
      }).pipe(Effect.scoped, Effect.provide(sql)),
    60_000
  )
})
