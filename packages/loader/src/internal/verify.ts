/**
 * `verify`: snapshot + tail against a full replay up to the same version, with a JSON diff and an optional
 * repair; `verifyStream` / `verifyAll` over every aggregate of the type that has a snapshot.
 *
 * @internal
 */
import type { SnapshotStore } from "@effect-snapshots/store"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type { Verified, VerifyAllOptions, VerifyOptions, VerifySummary } from "../EventSourcedRepository.js"
import * as Commit from "./commit.js"
import * as jsonDiff from "./jsonDiff.js"
import type { Known } from "./knownStateCache.js"
import type * as Load from "./load.js"
import type { Ops } from "./ops.js"
import * as Restore from "./restore.js"
import type * as SnapshotWriter from "./snapshotWriter.js"
import { cut, oneLine, quote } from "./text.js"

/** One aggregate's outcome. @internal */
export interface Verification<Err> {
  readonly aggregateId: string
  readonly result: Result.Result<Verified, Err>
}

/** What verify needs of the repository. @internal */
export interface Deps<S, E, Err> {
  readonly ops: Ops<S, E>
  readonly snapshots: SnapshotStore.SnapshotStoreService
  /** The load from the stores (no cache): what they hold. */
  readonly load: (id: string, route: Commit.Route) => Effect.Effect<Load.Loaded<S>, Err>
  /** The whole stream up to a version, from the initial state. */
  readonly replayAll: (id: string, toVersion: number) => Effect.Effect<Known<S>, Err>
  readonly writer: SnapshotWriter.Writer<S>
  readonly forget: (id: string) => Effect.Effect<void>
  readonly failed: (id: string, version: number, message: string) => Effect.Effect<unknown>
}

