/**
 * The `resilient` decorator: the command path (save, load) never fails because of the snapshot store.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { Snapshot } from "../Snapshot.js"
import type { ResilientOptions, SnapshotStoreService } from "../SnapshotStore.js"
import { SnapshotStoreError } from "../SnapshotStore.js"
import * as validate from "./validate.js"

/** @internal */
export const failuresSwallowed = Metric.counter("effect_snapshots_store_failures_swallowed", {
  description: "SnapshotStore failures that the resilient decorator logged and swallowed (tags: operation, reason)",
  incremental: true
})

/** @internal */
export const circuitOpened = Metric.counter("effect_snapshots_store_circuit_opened", {
  description: "How often the resilient decorator's circuit breaker opened",
  incremental: true
})

/** @internal */
export const defaults = {
  timeout: Duration.seconds(2),
  maintenanceTimeout: Duration.minutes(1),
  failureThreshold: 5,
  resetAfter: Duration.seconds(30)
} as const

/** Two retries, 25 ms then 50 ms (jittered): enough for a blip, short for a command. @internal */
export const defaultRetry: Schedule.Schedule<unknown, SnapshotStoreError> = Schedule.exponential("25 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(2))
)

// The cause of the error a call gets while the breaker is open (told apart from a real failure).
const circuitOpenMarker = new Cause.RuntimeException("circuit breaker open")

type Breaker =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen" }

const closed: Breaker = { _tag: "Closed", failures: 0 }

type Outcome = "healthy" | "failed" | "interrupted"

// The store answered (success, or a failure that is not about its availability: bad input, corrupt
// data, a conflict) — or it is unavailable (including timeouts and defects).
const outcomeOf = (exit: Exit.Exit<unknown, SnapshotStoreError>): Outcome => {
  if (Exit.isSuccess(exit)) return "healthy"
  if (Cause.isInterruptedOnly(exit.cause)) return "interrupted"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && failure.value.reason !== "Unavailable" && !Cause.isDie(exit.cause)) return "healthy"
  return "failed"
}

const decodeDuration = (name: string, input: Duration.DurationInput | undefined, fallback: Duration.Duration) => {
  if (input === undefined) return fallback
  const decoded = Duration.decodeUnknown(input)
  return Option.isSome(decoded) && Duration.greaterThan(decoded.value, Duration.zero)
    ? decoded.value
    : validate.invalid(`resilient: ${name} must be a positive duration, got ${String(input)}`)
}

