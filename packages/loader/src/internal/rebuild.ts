/**
 * `rebuild`: a fresh snapshot (current fingerprint and schema version) for every stream of the type in the event
 * store, throttled, resumable from the last finished id, with progress; interruption lets the aggregates in
 * flight finish (each one's write is whole or absent) and stops there.
 *
 * @internal
 */
import { BadArgument } from "@effect-snapshots/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type {
  RebuildCounts,
  RebuildOptions,
  RebuildOutcome,
  RebuildProgress,
  RebuildSummary
} from "../EventSourcedRepository.js"
import type { EventStoreError, EventStoreService } from "../EventStore.js"
import * as Commit from "./commit.js"
import type * as Load from "./load.js"
import * as Restore from "./restore.js"
import type * as SnapshotWriter from "./snapshotWriter.js"
import { oneLine, quote } from "./text.js"

/** What rebuild needs of the repository. @internal */
export interface Deps<S, Err> {
  readonly type: string
  readonly events: EventStoreService
  /** The repository's load from the stores (no cache): snapshot + tail, or a full replay. */
  readonly load: (id: string, route: Commit.Route) => Effect.Effect<Load.Loaded<S>, Err>
  readonly writer: SnapshotWriter.Writer<S>
}

const module = "EventSourcedRepository.rebuild"

const check = (options: RebuildOptions): BadArgument.BadArgument | undefined => {
  const { concurrency, perSecond, resumeFrom } = options
  if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
    return new BadArgument.BadArgument({ module, message: `concurrency must be an integer >= 1, got ${concurrency}` })
  }
  if (perSecond !== undefined && !(Number.isFinite(perSecond) && perSecond > 0)) {
    return new BadArgument.BadArgument({ module, message: `perSecond must be a finite number > 0, got ${perSecond}` })
  }
  if (resumeFrom !== undefined && (typeof resumeFrom !== "string" || resumeFrom === "")) {
    return new BadArgument.BadArgument({ module, message: `resumeFrom must be a non-empty aggregate id` })
  }
  return undefined
}

/**
 * Runs `effect` to its end even when the caller is interrupted: the caller then waits for it (a clean stop),
 * while the effect itself stays interruptible inside, so a store's timeout can still cut a call that hangs.
 */
const finishing = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      Effect.forkDetach(Effect.interruptible(effect)),
      (fiber) => Effect.onInterrupt(restore(Fiber.join(fiber)), () => Fiber.await(fiber))
    )
  )

/** What became of one aggregate. */
interface Finished {
  readonly outcome: RebuildOutcome
  readonly message?: string | undefined
}

/** The running totals of one rebuild, for its summary line. */
type Totals = RebuildCounts

/**
 * The one line a rebuild logs when it ends (however it ends): the counts, the snapshots its loads found
 * unusable (logged one by one at Debug only), the first failure, and where to resume when it stopped early.
 */
const summaryLine = (
  type: string,
  totals: Totals,
  total: number,
  millis: number,
  tally: Restore.Tally,
  firstFailure: { readonly id: string; readonly message: string } | undefined,
  checkpoint: string | undefined,
  exit: Exit.Exit<unknown, { readonly message: string }>
): Effect.Effect<void> => {
  const parts = [
    `Rebuild of ${type}: ${totals.done} of ${Math.max(total, totals.done)} aggregates in ${
      (millis / 1000).toFixed(1)
    } s: ${totals.written} written, ${totals.skipped} skipped, ${totals.queued} queued, ${totals.dropped} dropped, ${totals.failed} failed`
  ]
  const skipped = tally.describe()
  if (skipped !== "") parts.push(`snapshots not used: ${skipped}`)
  if (firstFailure !== undefined) {
    parts.push(`first failure: ${quote(firstFailure.id)}: ${oneLine(firstFailure.message)}`)
  }
  let stopped = false
  if (Exit.isFailure(exit)) {
    const error = Cause.findErrorOption(exit.cause)
    stopped = true
    parts.push(
      Cause.hasInterruptsOnly(exit.cause)
        ? "interrupted"
        : `stopped: ${oneLine(error._tag === "Some" ? error.value.message : "a defect (see the cause)")}`
    )
    if (checkpoint !== undefined) parts.push(`resume after ${quote(checkpoint)}`)
  }
  const line = parts.join("; ")
  return (stopped || totals.failed > 0 ? Effect.logWarning(line) : Effect.logInfo(line)).pipe(
    Effect.annotateLogs({ aggregateType: type })
  )
}

