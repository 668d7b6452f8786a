/**
 * A circuit breaker, generic over the error of the calls it protects (Effect has none of its own).
 *
 * Closed: calls go through; `failureThreshold` consecutive failures open it. Open: calls are turned away
 * with `CircuitOpen` (they never reach the protected service) until `resetAfter` has passed. Half-open: one
 * trial call goes through while every other call is still turned away; its success closes the breaker, its
 * failure (or its interruption) opens it again for another `resetAfter`.
 *
 * What counts: a success, or a failure for which `isFailure` answers false (the service answered: bad input,
 * a conflict), is healthy and resets the count; a failure for which it answers true, or a defect, counts.
 * An interruption outside the trial changes nothing. Time comes from Effect's `Clock` (TestClock in tests).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"

/** The breaker turned a call away. @internal */
export class CircuitOpen extends Data.TaggedError("CircuitOpen")<{
  /** `Open`: cooling down; `HalfOpen`: a trial call is running. */
  readonly state: "Open" | "HalfOpen"
}> {}

/** @internal */
export type State =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen" }

/** @internal */
export interface Options<E> {
  /** Consecutive failures that open the breaker; an integer >= 1. */
  readonly failureThreshold: number
  /** How long an open breaker turns calls away before it lets a trial through. */
  readonly resetAfter: Duration.Duration
  /** Whether a failure is about the service's health (counts) or the call's own (healthy). */
  readonly isFailure: (error: E) => boolean
  /** Run each time the breaker opens (a log line, a metric). */
  readonly onOpen?: Effect.Effect<void> | undefined
}

/** @internal */
export interface CircuitBreaker<E> {
  /** Runs `effect` if the breaker admits it, and records its outcome; else fails with `CircuitOpen`. */
  readonly protect: <A, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  readonly state: Effect.Effect<State>
}

type Outcome = "healthy" | "failed" | "interrupted"

const closed: State = { _tag: "Closed", failures: 0 }

/** @internal */
export const make = <E>(options: Options<E>): Effect.Effect<CircuitBreaker<E>> =>
  Effect.map(Ref.make<State>(closed), (ref) => {
    const resetMillis = Duration.toMillis(options.resetAfter)
    const onOpen = options.onOpen ?? Effect.void

    const outcomeOf = (exit: Exit.Exit<unknown, E>): Outcome => {
      if (Exit.isSuccess(exit)) return "healthy"
      if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
      if (Cause.hasDies(exit.cause)) return "failed"
      const failure = Cause.findErrorOption(exit.cause)
      return Option.isSome(failure) && !options.isFailure(failure.value) ? "healthy" : "failed"
    }

    // May this call go through? Answers the state that turned it away, or undefined.
    const admit = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        Ref.modify(ref, (state): readonly [CircuitOpen["state"] | undefined, State] => {
          switch (state._tag) {
            case "Closed":
              return [undefined, state]
            case "Open":
              return now >= state.until ? [undefined, { _tag: "HalfOpen" }] : ["Open", state]
            case "HalfOpen":
              return ["HalfOpen", state]
          }
        })
    )

    const record = (outcome: Outcome) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          Ref.modify(ref, (state): readonly [boolean, State] => {
            const open: State = { _tag: "Open", until: now + resetMillis }
            switch (outcome) {
              case "healthy":
                return [false, closed]
              case "interrupted":
                // An interrupted trial gives its place back: open for another cool-down.
                return state._tag === "HalfOpen" ? [false, open] : [false, state]
              case "failed":
                if (state._tag === "HalfOpen") return [true, open]
                if (state._tag === "Closed") {
                  return state.failures + 1 >= options.failureThreshold
                    ? [true, open]
                    : [false, { _tag: "Closed", failures: state.failures + 1 }]
                }
                return [false, state]
            }
          }),
          (opened) => opened ? onOpen : Effect.void
        ))

    // Uninterruptible between admission and the outcome's record, so a trial never stays half-open.
    const protect = <A, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(admit, (refused): Effect.Effect<A, E | CircuitOpen, R> =>
          refused === undefined
            ? restore(effect).pipe(Effect.onExit((exit) => record(outcomeOf(exit))))
            : Effect.fail(new CircuitOpen({ state: refused })))
      )

    return { protect, state: Ref.get(ref) }
  })
