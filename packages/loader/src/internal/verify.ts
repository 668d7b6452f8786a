/**
 * `verify`: snapshot + tail against a full replay up to the same version, with a JSON diff and an optional
 * repair; `verifyStream` / `verifyAll` over every aggregate of the type that has a snapshot.
 *
 * @internal
 */
import type { SnapshotStore } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Difference, Verified, VerifyAllOptions, VerifyOptions, VerifySummary } from "../EventSourcedRepository.js"
import * as Commit from "./commit.js"
import * as jsonDiff from "./jsonDiff.js"
import type { Ops } from "./ops.js"
import type { Acc } from "./replay.js"
import type * as SnapshotWriter from "./snapshotWriter.js"
import { cut, quote } from "./text.js"

/** One aggregate's outcome. @internal */
export interface Result<Err> {
  readonly aggregateId: string
  readonly result: Either.Either<Verified, Err>
}

/** What verify needs of the repository. @internal */
export interface Deps<S, E, Err> {
  readonly ops: Ops<S, E>
  readonly snapshots: SnapshotStore.SnapshotStoreService
  readonly load: (id: string) => Effect.Effect<
    {
      readonly version: number
      readonly state: S
      readonly snapshotVersion: Option.Option<number>
      readonly replayedCount: number
    },
    Err
  >
  readonly replayAll: (id: string, toVersion: number) => Effect.Effect<Acc<S>, Err>
  readonly writer: SnapshotWriter.Writer<S>
  readonly forget: (id: string) => Effect.Effect<void>
  readonly failed: (id: string, version: number, message: string) => Effect.Effect<unknown>
}

/** @internal */
export const make = <S, E, Err extends { readonly message: string; readonly _tag: string }>(deps: Deps<S, E, Err>) => {
  const { ops, snapshots } = deps
  const type = ops.type

  const verify = (id: string, options: VerifyOptions = {}): Effect.Effect<Verified, Err> =>
    Effect.gen(function*() {
      const loaded = yield* deps.load(id)
      const replayed = yield* deps.replayAll(id, loaded.version)
      const a = ops.encodeState(loaded.state)
      const b = ops.encodeState(replayed.state)
      const differences: Array<Difference> = Either.isRight(a) && Either.isRight(b)
        ? jsonDiff.diff(a.right, b.right)
        : [{
          path: "$",
          snapshot: Either.isLeft(a) ? `(does not encode: ${a.left})` : "(encodes)",
          replay: Either.isLeft(b) ? `(does not encode: ${b.left})` : "(encodes)"
        }]
      if (loaded.version !== replayed.version) {
        differences.unshift({ path: "(version)", snapshot: String(loaded.version), replay: String(replayed.version) })
      }
      const consistent = differences.length === 0
      let repaired = false
      if (!consistent && options.repair === true && replayed.version > 0) {
        // Every snapshot of the aggregate is suspect: delete them all, then write one of the full replay.
        const deleted = yield* Effect.either(snapshots.delete(type, id))
        if (Either.isRight(deleted)) {
          const outcome = yield* deps.writer.run({
            id,
            version: replayed.version,
            known: Option.some({ version: replayed.version, state: replayed.state, position: replayed.position }),
            obsolete: [],
            decide: Option.none()
          }, Commit.none)
          repaired = outcome === "written"
          yield* deps.forget(id)
        } else {
          yield* deps.failed(id, replayed.version, `drifted snapshots not deleted: ${deleted.left.message}`)
        }
      }
      if (!consistent) {
        yield* Effect.logWarning(
          `Snapshot of ${type} ${quote(id)} at version ${
            Option.getOrElse(loaded.snapshotVersion, () => "-")
          } + ${loaded.replayedCount} events differs from the full replay at ${differences[0]!.path}`
        ).pipe(Effect.annotateLogs({ aggregateType: type, aggregateId: cut(id), repaired }))
      }
      return {
        consistent,
        version: loaded.version,
        snapshotVersion: loaded.snapshotVersion,
        replayed: loaded.replayedCount,
        differences,
        repaired
      }
    }).pipe(
      Effect.withSpan("EventSourcedRepository.verify", { attributes: { "aggregate.type": type, "aggregate.id": id } })
    )

  const verifyStream = (
    options: VerifyAllOptions = {}
  ): Stream.Stream<Result<Err>, SnapshotStore.SnapshotStoreError> =>
    snapshots.aggregates(type).pipe(
      Stream.mapEffect(
        (key) =>
          Effect.map(Effect.either(verify(key.aggregateId, options)), (result): Result<Err> => ({
            aggregateId: key.aggregateId,
            result
          })),
        { concurrency: options.concurrency ?? 4 }
      )
    )

  const verifyAll = (
    options: VerifyAllOptions = {}
  ): Effect.Effect<VerifySummary, SnapshotStore.SnapshotStoreError> => {
    const maxReported = options.maxReported ?? 100
    return Stream.runFold(
      verifyStream(options),
      {
        checked: 0,
        consistent: 0,
        inconsistentCount: 0,
        inconsistent: [] as Array<{ readonly aggregateId: string; readonly verified: Verified }>,
        failedCount: 0,
        failed: [] as Array<{ readonly aggregateId: string; readonly message: string }>,
        repaired: 0
      },
      (summary, { aggregateId, result }) => {
        summary.checked++
        if (Either.isLeft(result)) {
          summary.failedCount++
          if (summary.failed.length < maxReported) {
            summary.failed.push({
              aggregateId,
              message: result.left._tag === "AggregateNotFound"
                ? `${result.left.message} (an orphan snapshot)`
                : result.left.message
            })
          }
        } else if (result.right.consistent) {
          summary.consistent++
        } else {
          summary.inconsistentCount++
          if (result.right.repaired) summary.repaired++
          if (summary.inconsistent.length < maxReported) {
            summary.inconsistent.push({ aggregateId, verified: result.right })
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
