import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { make } from "./utils/contract.js"

type Service = SnapshotStore.SnapshotStoreService
type Reason = SnapshotStore.SnapshotStoreErrorReason

const failure = (reason: Reason) => new SnapshotStore.SnapshotStoreError({ reason, message: `inner: ${reason}` })

/**
 * A store whose every call goes through `behave` first: it can fail, hang or pass to a memory store.
 * `calls` counts the calls that reached it.
 */
const controlled = (behave: Effect.Effect<void, SnapshotStore.SnapshotStoreError>) =>
  Effect.gen(function*() {
    const memory = yield* SnapshotStore.makeMemory
    const calls = yield* Ref.make(0)
    const gate = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.zipRight(Effect.zipRight(Ref.update(calls, (n) => n + 1), behave), effect)
    const service: Service = {
      save: (snapshot) => gate(memory.save(snapshot)),
      load: (type, id, options) => gate(memory.load(type, id, options)),
      list: (type, id) => gate(memory.list(type, id)),
      delete: (type, id, options) => gate(memory.delete(type, id, options)),
      latestForType: (type) => gate(memory.latestForType(type)),
      aggregates: (type) => Stream.unwrap(gate(Effect.succeed(memory.aggregates(type)))),
      prune: (options) => gate(memory.prune(options))
    }
    return { service, memory, calls: Ref.get(calls) }
  })

const swallowed = (operation: "save" | "load", reason: string) =>
  Metric.value(
    Metric.tagged(Metric.tagged(SnapshotStore.failuresSwallowed, "operation", operation), "reason", reason)
  ).pipe(Effect.map((state) => state.count))

const snapshot = make({ aggregateType: "T", aggregateId: "a", version: 1 })
const noRetry = Schedule.recurs(0)

