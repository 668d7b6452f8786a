import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
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
      Effect.andThen(Effect.andThen(Ref.update(calls, (n) => n + 1), behave), effect)
    const service: Service = {
      save: (snapshot) => gate(memory.save(snapshot)),
      saveIfDue: (snapshot, options) => gate(memory.saveIfDue(snapshot, options)),
      load: (type, id, options) => gate(memory.load(type, id, options)),
      list: (type, id) => gate(memory.list(type, id)),
      delete: (type, id, options) => gate(memory.delete(type, id, options)),
      latestForType: (type) => gate(memory.latestForType(type)),
      aggregates: (type) => Stream.unwrap(gate(Effect.succeed(memory.aggregates(type)))),
      prune: (options) => gate(memory.prune(options))
    }
    return { service, memory, calls: Ref.get(calls) }
  })

const failures = (operation: "save" | "load", reason: string) =>
  Metric.value(
    Metric.withAttributes(SnapshotStore.resilientFailures, { operation, reason })
  ).pipe(Effect.map((state) => state.count))

const snapshot = make({ aggregateType: "T", aggregateId: "a", version: 1 })
const noRetry = Schedule.recurs(0)

describe("SnapshotStore.resilient", () => {
  it.effect("a store failing every call: save and load fail with its error (nothing swallowed), counted", () =>
    Effect.gen(function*() {
      const { calls, service } = yield* controlled(Effect.fail(failure("Unavailable")))
      const store = yield* SnapshotStore.makeResilient(service, { retry: noRetry, circuitBreaker: false })
      const logs: Array<unknown> = []
      const logger = Logger.make(({ message }) => {
        logs.push(message)
      })
      const savesBefore = yield* failures("save", "Unavailable")
      const loadsBefore = yield* failures("load", "Unavailable")

      const errors = yield* Effect.all([
        Effect.flip(store.save(snapshot)),
        Effect.flip(store.load("T", "a")),
        Effect.flip(store.load("T", "a", { maxVersion: 3 }))
      ]).pipe(Effect.provide(Logger.layer([logger], { mergeWithExisting: true })))
      for (const error of errors) assert.strictEqual(error.message, "inner: Unavailable")

      assert.strictEqual(yield* calls, 3)
      assert.strictEqual((yield* failures("save", "Unavailable")) - savesBefore, 1)
      assert.strictEqual((yield* failures("load", "Unavailable")) - loadsBefore, 2)
      // The caller decides what a failure means, and logs it: the decorator does not log it a second time.
      assert.deepStrictEqual(logs, [])

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

  it.effect("a store that hangs: save and load fail at the timeout, which bounds the retries too (TestClock)", () =>
    Effect.gen(function*() {
      const { calls, service } = yield* controlled(Effect.never)
      const store = yield* SnapshotStore.makeResilient(service, {
        timeout: "100 millis",
        maintenanceTimeout: "1 second",
        retry: Schedule.max([Schedule.spaced("10 millis"), Schedule.recurs(1)]),
        circuitBreaker: false
      })
      const before = yield* failures("load", "Unavailable")
      const save = yield* Effect.forkChild(Effect.flip(store.save(snapshot)))
      const load = yield* Effect.forkChild(Effect.flip(store.load("T", "a")))
      const list = yield* Effect.forkChild(Effect.flip(store.list("T", "a")))
      yield* TestClock.adjust("99 millis")
      assert.isUndefined(load.pollUnsafe(), "not before the timeout")
      yield* TestClock.adjust("1 millis")
      for (const error of [yield* Fiber.join(save), yield* Fiber.join(load)]) {
        assert.strictEqual(error.reason, "Unavailable")
        assert.match(error.message, /timed out after 100ms/)
      }
      // The hung attempt used the whole deadline: no retry was started.
      assert.strictEqual(yield* calls, 3)
      assert.strictEqual((yield* failures("load", "Unavailable")) - before, 1)
      yield* TestClock.adjust("1 second")
      const listError = yield* Fiber.join(list)
      assert.strictEqual(listError.reason, "Unavailable")
      assert.match(listError.message, /timed out/)
    }))

  it.effect("a hung call whose cancel is slow: outside a transaction the caller does not wait for it (TestClock)", () =>
    Effect.gen(function*() {
      const cleaned = yield* Ref.make(false)
      // A driver whose cancel takes 10 s (a server that does not answer): the interruption's cleanup.
      const slowCancel = Effect.never.pipe(
        Effect.onInterrupt(() => Effect.andThen(Effect.sleep("10 seconds"), Ref.set(cleaned, true)))
      )
      const { service } = yield* controlled(slowCancel)
      const store = yield* SnapshotStore.makeResilient(service, { timeout: "100 millis", circuitBreaker: false })
      const load = yield* Effect.forkChild(Effect.flip(store.load("T", "a")))
      yield* TestClock.adjust("100 millis")
      const error = yield* Fiber.join(load)
      assert.match(error.message, /timed out after 100ms/)
      assert.isFalse(yield* Ref.get(cleaned), "the caller returned before the cleanup ended")
      yield* TestClock.adjust("10 seconds")
      assert.isTrue(yield* Ref.get(cleaned), "the abandoned attempt was cleaned up in the background")
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
        const before = yield* failures("load", reason)
        assert.strictEqual((yield* Effect.flip(resilient.load("T", "a"))).reason, reason)
        assert.strictEqual((yield* Effect.flip(resilient.save(snapshot))).reason, reason)
        assert.strictEqual(yield* broken.calls, 2, reason)
        assert.strictEqual((yield* failures("load", reason)) - before, 1)
      }
    }))

  it.effect("a defect in the store stays a defect (counted as Defect)", () =>
    Effect.gen(function*() {
      const { service } = yield* controlled(Effect.die(new Error("bug in a driver")))
      const store = yield* SnapshotStore.makeResilient(service, { retry: noRetry })
      const before = yield* failures("save", "Defect")
      const exit = yield* Effect.exit(store.save(snapshot))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      assert.strictEqual((yield* failures("save", "Defect")) - before, 1)
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
      const skippedBefore = yield* failures("load", "CircuitOpen")
      const unavailable = (call: Effect.Effect<unknown, SnapshotStore.SnapshotStoreError>) =>
        Effect.map(Effect.flip(call), (error) => {
          assert.strictEqual(error.reason, "Unavailable")
          return error.message
        })

      // Closed: three failures reach the store, then it opens.
      for (let i = 0; i < 3; i++) assert.strictEqual(yield* unavailable(store.load("T", "a")), "inner: Unavailable")
      assert.strictEqual(yield* calls, 3)
      assert.strictEqual((yield* Metric.value(SnapshotStore.circuitOpened)).count, opened + 1)
      // Open: calls fail fast, without reaching the store.
      assert.match(yield* unavailable(store.load("T", "a")), /circuit open/)
      assert.match(yield* unavailable(store.save(snapshot)), /circuit open/)
      assert.strictEqual(yield* calls, 3)
      assert.strictEqual((yield* failures("load", "CircuitOpen")) - skippedBefore, 1)
      yield* TestClock.adjust("9 seconds")
      assert.match(yield* unavailable(store.load("T", "a")), /circuit open/)
      assert.strictEqual(yield* calls, 3)

      // Half-open after the cool-down: one trial; it fails, so the breaker opens again.
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* unavailable(store.load("T", "a")), "inner: Unavailable")
      assert.strictEqual(yield* calls, 4)
      assert.strictEqual((yield* Metric.value(SnapshotStore.circuitOpened)).count, opened + 2)
      assert.match(yield* unavailable(store.load("T", "a")), /circuit open/)
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
      for (let i = 0; i < 2; i++) yield* unavailable(store.save(snapshot))
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
      yield* Effect.flip(store.save(snapshot)) // fails: open
      assert.strictEqual(yield* calls, 1)
      yield* Ref.set(slow, true)
      yield* TestClock.adjust("1 minute")
      const trial = yield* Effect.forkChild(store.load("T", "a"))
      while ((yield* calls) < 2) yield* Effect.yieldNow // the trial has reached the store
      assert.match((yield* Effect.flip(store.load("T", "a"))).message, /circuit open \(a trial call is running\)/)
      assert.strictEqual(yield* calls, 2)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(trial)).version, 1)
      // Closed: calls reach the store again.
      yield* Ref.set(slow, false)
      assert.strictEqual((yield* Effect.flip(store.save(snapshot))).message, "inner: Unavailable")
      assert.strictEqual(yield* calls, 3)
    }))

  it.effect("as a Layer decorator, over a failing layer; bad options fail the layer", () =>
    Effect.gen(function*() {
      const failing = Layer.effect(
        SnapshotStore.SnapshotStore,
        Effect.map(controlled(Effect.fail(failure("Unavailable"))), (c) => c.service)
      )
      const error = yield* SnapshotStore.SnapshotStore.pipe(
        Effect.flatMap((store) => store.load("T", "a")),
        Effect.provide(failing.pipe(SnapshotStore.resilient({ retry: noRetry }))),
        Effect.flip
      )
      assert.strictEqual(error.message, "inner: Unavailable")
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
        assert.strictEqual(error._tag, "BadArgument", JSON.stringify(options))
        assert.match(error.message, /^SnapshotStore\.resilient: /)
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
