/**
 * The generic circuit breaker on its own (internal module), driven by TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as TestClock from "effect/testing/TestClock"
import * as CircuitBreaker from "../src/internal/circuitBreaker.js"

class Down extends Data.TaggedError("Down")<{ readonly health: boolean }> {}

/** A service whose next outcomes are set by the test; `calls` counts the calls that reached it. */
const setup = (failureThreshold = 3, resetAfter = Duration.seconds(10)) =>
  Effect.gen(function*() {
    const behaviour = yield* Ref.make<Effect.Effect<string, Down>>(Effect.succeed("ok"))
    const calls = yield* Ref.make(0)
    const opened = yield* Ref.make(0)
    const breaker = yield* CircuitBreaker.make<Down>({
      failureThreshold,
      resetAfter,
      isFailure: (error) => error.health,
      onOpen: Ref.update(opened, (n) => n + 1)
    })
    const call = breaker.protect(
      Effect.andThen(Ref.update(calls, (n) => n + 1), Effect.flatten(Ref.get(behaviour)))
    )
    const outcome = Effect.map(Effect.result(call), Result.match({ onFailure: (e) => e._tag, onSuccess: (a) => a }))
    return {
      breaker,
      call,
      outcome,
      set: (effect: Effect.Effect<string, Down>) => Ref.set(behaviour, effect),
      calls: Ref.get(calls),
      opened: Ref.get(opened)
    }
  })

const down = Effect.fail(new Down({ health: true }))

describe("internal/circuitBreaker", () => {
  it.effect("opens after N consecutive failures; a success in between resets the count", () =>
    Effect.gen(function*() {
      const t = yield* setup(3)
      yield* t.set(down)
      assert.strictEqual(yield* t.outcome, "Down")
      assert.strictEqual(yield* t.outcome, "Down")
      yield* t.set(Effect.succeed("ok"))
      assert.strictEqual(yield* t.outcome, "ok")
      yield* t.set(down)
      assert.strictEqual(yield* t.outcome, "Down")
      assert.strictEqual(yield* t.outcome, "Down")
      assert.strictEqual((yield* t.breaker.state)._tag, "Closed")
      assert.strictEqual(yield* t.outcome, "Down")
      assert.strictEqual((yield* t.breaker.state)._tag, "Open")
      assert.strictEqual(yield* t.opened, 1)
      // Open: turned away without reaching the service.
      assert.strictEqual(yield* t.outcome, "CircuitOpen")
      assert.strictEqual(yield* t.calls, 6)
    }))

  it.effect("a failure that isFailure calls healthy never opens it, and resets the count", () =>
    Effect.gen(function*() {
      const t = yield* setup(2)
      yield* t.set(down)
      yield* t.outcome
      yield* t.set(Effect.fail(new Down({ health: false })))
      for (let i = 0; i < 5; i++) assert.strictEqual(yield* t.outcome, "Down")
      assert.deepStrictEqual(yield* t.breaker.state, { _tag: "Closed", failures: 0 })
    }))

  it.effect("a defect counts as a failure and stays a defect", () =>
    Effect.gen(function*() {
      const t = yield* setup(1)
      yield* t.set(Effect.die("boom"))
      const exit = yield* Effect.exit(t.call)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      assert.strictEqual((yield* t.breaker.state)._tag, "Open")
    }))

  it.effect("half-opens after resetAfter (TestClock): the trial's failure reopens it, its success closes it", () =>
    Effect.gen(function*() {
      const t = yield* setup(1, Duration.seconds(10))
      yield* t.set(down)
      yield* t.outcome
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(yield* t.outcome, "CircuitOpen")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* t.outcome, "Down", "the trial reached the service")
      assert.strictEqual(yield* t.calls, 2)
      assert.strictEqual(yield* t.opened, 2)
      // Opened again for a whole cool-down from the trial's failure.
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(yield* t.outcome, "CircuitOpen")
      yield* TestClock.adjust("1 second")
      yield* t.set(Effect.succeed("ok"))
      assert.strictEqual(yield* t.outcome, "ok")
      assert.deepStrictEqual(yield* t.breaker.state, { _tag: "Closed", failures: 0 })
      assert.strictEqual(yield* t.outcome, "ok")
      assert.strictEqual(yield* t.calls, 4)
    }))

  it.effect("half-open admits exactly one trial; the others are turned away while it runs", () =>
    Effect.gen(function*() {
      const t = yield* setup(1, Duration.seconds(1))
      yield* t.set(down)
      yield* t.outcome
      yield* TestClock.adjust("1 second")
      yield* t.set(Effect.as(Effect.sleep("5 seconds"), "slow ok"))
      const trial = yield* Effect.forkChild(t.outcome)
      while ((yield* t.calls) < 2) yield* Effect.yieldNow
      assert.strictEqual((yield* t.breaker.state)._tag, "HalfOpen")
      const refused = yield* Effect.flip(t.call)
      assert.deepStrictEqual(refused, new CircuitBreaker.CircuitOpen({ state: "HalfOpen" }))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(trial), "slow ok")
      assert.strictEqual((yield* t.breaker.state)._tag, "Closed")
    }))

  it.effect("an interrupted trial gives its place back: open for another cool-down, then a new trial", () =>
    Effect.gen(function*() {
      const t = yield* setup(1, Duration.seconds(1))
      yield* t.set(down)
      yield* t.outcome
      yield* TestClock.adjust("1 second")
      yield* t.set(Effect.never)
      const trial = yield* Effect.forkChild(t.call)
      while ((yield* t.calls) < 2) yield* Effect.yieldNow
      yield* Fiber.interrupt(trial)
      assert.strictEqual((yield* t.breaker.state)._tag, "Open")
      yield* TestClock.adjust("1 second")
      yield* t.set(Effect.succeed("ok"))
      assert.strictEqual(yield* t.outcome, "ok")
    }))

  it.effect("an interrupted call while closed changes nothing", () =>
    Effect.gen(function*() {
      const t = yield* setup(2)
      yield* t.set(down)
      yield* t.outcome
      yield* t.set(Effect.never)
      const call = yield* Effect.forkChild(t.call)
      while ((yield* t.calls) < 2) yield* Effect.yieldNow
      yield* Fiber.interrupt(call)
      assert.deepStrictEqual(yield* t.breaker.state, { _tag: "Closed", failures: 1 })
    }))
})
