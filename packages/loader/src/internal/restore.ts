/**
 * Restoring a snapshot, shared by the repository and `Projection.rebuild`: probe the store, classify what it
 * answered, restore the state (fingerprint, migrations, decoding). The replay from it checks that the stream
 * holds the event it was built from (`replay.ts`).
 *
 * @internal
 */
import type { Snapshot, SnapshotStore, SnapshotStoreError } from "@effect-snapshots/store"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { SkipReason } from "../Aggregate.js"
import type { Ops } from "./ops.js"
import { cut, oneLine, quote } from "./text.js"

/** What the probe found. @internal */
export type Probed<S> =
  /** Nothing stored, or the store's answer could not be had (unavailable, or the id was refused). */
  | { readonly _tag: "Absent"; readonly known: boolean }
  | { readonly _tag: "Usable"; readonly snapshot: Snapshot.Snapshot; readonly state: S; readonly migrated: boolean }
  /** A stored snapshot that cannot be used; `version` undefined when even that is unknown. */
  | { readonly _tag: "Unusable"; readonly version: number | undefined }

/**
 * The snapshots found unusable during a bulk run (`rebuild`, `verifyStream`), by reason. Inside one, `skip` logs
 * each at Debug and counts it here; the run logs one summary line (a deploy that changes a state Schema would
 * otherwise log one warning per aggregate during the very rebuild meant to fix them).
 *
 * @internal
 */
export class Tally {
  readonly skipped = new Map<SkipReason, number>()
  /** "StaleFingerprint 36, DecodeFailure 1", or "" when none. */
  describe(): string {
    return Array.from(this.skipped, ([reason, n]) => `${reason} ${n}`).join(", ")
  }
}

/** The tally of the bulk run the current fiber is part of (none outside one). @internal */
export const CurrentTally = Context.Reference<Tally | undefined>("@effect-snapshots/loader/internal/CurrentTally", {
  defaultValue: () => undefined
})

/**
 * Counts and logs a snapshot that was found but not used: one line naming the aggregate, its detail (a Schema
 * issue, a store's message) joined on one line and cut to 200 characters. Inside a bulk run, at Debug and
 * counted in its tally.
 *
 * @internal
 */
export const skip = (
  type: string,
  id: string,
  skipped: (reason: SkipReason) => Metric.Counter<number>,
  reason: SkipReason,
  message: string,
  version: number | undefined
): Effect.Effect<void> =>
  Effect.flatMap(Effect.service(CurrentTally), (tally) => {
    const line = `Snapshot of ${type} ${quote(id)}${
      version === undefined ? "" : ` at version ${version}`
    } not used (${reason}): ${oneLine(message)}`
    if (tally !== undefined) tally.skipped.set(reason, (tally.skipped.get(reason) ?? 0) + 1)
    return Effect.andThen(
      (tally === undefined ? Effect.logWarning(line) : Effect.logDebug(line)).pipe(
        Effect.annotateLogs({ aggregateType: type, aggregateId: cut(id), snapshotVersion: version ?? null })
      ),
      Metric.update(skipped(reason), 1)
    )
  })

/**
 * Probe → classify → restore. Never fails: a snapshot problem costs a replay, never an error. An id the store
 * refuses (`InvalidInput`) is not a snapshot problem: it is answered `Absent`, and the event store refuses it
 * with its own `InvalidInput`.
 *
 * @internal
 */
export const probe = <S, E>(
  snapshots: SnapshotStore.SnapshotStoreService,
  ops: Ops<S, E>,
  id: string,
  skipped: (reason: SkipReason) => Metric.Counter<number>
): Effect.Effect<Probed<S>> =>
  Effect.flatMap(Effect.result(snapshots.load(ops.type, id)), (found) => classify(snapshots, ops, id, skipped, found))

/**
 * Classify → restore what the store answered for the newest snapshot (by `load`, or within a statement of the
 * caller's). Never fails, as `probe`.
 *
 * @internal
 */
export const classify = <S, E>(
  snapshots: SnapshotStore.SnapshotStoreService,
  ops: Ops<S, E>,
  id: string,
  skipped: (reason: SkipReason) => Metric.Counter<number>,
  answered: Result.Result<Option.Option<Snapshot.Snapshot>, SnapshotStoreError.SnapshotStoreError>
): Effect.Effect<Probed<S>> =>
  Result.match(answered, {
    onFailure: (error): Effect.Effect<Probed<S>> => {
      switch (error.reason) {
        case "InvalidInput":
          return Effect.succeed({ _tag: "Absent", known: false })
        case "Corrupt":
          // The store holds a snapshot it cannot read back (bad bytes, bad JSON): skip it like one that does not
          // decode, and find its version (`list` reads no state) so that its replacement takes its place.
          return Effect.flatMap(Effect.result(snapshots.list(ops.type, id)), (history) => {
            const newest = Result.isSuccess(history) ? history.success[history.success.length - 1] : undefined
            return Effect.as(
              skip(
                ops.type,
                id,
                skipped,
                "DecodeFailure",
                `the store could not read it: ${error.message}`,
                newest?.version
              ),
              { _tag: "Unusable", version: newest?.version } as const
            )
          })
        default:
          return Effect.as(
            skip(ops.type, id, skipped, "Unavailable", error.message, undefined),
            { _tag: "Absent", known: false } as const
          )
      }
    },
    onSuccess: (found): Effect.Effect<Probed<S>> => {
      if (Option.isNone(found)) return Effect.succeed({ _tag: "Absent", known: true })
      const snapshot = found.value
      const restored = snapshot.aggregateType !== ops.type || snapshot.aggregateId !== id
        ? Result.fail({
          reason: "StreamMismatch" as const,
          message: `the store answered a snapshot of ${snapshot.aggregateType} ${quote(snapshot.aggregateId)}`
        })
        : ops.restoreState(snapshot)
      if (Result.isFailure(restored)) {
        return Effect.as(
          skip(ops.type, id, skipped, restored.failure.reason, restored.failure.message, snapshot.version),
          { _tag: "Unusable", version: snapshot.version } as const
        )
      }
      return Effect.succeed({
        _tag: "Usable",
        snapshot,
        state: restored.success.state,
        migrated: restored.success.migrated
      })
    }
  })
