/** The seeded decisions: what to inject into a call, counted. @internal */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Pcg } from "../Pcg.js"

/**
 * What to inject. Rates are shares of calls in [0, 1]; they are exclusive (one call gets at most one of
 * fail / hang / corrupt), so their sum must not exceed 1.
 *
 * @since 0.1.0
 */
export interface Plan {
  /** Share of calls that fail with the service's "Unavailable" error. */
  readonly failRate?: number | undefined
  /** Share of calls that never answer (until interrupted, e.g. by a timeout). */
  readonly hangRate?: number | undefined
  /** Share of reads that answer corrupt data (a corrupt snapshot, or corrupt rows). */
  readonly corruptRate?: number | undefined
  /** Latency added to every call that is not failed or hung: a fixed duration or a uniform [min, max]. */
  readonly latency?: Duration.Input | readonly [Duration.Input, Duration.Input] | undefined
}

/**
 * How many faults were injected, by kind.
 *
 * @since 0.1.0
 */
export interface Counters {
  calls: number
  failed: number
  hung: number
  corrupted: number
  delayed: number
}

/**
 * A seeded source of fault decisions with its counters. `enabled` can be switched off while a test sets
 * up (migrations, seeding) and on again; a disabled injector passes every call through and counts nothing.
 *
 * @since 0.1.0
 */
export interface Injector {
  readonly seed: number
  readonly plan: Plan
  readonly counters: Counters
  enabled: boolean
  /** A uniform number in [0, 1) from the injector's generator. */
  readonly random: () => number
  /** The decision for one call; counts it. */
  readonly decide: (canCorrupt: boolean) => Decision
  /** Total faults injected (failed + hung + corrupted); latency is not a fault. */
  readonly injected: () => number
}

/**
 * @since 0.1.0
 */
export type Decision =
  | { readonly _tag: "Pass"; readonly delay: Duration.Duration }
  | { readonly _tag: "Fail" }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Corrupt"; readonly delay: Duration.Duration }

const checkRate = (name: string, rate: number | undefined): number => {
  const r = rate ?? 0
  if (!(r >= 0 && r <= 1)) throw new RangeError(`Faults: ${name} must be within [0, 1], got ${r}`)
  return r
}

/**
 * A seeded injector.
 *
 * @since 0.1.0
 */
export const makeInjector = (seed: number, plan: Plan): Injector => {
  const failRate = checkRate("failRate", plan.failRate)
  const hangRate = checkRate("hangRate", plan.hangRate)
  const corruptRate = checkRate("corruptRate", plan.corruptRate)
  if (failRate + hangRate + corruptRate > 1) {
    throw new RangeError("Faults: failRate + hangRate + corruptRate must not exceed 1")
  }
  const rng = new Pcg(seed >>> 0)
  const [minLatency, maxLatency] = plan.latency === undefined
    ? [0, 0]
    : Array.isArray(plan.latency)
    ? [Duration.toMillis(plan.latency[0]), Duration.toMillis(plan.latency[1])]
    : [Duration.toMillis(plan.latency as Duration.Input), Duration.toMillis(plan.latency as Duration.Input)]
  const counters: Counters = { calls: 0, failed: 0, hung: 0, corrupted: 0, delayed: 0 }
  const delay = (): Duration.Duration => {
    if (maxLatency <= 0) return Duration.zero
    counters.delayed++
    return Duration.millis(minLatency + rng.number() * (maxLatency - minLatency))
  }
  const injector: Injector = {
    seed,
    plan,
    counters,
    enabled: true,
    random: () => rng.number(),
    decide: (canCorrupt) => {
      if (!injector.enabled) return { _tag: "Pass", delay: Duration.zero }
      counters.calls++
      const r = rng.number()
      if (r < failRate) {
        counters.failed++
        return { _tag: "Fail" }
      }
      if (r < failRate + hangRate) {
        counters.hung++
        return { _tag: "Hang" }
      }
      if (canCorrupt && r < failRate + hangRate + corruptRate) {
        counters.corrupted++
        return { _tag: "Corrupt", delay: delay() }
      }
      return { _tag: "Pass", delay: delay() }
    },
    injected: () => counters.failed + counters.hung + counters.corrupted
  }
  return injector
}

/** @internal */
export const sleep = (d: Duration.Duration) => Duration.toMillis(d) > 0 ? Effect.sleep(d) : Effect.void

/**
 * Run `effect` under a decision: fail with `onFail()`, hang, or pass (after the delay) through `onPass`.
 */
/** @internal */
export const apply = <A, E, R>(
  decision: Decision,
  effect: Effect.Effect<A, E, R>,
  onFail: () => E,
  onCorrupt: (a: A) => A = (a) => a
): Effect.Effect<A, E, R> => {
  switch (decision._tag) {
    case "Fail":
      return Effect.fail(onFail())
    case "Hang":
      return Effect.never
    case "Corrupt":
      return Effect.andThen(sleep(decision.delay), Effect.map(effect, onCorrupt))
    case "Pass":
      return Effect.andThen(sleep(decision.delay), effect)
  }
}