/** @internal */
export const make = <S, E, Err extends { readonly message: string; readonly _tag: string }>(deps: Deps<S, E, Err>) => {
  const { ops, snapshots } = deps
  const type = ops.type

  const verify: (id: string, options?: VerifyOptions) => Effect.Effect<Verified, Err> = Effect.fnUntraced(
    function*(id: string, options: VerifyOptions = {}) {
      const route = yield* Commit.current
      const found = yield* deps.load(id, route)
      const { known: loaded, replayed: replayedCount, snapshotVersion } = found
      // An unusable snapshot is replaced as every load's is.
      const repairedNow = yield* deps.writer.repair(id, found, route)
      // A migrated snapshot whose state differed from the full replay: the load already found (and logged) where.
      const mismatch = found.migrationMismatch
      if (mismatch !== undefined) {
        return {
          consistent: false,
          version: loaded.version,
          snapshotVersion: Option.some(mismatch.snapshotVersion),
          replayed: mismatch.replayed,
          differences: mismatch.differences,
          repaired: repairedNow === "written" || repairedNow === "queued"
        }
      }
      const replayed = yield* deps.replayAll(id, loaded.version)
      const differences = jsonDiff.states(
        { encoded: ops.encodeState(loaded.state), version: loaded.version },
        { encoded: ops.encodeState(replayed.state), version: replayed.version }
      )
      const consistent = differences.length === 0
      let repaired = false
      if (!consistent && options.repair === true && replayed.version > 0) {
        // Every snapshot of the aggregate is suspect: delete them all, then write one of the full replay.
        const deleted = yield* Effect.result(snapshots.delete(type, id))
        if (Result.isSuccess(deleted)) {
          const outcome = yield* deps.writer.run({
            id,
            version: replayed.version,
            known: Option.some(replayed),
            obsolete: [],
            decide: Option.none()
          }, Commit.none)
          repaired = outcome === "written"
          yield* deps.forget(id)
        } else {
          yield* deps.failed(id, replayed.version, `drifted snapshots not deleted: ${deleted.failure.message}`)
        }
      }
      if (!consistent) {
        // Inside verifyStream / verifyAll, at Debug: the run's summary line counts it.
        const bulk = (yield* Effect.service(Restore.CurrentTally)) !== undefined
        const line = `Snapshot of ${type} ${quote(id)} at version ${
          Option.getOrElse(snapshotVersion, () => "-")
        } + ${replayedCount} events differs from the full replay at ${oneLine(differences[0]!.path)}`
        yield* (bulk ? Effect.logDebug(line) : Effect.logWarning(line)).pipe(
          Effect.annotateLogs({ aggregateType: type, aggregateId: cut(id), repaired })
        )
      }
      return {
        consistent,
        version: loaded.version,
        snapshotVersion,
        replayed: replayedCount,
        differences,
        repaired
      }
    },
    (effect, id) =>
      Effect.withSpan(effect, "EventSourcedRepository.verify", {
        attributes: { "aggregate.type": type, "aggregate.id": cut(id) }
      })
  )

  const verifyStream = (
    options: VerifyAllOptions = {}
  ): Stream.Stream<Verification<Err>, SnapshotStore.SnapshotStoreError> =>
    Stream.unwrap(Effect.map(Clock.currentTimeMillis, (start) => {
      const tally = new Restore.Tally()
      const counts = { checked: 0, consistent: 0, inconsistent: 0, repaired: 0, failed: 0 }
      let firstInconsistent: { readonly id: string; readonly path: string } | undefined
      let firstFailure: { readonly id: string; readonly message: string } | undefined
      return snapshots.aggregates(type).pipe(
        Stream.mapEffect(
          (key) =>
            Effect.map(
              Effect.result(Effect.provideService(verify(key.aggregateId, options), Restore.CurrentTally, tally)),
              (result): Verification<Err> => {
                counts.checked++
                if (Result.isFailure(result)) {
                  counts.failed++
                  firstFailure ??= { id: key.aggregateId, message: result.failure.message }
                } else if (result.success.consistent) {
                  counts.consistent++
                } else {
                  counts.inconsistent++
                  if (result.success.repaired) counts.repaired++
                  firstInconsistent ??= { id: key.aggregateId, path: result.success.differences[0]?.path ?? "$" }
                }
                return { aggregateId: key.aggregateId, result }
              }
            ),
          { concurrency: options.concurrency ?? 4 }
        ),
        Stream.onExit((exit) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const parts = [
              `Verify of ${type}: ${counts.checked} checked in ${
                ((now - start) / 1000).toFixed(1)
              } s: ${counts.consistent} consistent, ${counts.inconsistent} inconsistent (${counts.repaired} repaired), ${counts.failed} failed`
            ]
            const skipped = tally.describe()
            if (skipped !== "") parts.push(`snapshots not used (replaced by the load): ${skipped}`)
            if (firstInconsistent !== undefined) {
              parts.push(`first inconsistent: ${quote(firstInconsistent.id)} at ${oneLine(firstInconsistent.path)}`)
            }
            if (firstFailure !== undefined) {
              parts.push(`first failure: ${quote(firstFailure.id)}: ${oneLine(firstFailure.message)}`)
            }
            const stopped = Exit.isFailure(exit)
            if (Exit.isFailure(exit)) {
              const error = Cause.findErrorOption(exit.cause)
              parts.push(
                Cause.hasInterruptsOnly(exit.cause)
                  ? "interrupted"
                  : `stopped: ${oneLine(error._tag === "Some" ? error.value.message : "a defect (see the cause)")}`
              )
            }
            const line = parts.join("; ")
            return (stopped || counts.inconsistent > 0 || counts.failed > 0
              ? Effect.logWarning(line)
              : Effect.logInfo(line))
              .pipe(Effect.annotateLogs({ aggregateType: type }))
          })
        )
      )
    }))

  const verifyAll = (
    options: VerifyAllOptions = {}
  ): Effect.Effect<VerifySummary, SnapshotStore.SnapshotStoreError> => {
    const maxReported = options.maxReported ?? 100
    return Stream.runFold(
      verifyStream(options),
      () => ({
        checked: 0,
        consistent: 0,
        inconsistentCount: 0,
        inconsistent: [] as Array<{ readonly aggregateId: string; readonly verified: Verified }>,
        failedCount: 0,
        failed: [] as Array<{ readonly aggregateId: string; readonly message: string }>,
        repaired: 0
      }),
      (summary, { aggregateId, result }) => {
        summary.checked++
        if (Result.isFailure(result)) {
          summary.failedCount++
          if (summary.failed.length < maxReported) {
            summary.failed.push({
              aggregateId,
              message: result.failure._tag === "AggregateNotFound"
                ? `${result.failure.message} (an orphan snapshot)`
                : result.failure.message
            })
          }
        } else if (result.success.consistent) {
          summary.consistent++
        } else {
          summary.inconsistentCount++
          if (result.success.repaired) summary.repaired++
          if (summary.inconsistent.length < maxReported) {
            summary.inconsistent.push({ aggregateId, verified: result.success })
          }
        }
        return summary
      }
    ).pipe(
      Effect.map((summary): VerifySummary => summary),
      Effect.withSpan("EventSourcedRepository.verifyAll", { attributes: { "aggregate.type": type } })
    )
  }

  return { verify, verifyStream, verifyAll }
}