/** Builds the decorated service; fails with InvalidInput on bad options. @internal */
export const make = (
  inner: SnapshotStoreService,
  options: ResilientOptions = {}
): Effect.Effect<SnapshotStoreService, SnapshotStoreError> =>
  Effect.gen(function*() {
    const timeout = decodeDuration("timeout", options.timeout, defaults.timeout)
    if (timeout instanceof SnapshotStoreError) return yield* timeout
    const maintenanceTimeout = decodeDuration(
      "maintenanceTimeout",
      options.maintenanceTimeout,
      defaults.maintenanceTimeout
    )
    if (maintenanceTimeout instanceof SnapshotStoreError) return yield* maintenanceTimeout
    const breakerOptions = options.circuitBreaker === false ? undefined : options.circuitBreaker ?? {}
    const failureThreshold = breakerOptions?.failureThreshold ?? defaults.failureThreshold
    if (!Number.isSafeInteger(failureThreshold) || failureThreshold < 1) {
      return yield* validate.invalid(
        `resilient: circuitBreaker.failureThreshold must be an integer >= 1, got ${String(failureThreshold)}`
      )
    }
    const resetAfter = decodeDuration("circuitBreaker.resetAfter", breakerOptions?.resetAfter, defaults.resetAfter)
    if (resetAfter instanceof SnapshotStoreError) return yield* resetAfter
    const resetMillis = Duration.toMillis(resetAfter)
    const retry = options.retry ?? defaultRetry

    const breaker = yield* Ref.make<Breaker>(closed)

    // May this call reach the store? Closed: yes. Open: no, until the cool-down has passed; then one trial
    // call goes through (half-open) while every other call is still turned away.
    const admit: Effect.Effect<boolean> = breakerOptions === undefined ? Effect.succeed(true) : Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        Ref.modify(breaker, (state): readonly [boolean, Breaker] => {
          switch (state._tag) {
            case "Closed":
              return [true, state]
            case "Open":
              return now >= state.until ? [true, { _tag: "HalfOpen" }] : [false, state]
            case "HalfOpen":
              return [false, state]
          }
        })
    )

    const record = (outcome: Outcome): Effect.Effect<void> =>
      breakerOptions === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          Ref.modify(breaker, (state): readonly [boolean, Breaker] => {
            const open: Breaker = { _tag: "Open", until: now + resetMillis }
            switch (outcome) {
              case "healthy":
                return [false, closed]
              case "interrupted":
                // An interrupted trial gives its place back; the breaker stays open for another cool-down.
                return state._tag === "HalfOpen" ? [false, open] : [false, state]
              case "failed":
                if (state._tag === "HalfOpen") return [true, open]
                if (state._tag === "Closed") {
                  return state.failures + 1 >= failureThreshold
                    ? [true, open]
                    : [false, { _tag: "Closed", failures: state.failures + 1 }]
                }
                return [false, state]
            }
          }),
          (opened) =>
            opened
              ? Effect.zipRight(
                Metric.increment(circuitOpened),
                Effect.logWarning(
                  `SnapshotStore circuit breaker opened: snapshot calls are skipped for ${Duration.format(resetAfter)}`
                )
              )
              : Effect.void
        ))

    const circuitOpen = (operation: string) =>
      new SnapshotStoreError({
        reason: "Unavailable",
        message: `${operation} skipped: the circuit breaker is open after repeated failures`,
        cause: circuitOpenMarker
      })

    // Each attempt gets the timeout; Unavailable (including a timeout) is retried, other reasons are not.
    const attempt = <A>(operation: string, call: Effect.Effect<A, SnapshotStoreError>) =>
      call.pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new SnapshotStoreError({
              reason: "Unavailable",
              message: `${operation} timed out after ${Duration.format(timeout)}`
            })
        }),
        Effect.retry({ schedule: retry, while: (error) => error.reason === "Unavailable" })
      )

    const guarded = <A>(
      operation: "save" | "load",
      call: Effect.Effect<A, SnapshotStoreError>,
      fallback: A,
      annotations: Record<string, unknown>
    ): Effect.Effect<A> =>
      Effect.flatMap(admit, (admitted) =>
        admitted
          ? attempt(operation, call).pipe(Effect.onExit((exit) => record(outcomeOf(exit))))
          : Effect.fail(circuitOpen(operation))).pipe(
          Effect.catchAllCause((cause) => {
            if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
            const failure = Cause.failureOption(cause)
            const skipped = Option.isSome(failure) && failure.value.cause === circuitOpenMarker
            const reason = Cause.isDie(cause) || Option.isNone(failure)
              ? "Defect"
              : skipped
              ? "CircuitOpen"
              : failure.value.reason
            const message = operation === "save"
              ? "snapshot not saved; the command goes on without it"
              : "snapshot not loaded; the aggregate is replayed from its events"
            const log = skipped
              ? Effect.logDebug(message)
              : Option.isSome(failure) && !Cause.isDie(cause)
              ? Effect.logWarning(message)
              : Effect.logError(message, cause)
            return log.pipe(
              Effect.annotateLogs({
                ...annotations,
                operation,
                reason,
                error: Option.match(failure, { onNone: () => Cause.pretty(cause), onSome: (error) => error.message })
              }),
              Effect.zipRight(
                Metric.increment(
                  Metric.tagged(Metric.tagged(failuresSwallowed, "operation", operation), "reason", reason)
                )
              ),
              Effect.as(fallback)
            )
          })
        )

    const maintenance = <A>(operation: string, call: Effect.Effect<A, SnapshotStoreError>) =>
      Effect.timeoutFail(call, {
        duration: maintenanceTimeout,
        onTimeout: () =>
          new SnapshotStoreError({
            reason: "Unavailable",
            message: `${operation} timed out after ${Duration.format(maintenanceTimeout)}`
          })
      })

    const keyOf = (snapshot: Snapshot) => ({
      aggregateType: snapshot.aggregateType,
      aggregateId: snapshot.aggregateId,
      version: snapshot.version
    })

    return {
      save: (snapshot) => guarded("save", inner.save(snapshot), undefined, keyOf(snapshot)),
      load: (aggregateType, aggregateId, loadOptions) =>
        guarded("load", inner.load(aggregateType, aggregateId, loadOptions), Option.none<Snapshot>(), {
          aggregateType,
          aggregateId
        }),
      list: (aggregateType, aggregateId) => maintenance("list", inner.list(aggregateType, aggregateId)),
      delete: (aggregateType, aggregateId, deleteOptions) =>
        maintenance("delete", inner.delete(aggregateType, aggregateId, deleteOptions)),
      latestForType: (aggregateType) => maintenance("latestForType", inner.latestForType(aggregateType)),
      // The timeout bounds the wait for each page, not the whole stream.
      aggregates: (aggregateType) =>
        Stream.timeoutFail(
          inner.aggregates(aggregateType),
          () =>
            new SnapshotStoreError({
              reason: "Unavailable",
              message: `aggregates timed out after ${Duration.format(maintenanceTimeout)}`
            }),
          maintenanceTimeout
        ),
      prune: (pruneOptions) => maintenance("prune", inner.prune(pruneOptions))
    } satisfies SnapshotStoreService
  })