/** @internal */
export const make = <S, Err extends { readonly message: string }>(deps: Deps<S, Err>) => {
  const { events, type } = deps

  const one = Effect.fnUntraced(function*(id: string, onlyStale: boolean): Effect.fn.Return<Finished> {
    const route = yield* Commit.current
    const loaded = yield* Effect.result(deps.load(id, route))
    if (Result.isFailure(loaded)) return { outcome: "failed" as const, message: loaded.failure.message }
    const { known, snapshotVersion, source } = loaded.success
    const { version } = known
    // An unusable or migrated snapshot is replaced at the version just rebuilt, as every load's is.
    const repaired = yield* deps.writer.repair(id, loaded.success, route)
    if (repaired !== undefined) return { outcome: repaired === "none" ? "skipped" as const : repaired }
    const usable = source === "snapshot"
    if (usable && (onlyStale || Option.getOrElse(snapshotVersion, () => -1) === version)) {
      return { outcome: "skipped" as const }
    }
    const outcome = yield* deps.writer.run({
      id,
      version,
      known: Option.some(known),
      obsolete: [],
      decide: Option.none()
    }, route)
    return outcome === "failed"
      ? { outcome, message: `the snapshot at version ${version} could not be written (see the log)` }
      : { outcome: outcome === "none" ? "skipped" as const : outcome }
  })

  const rebuildStream = (
    options: RebuildOptions = {}
  ): Stream.Stream<RebuildProgress, EventStoreError | BadArgument.BadArgument> =>
    Stream.unwrap(Effect.gen(function*() {
      const problem = check(options)
      if (problem !== undefined) return yield* problem
      const listing = { aggregateType: type, after: options.resumeFrom }
      const total = yield* Stream.runCount(events.streams(listing))
      const perSecond = options.perSecond
      const onlyStale = options.onlyStale === true
      const start = yield* Clock.currentTimeMillis
      const counts = { done: 0, written: 0, skipped: 0, queued: 0, dropped: 0, failed: 0 }
      const tally = new Restore.Tally()
      let firstFailure: { readonly id: string; readonly message: string } | undefined
      let checkpoint: string | undefined
      return events.streams(listing).pipe(
        // A token bucket of `perSecond` tokens, refilled over a second; one element at a time goes through it,
        // so each aggregate waits for its own token before it starts.
        perSecond === undefined ? identity : (listed) =>
          listed.pipe(
            Stream.rechunk(1),
            Stream.throttle({
              cost: (infos) => infos.length,
              units: Math.max(1, Math.round(perSecond)),
              duration: "1 second",
              strategy: "shape"
            })
          ),
        // Ordered: an element comes out only once every aggregate before it is finished, so its id is a
        // checkpoint that `resumeFrom` can start after without skipping any.
        Stream.mapEffect(
          (info) =>
            Effect.map(
              finishing(Effect.provideService(one(info.aggregateId, onlyStale), Restore.CurrentTally, tally)),
              (result) => ({ ...result, id: info.aggregateId })
            ),
          { concurrency: options.concurrency ?? 4 }
        ),
        Stream.mapEffect((result) =>
          Effect.map(Clock.currentTimeMillis, (now): RebuildProgress => {
            counts.done++
            counts[result.outcome]++
            checkpoint = result.id
            if (result.outcome === "failed" && firstFailure === undefined) {
              firstFailure = { id: result.id, message: result.message ?? "failed" }
            }
            const ratePerSecond = counts.done / (Math.max(now - start, 1) / 1000)
            return {
              ...counts,
              total: Math.max(total, counts.done),
              ratePerSecond,
              etaSeconds: Math.max(total - counts.done, 0) / ratePerSecond,
              aggregateId: result.id,
              outcome: result.outcome,
              message: result.message,
              checkpoint: result.id
            }
          })
        ),
        Stream.onExit((exit) =>
          Effect.flatMap(
            Clock.currentTimeMillis,
            (now) => summaryLine(type, counts, total, now - start, tally, firstFailure, checkpoint, exit)
          )
        )
      )
    }))

  const rebuild = (
    options: RebuildOptions = {}
  ): Effect.Effect<RebuildSummary, EventStoreError | BadArgument.BadArgument> => {
    const maxReported = options.maxReported ?? 100
    return Stream.runFold(
      rebuildStream(options),
      () => ({
        summary: undefined as RebuildProgress | undefined,
        failures: [] as Array<{ readonly aggregateId: string; readonly message: string }>
      }),
      (acc, progress) => {
        if (progress.outcome === "failed" && acc.failures.length < maxReported) {
          acc.failures.push({ aggregateId: progress.aggregateId, message: progress.message ?? "failed" })
        }
        acc.summary = progress
        return acc
      }
    ).pipe(
      Effect.map(({ failures, summary }): RebuildSummary => ({
        total: summary?.total ?? 0,
        done: summary?.done ?? 0,
        written: summary?.written ?? 0,
        skipped: summary?.skipped ?? 0,
        queued: summary?.queued ?? 0,
        dropped: summary?.dropped ?? 0,
        failed: summary?.failed ?? 0,
        failures,
        ratePerSecond: summary?.ratePerSecond ?? 0,
        checkpoint: Option.fromNullishOr(summary?.checkpoint)
      })),
      Effect.withSpan("EventSourcedRepository.rebuild", { attributes: { "aggregate.type": type } })
    )
  }

  return { rebuild, rebuildStream }
}