describe("SnapshotStore.resilient", () => {
  it.effect("a store failing every call: save and load keep working, failures are counted and logged", () =>
    Effect.gen(function*() {
      const { calls, service } = yield* controlled(Effect.fail(failure("Unavailable")))
      const store = yield* SnapshotStore.makeResilient(service, { retry: noRetry, circuitBreaker: false })
      const logs: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
      const logger = Logger.make(({ annotations, message }) => {
        logs.push({ message, annotations: Object.fromEntries(annotations) })
      })
      const savesBefore = yield* swallowed("save", "Unavailable")
      const loadsBefore = yield* swallowed("load", "Unavailable")

      yield* Effect.gen(function*() {
        yield* store.save(snapshot)
        assert.isTrue(Option.isNone(yield* store.load("T", "a")))
        assert.isTrue(Option.isNone(yield* store.load("T", "a", { maxVersion: 3 })))
      }).pipe(Effect.provide(Logger.add(logger)))

      assert.strictEqual(yield* calls, 3)
      assert.strictEqual((yield* swallowed("save", "Unavailable")) - savesBefore, 1)
      assert.strictEqual((yield* swallowed("load", "Unavailable")) - loadsBefore, 2)
      assert.strictEqual(logs.length, 3)
      assert.deepInclude(logs[0]!.annotations, {
        operation: "save",
        reason: "Unavailable",
        aggregateType: "T",
        aggregateId: "a",
        version: 1
      })
      assert.deepInclude(logs[1]!.annotations, { operation: "load", reason: "Unavailable", aggregateId: "a" })

      // Maintenance methods are not on the command path: they fail normally.
      for (
        const call of [
          store.list("T", "a"),
          store.delete("T", "a"),
          store.latestForType("T"),
          store.prune({ keepLast: 1 }),
          Stream.runDrain(store.aggregates())
        ]
      ) {
        assert.strictEqual((yield* Effect.flip(call)).reason, "Unavailable")
      }
    }))

  it.effect("a store that hangs: save and load return after the timeout (TestClock)", () =>
    Effect.gen(function*() {
      const { service } = yield* controlled(Effect.never)
      const store = yield* SnapshotStore.makeResilient(service, {
        timeout: "100 millis",
        maintenanceTimeout: "1 second",
        retry: Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(1))),
        circuitBreaker: false
      })
      const before = yield* swallowed("load", "Unavailable")
      const save = yield* Effect.fork(store.save(snapshot))
      const load = yield* Effect.fork(store.load("T", "a"))
      const list = yield* Effect.fork(Effect.flip(store.list("T", "a")))
      // Attempt (100 ms) + spacing (10 ms) + retry (100 ms).
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("10 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(load)), "still retrying")
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(save)
      assert.isTrue(Option.isNone(yield* Fiber.join(load)))
      assert.strictEqual((yield* swallowed("load", "Unavailable")) - before, 1)
      yield* TestClock.adjust("1 second")
      const listError = yield* Fiber.join(list)
      assert.strictEqual(listError.reason, "Unavailable")
      assert.match(listError.message, /timed out/)
    }))

  it.effect("retries Unavailable on the schedule, never InvalidInput or Corrupt", () =>
    Effect.gen(function*() {
      const failuresLeft = yield* Ref.make(2)
      const flaky = yield* controlled(
        Effect.flatMap(
          Ref.getAndUpdate(failuresLeft, (n) => n - 1),
          (n) => n > 0 ? Effect.fail(failure("Unavailable")) : Effect.void
        )
      )
      yield* flaky.memory.save(snapshot)
      const store = yield* SnapshotStore.makeResilient(flaky.service, { retry: Schedule.recurs(3) })
      assert.strictEqual(Option.getOrThrow(yield* store.load("T", "a")).version, 1)
      assert.strictEqual(yield* flaky.calls, 3)

      for (const reason of ["InvalidInput", "Corrupt", "Conflict"] as const) {
        const broken = yield* controlled(Effect.fail(failure(reason)))
        const resilient = yield* SnapshotStore.makeResilient(broken.service, { retry: Schedule.recurs(3) })
        const before = yield* swallowed("load", reason)
        assert.isTrue(Option.isNone(yield* resilient.load("T", "a")))
        yield* resilient.save(snapshot)
        assert.strictEqual(yield* broken.calls, 2, reason)
        assert.strictEqual((yield* swallowed("load", reason)) - before, 1)
      }
    }))

  it.effect("a defect in the store is swallowed too (reason Defect)", () =>
    Effect.gen(function*() {
      const { service } = yield* controlled(Effect.die(new Error("bug in a driver")))
      const store = yield* SnapshotStore.makeResilient(service, { retry: noRetry })
      const before = yield* swallowed("save", "Defect")
      yield* store.save(snapshot)
      assert.isTrue(Option.isNone(yield* store.load("T", "a")))
      assert.strictEqual((yield* swallowed("save", "Defect")) - before, 1)
    }))

  it.effect("the circuit breaker opens after N failures, half-opens after the cool-down, closes on success", () =>
    Effect.gen(function*() {
      const healthy = yield* Ref.make(false)
      const { calls, memory, service } = yield* controlled(
        Effect.flatMap(Ref.get(healthy), (ok) => ok ? Effect.void : Effect.fail(failure("Unavailable")))
      )
      yield* memory.save(snapshot)
      const store = yield* SnapshotStore.makeResilient(service, {
        retry: noRetry,
        circuitBreaker: { failureThreshold: 3, resetAfter: "10 seconds" }
      })
      const opened = (yield* Metric.value(SnapshotStore.circuitOpened)).count
      const skippedBefore = yield* swallowed("load", "CircuitOpen")

      // Closed: three failures reach the store, then it opens.
      for (let i = 0; i < 3; i++) assert.isTrue(Option.isNone(yield* store.load("T", "a")))
      assert.strictEqual(yield* calls, 3)
      assert.strictEqual((yield* Metric.value(SnapshotStore.circuitOpened)).count, opened + 1)
      // Open: calls skip the store.
      assert.isTrue(Option.isNone(yield* store.load("T", "a")))
      yield* store.save(snapshot)
      assert.strictEqual(yield* calls, 3)
      assert.strictEqual((yield* swallowed("load", "CircuitOpen")) - skippedBefore, 1)
      yield* TestClock.adjust("9 seconds")
      assert.isTrue(Option.isNone(yield* store.load("T", "a")))
      assert.strictEqual(yield* calls, 3)

      // Half-open after the cool-down: one trial; it fails, so the breaker opens again.
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isNone(yield* store.load("T", "a")))
      assert.strictEqual(yield* calls, 4)
      assert.strictEqual((yield* Metric.value(SnapshotStore.circuitOpened)).count, opened + 2)
      assert.isTrue(Option.isNone(yield* store.load("T", "a")))
      assert.strictEqual(yield* calls, 4)

      // The store recovers: the next trial succeeds and closes the breaker.
      yield* Ref.set(healthy, true)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(Option.getOrThrow(yield* store.load("T", "a")).version, 1)
      assert.strictEqual(yield* calls, 5)
      yield* store.save(make({ aggregateType: "T", aggregateId: "a", version: 2 }))
      assert.strictEqual(Option.getOrThrow(yield* store.load("T", "a")).version, 2)
      assert.strictEqual(yield* calls, 7)

      // Closed again, with a fresh failure count: two failures do not open it.
      yield* Ref.set(healthy, false)
      for (let i = 0; i < 2; i++) yield* store.save(snapshot)
      yield* Ref.set(healthy, true)
      assert.strictEqual(Option.getOrThrow(yield* store.load("T", "a")).version, 2)
      assert.strictEqual(yield* calls, 10)
    }))

  it.effect("half-open lets exactly one trial through; the others are skipped while it runs", () =>
    Effect.gen(function*() {
      const slow = yield* Ref.make(false)
      const { calls, memory, service } = yield* controlled(
        Effect.flatMap(
          Ref.get(slow),
          (isSlow) => isSlow ? Effect.sleep("1 second") : Effect.fail(failure("Unavailable"))
        )
      )
      yield* memory.save(snapshot)
      const store = yield* SnapshotStore.makeResilient(service, {
        retry: noRetry,
        timeout: "5 seconds",
        circuitBreaker: { failureThreshold: 1, resetAfter: "1 minute" }
      })
      yield* store.save(snapshot) // fails: open
      assert.strictEqual(yield* calls, 1)
      yield* Ref.set(slow, true)
      yield* TestClock.adjust("1 minute")
      const trial = yield* Effect.fork(store.load("T", "a"))
      while ((yield* calls) < 2) yield* Effect.yieldNow() // the trial has reached the store
      assert.isTrue(Option.isNone(yield* store.load("T", "a")), "skipped while the trial runs")
      assert.strictEqual(yield* calls, 2)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(trial)).version, 1)
      // Closed: calls reach the store again.
      yield* Ref.set(slow, false)
      yield* store.save(snapshot)
      assert.strictEqual(yield* calls, 3)
    }))

  it.effect("as a Layer decorator, over a failing layer; bad options fail the layer", () =>
    Effect.gen(function*() {
      const failing = Layer.effect(
        SnapshotStore.SnapshotStore,
        Effect.map(controlled(Effect.fail(failure("Unavailable"))), (c) => c.service)
      )
      const loaded = yield* SnapshotStore.SnapshotStore.pipe(
        Effect.flatMap((store) => Effect.zipRight(store.save(snapshot), store.load("T", "a"))),
        Effect.provide(failing.pipe(SnapshotStore.resilient({ retry: noRetry })))
      )
      assert.isTrue(Option.isNone(loaded))
      for (
        const options of [
          { timeout: 0 },
          { timeout: "soon" as never },
          { circuitBreaker: { failureThreshold: 0 } },
          { circuitBreaker: { resetAfter: -1 } }
        ] satisfies Array<SnapshotStore.ResilientOptions>
      ) {
        const error = yield* Effect.flip(
          Layer.build(SnapshotStore.layerMemory.pipe(SnapshotStore.resilient(options))).pipe(Effect.scoped)
        )
        assert.strictEqual(error.reason, "InvalidInput", JSON.stringify(options))
      }
    }))

  it.effect("a healthy store is unchanged: save, load and the maintenance methods pass through", () =>
    Effect.gen(function*() {
      const inner = yield* SnapshotStore.makeMemory
      const store = yield* SnapshotStore.makeResilient(inner)
      yield* store.save(snapshot)
      const loaded = Option.getOrThrow(yield* store.load("T", "a"))
      assert.instanceOf(loaded, Snapshot.Snapshot)
      assert.strictEqual(loaded.version, 1)
      assert.deepStrictEqual((yield* store.list("T", "a")).map((info) => info.version), [1])
      assert.strictEqual(yield* store.delete("T", "a"), 1)
    }))
})
