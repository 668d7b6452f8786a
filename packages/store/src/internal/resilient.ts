/**
 * The `resilient` decorator: timeouts, retries of `Unavailable` and a circuit breaker around a store. It is
 * transparent: every failure reaches the caller (the repository decides what a snapshot failure means).
 *
 * @internal
 */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { ResilientOptions, SnapshotStoreService } from "../SnapshotStore.js"
import { SnapshotStoreError } from "../SnapshotStoreError.js"
import * as circuitBreaker from "./circuitBreaker.js"
import { inSqlTransaction } from "./unitOfWork.js"

/** @internal */
export const failures = Metric.counter("effect_snapshots_store_resilient_failures", {
  description:
    "save/load failures the resilient decorator passed on to its caller after its retries (tags: operation, reason)",
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
export const defaultRetry: Schedule.Schedule<unknown, SnapshotStoreError> = Schedule.max([
  Schedule.jittered(Schedule.exponential("25 millis")),
  Schedule.recurs(2)
])

const decodeDuration = (name: string, input: Duration.Input | undefined, fallback: Duration.Duration) => {
  if (input === undefined) return fallback
  const decoded = Duration.fromInput(input)
  return Option.isSome(decoded) && Duration.isGreaterThan(decoded.value, Duration.zero)
    ? decoded.value
    : badArgument(`${name} must be a positive duration, got ${String(input)}`)
}

const badArgument = (message: string) => new BadArgument({ module: "SnapshotStore.resilient", message })

/** Builds the decorated service; fails with BadArgument on bad options. @internal */
export const make: (
  inner: SnapshotStoreService,
  options?: ResilientOptions
) => Effect.Effect<SnapshotStoreService, BadArgument> = Effect.fnUntraced(
  function*(inner: SnapshotStoreService, options: ResilientOptions = {}) {
    const timeout = decodeDuration("timeout", options.timeout, defaults.timeout)
    if (timeout instanceof BadArgument) return yield* timeout
    const maintenanceTimeout = decodeDuration(
      "maintenanceTimeout",
      options.maintenanceTimeout,
      defaults.maintenanceTimeout
    )
    if (maintenanceTimeout instanceof BadArgument) return yield* maintenanceTimeout
    const breakerOptions = options.circuitBreaker === false ? undefined : options.circuitBreaker ?? {}
    const failureThreshold = breakerOptions?.failureThreshold ?? defaults.failureThreshold
    if (!Number.isSafeInteger(failureThreshold) || failureThreshold < 1) {
      return yield* badArgument(
        `circuitBreaker.failureThreshold must be an integer >= 1, got ${String(failureThreshold)}`
      )
    }
    const resetAfter = decodeDuration("circuitBreaker.resetAfter", breakerOptions?.resetAfter, defaults.resetAfter)
    if (resetAfter instanceof BadArgument) return yield* resetAfter
    const retry = options.retry ?? defaultRetry

    const breaker = breakerOptions === undefined ? undefined : yield* circuitBreaker.make<SnapshotStoreError>({
      failureThreshold,
      resetAfter,
      // The store answered (bad input, corrupt data, a conflict): healthy. Unavailable, a timeout: a failure.
      isFailure: (error) => error.reason === "Unavailable",
      onOpen: Effect.andThen(
        Metric.update(circuitOpened, 1),
        Effect.logWarning(
          `SnapshotStore circuit breaker opened: snapshot calls fail fast for ${Duration.format(resetAfter)}`
        )
      )
    })

    const timedOut = (operation: string) =>
      new SnapshotStoreError({
        reason: "Unavailable",
        message: `${operation} timed out after ${Duration.format(timeout)}`
      })

    // The timeout bounds the whole call, its retries of Unavailable included (other reasons are not retried).
    // Outside a SQL transaction the caller does not wait for the abandoned attempt's cleanup (a driver's
    // cancel and drain, which a lost server can hold for seconds): it goes on in the background. Inside one,
    // the caller waits: the statement's savepoint must be rolled back before the transaction goes on.
    const attempt = <A>(operation: string, call: Effect.Effect<A, SnapshotStoreError>) => {
      const retried = Effect.retry(call, { schedule: retry, while: (error) => error.reason === "Unavailable" })
      return Effect.contextWith((context: Context.Context<never>) =>
        inSqlTransaction(context)
          ? Effect.timeoutOrElse(retried, { duration: timeout, orElse: () => Effect.fail(timedOut(operation)) })
          : Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(Effect.forkDetach(retried), (fiber) => {
              const abandon = Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber)))
              return restore(
                Effect.timeoutOrElse(Fiber.join(fiber), {
                  duration: timeout,
                  orElse: () => Effect.andThen(abandon, Effect.fail(timedOut(operation)))
                })
              ).pipe(Effect.onInterrupt(() => abandon))
            })
          )
      )
    }

    const counted = (operation: "save" | "load", reason: string) =>
      Metric.update(Metric.withAttributes(failures, { operation, reason }), 1)

    // The call with its timeout and retries, behind the breaker; an open breaker fails fast with Unavailable.
    // Every failure is passed on, and counted by reason.
    const guarded = <A>(
      operation: "save" | "load",
      call: Effect.Effect<A, SnapshotStoreError>
    ): Effect.Effect<A, SnapshotStoreError> =>
      (breaker === undefined ? attempt(operation, call) : breaker.protect(attempt(operation, call))).pipe(
        Effect.onError((cause) => {
          if (Cause.hasInterruptsOnly(cause)) return Effect.void
          const failure = Cause.findErrorOption(cause)
          if (Cause.hasDies(cause) || Option.isNone(failure)) return counted(operation, "Defect")
          return counted(operation, failure.value._tag === "CircuitOpen" ? "CircuitOpen" : failure.value.reason)
        }),
        Effect.catchTag("CircuitOpen", (open) =>
          Effect.fail(
            new SnapshotStoreError({
              reason: "Unavailable",
              message: `${operation} not attempted: circuit open (${
                open.state === "Open" ? "after repeated failures" : "a trial call is running"
              })`
            })
          ))
      )

    const maintenance = <A>(operation: string, call: Effect.Effect<A, SnapshotStoreError>) =>
      Effect.timeoutOrElse(call, {
        duration: maintenanceTimeout,
        orElse: () =>
          Effect.fail(
            new SnapshotStoreError({
              reason: "Unavailable",
              message: `${operation} timed out after ${Duration.format(maintenanceTimeout)}`
            })
          )
      })

    return {
      save: (snapshot) => guarded("save", inner.save(snapshot)),
      // A retry after an Unavailable whose statement did commit (a connection lost after the insert) finds that
      // row and answers AlreadyCovered: the caller then counts it as covered, not written; nothing is doubled.
      saveIfDue: (snapshot, dueOptions) => guarded("save", inner.saveIfDue(snapshot, dueOptions)),
      ...(inner.now === undefined ? {} : { now: inner.now }),
      ...(inner.writesAfterCommit === undefined ? {} : { writesAfterCommit: inner.writesAfterCommit }),
      load: (aggregateType, aggregateId, loadOptions) =>
        guarded("load", inner.load(aggregateType, aggregateId, loadOptions)),
      list: (aggregateType, aggregateId) => maintenance("list", inner.list(aggregateType, aggregateId)),
      delete: (aggregateType, aggregateId, deleteOptions) =>
        maintenance("delete", inner.delete(aggregateType, aggregateId, deleteOptions)),
      latestForType: (aggregateType) => maintenance("latestForType", inner.latestForType(aggregateType)),
      // The timeout bounds the wait for each page, not the whole stream.
      aggregates: (aggregateType) =>
        Stream.timeoutOrElse(inner.aggregates(aggregateType), {
          duration: maintenanceTimeout,
          orElse: () =>
            Stream.fail(
              new SnapshotStoreError({
                reason: "Unavailable",
                message: `aggregates timed out after ${Duration.format(maintenanceTimeout)}`
              })
            )
        }),
      prune: (pruneOptions) => maintenance("prune", inner.prune(pruneOptions))
    } satisfies SnapshotStoreService
  }
)
