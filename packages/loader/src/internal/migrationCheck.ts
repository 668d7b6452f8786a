/**
 * The migration check: a state restored through migrations is compared with a full replay of the stream, on a
 * share of loads (see `Migration.CheckOptions`) and on every load of `rebuild` and `verify`. A difference means a
 * wrong migration: the caller discards the snapshot and uses the replay, and the fault is logged (one line) and
 * counted here. A buggy migration then costs a replay, never a wrong state where the check ran.
 *
 * @internal
 */
import { BadArgument } from "@effect-snapshots/core"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import type { Difference } from "../EventSourcedRepository.js"
import * as jsonDiff from "./jsonDiff.js"
import type { Ops } from "./ops.js"
import { cut, oneLine, quote } from "./text.js"

/** A migrated state that differs from the replay: where, as `verify` reports it. @internal */
export interface Mismatch {
  /** The version of the discarded snapshot. */
  readonly snapshotVersion: number
  /** Events folded onto the migrated state. */
  readonly replayed: number
  readonly differences: ReadonlyArray<Difference>
}

/**
 * What the check found: not run (not due), the migrated state is the replay's, or it differs (then `replay` is the
 * state to use, at the same version).
 *
 * @internal
 */
export type Checked<R> =
  | { readonly _tag: "Unchecked" }
  | { readonly _tag: "Consistent" }
  | { readonly _tag: "Mismatch"; readonly replay: R; readonly mismatch: Mismatch }

/** A state at a version, and how many events were folded to reach it. @internal */
export interface Folded<S> {
  readonly state: S
  readonly version: number
  readonly replayed: number
}

/** What the check needs of a load. @internal */
export interface Input<S, Err, R extends { readonly state: S; readonly version: number }> {
  readonly id: string
  /** The snapshot the state was migrated from. */
  readonly snapshot: { readonly version: number; readonly schemaVersion: number }
  /** The migrated state with the tail folded onto it. */
  readonly acc: Folded<S>
  /** Check whatever the share (`rebuild`, `verify`). */
  readonly always: boolean
  /** The full replay of the stream up to a version. */
  readonly replay: (toVersion: number) => Effect.Effect<R, Err>
}

/** @internal */
export interface Checker<S> {
  readonly check: <Err, R extends { readonly state: S; readonly version: number }>(
    input: Input<S, Err, R>
  ) => Effect.Effect<Checked<R>, Err>
}

/** What the check needs of an aggregate definition. @internal */
export interface Definition {
  readonly type: string
  readonly schemaVersion: number
  readonly migrationsTo: number | undefined
  readonly migrationCheck: { readonly share: number; readonly firstLoads: number }
}

const module = "EventSourcedRepository.make"

const validate = (aggregate: Definition): BadArgument.BadArgument | undefined => {
  const { firstLoads, share } = aggregate.migrationCheck
  const problem = !(Number.isFinite(share) && share >= 0 && share <= 1)
    ? `migrationCheck.share must be a number from 0 to 1, got ${share}`
    : !(Number.isSafeInteger(firstLoads) && firstLoads >= 0)
    ? `migrationCheck.firstLoads must be an integer >= 0, got ${firstLoads}`
    : aggregate.migrationsTo !== undefined && aggregate.migrationsTo !== aggregate.schemaVersion
    ? `the migrations of ${aggregate.type} end at schema version ${aggregate.migrationsTo}, its schemaVersion is ${aggregate.schemaVersion}`
    : undefined
  return problem === undefined ? undefined : new BadArgument.BadArgument({ module, message: problem })
}

/**
 * The checker of one repository. It counts the loads through each migration (by the schema version migrated
 * from): the first `firstLoads` are checked, then a `share` of them; once a migration was found wrong, every
 * load through it is.
 *
 * @internal
 */
export const make = <S, E>(
  aggregate: Definition,
  ops: Ops<S, E>,
  mismatches: Metric.Counter<number>
): Effect.Effect<Checker<S>, BadArgument.BadArgument> => {
  const invalid = validate(aggregate)
  if (invalid !== undefined) return Effect.fail(invalid)
  const { firstLoads, share } = aggregate.migrationCheck
  const loads = new Map<number, number>()
  const wrong = new Set<number>()

  const due = (schemaVersion: number, always: boolean): Effect.Effect<boolean> =>
    Effect.suspend(() => {
      if (always || wrong.has(schemaVersion)) return Effect.succeed(true)
      const seen = loads.get(schemaVersion) ?? 0
      loads.set(schemaVersion, seen + 1)
      if (seen < firstLoads) return Effect.succeed(true)
      return share >= 1 ? Effect.succeed(true) : share <= 0 ? Effect.succeed(false) : Effect.map(
        Random.next,
        (draw) => draw < share
      )
    })

  const check = Effect.fnUntraced(function*<Err, R extends { readonly state: S; readonly version: number }>(
    input: Input<S, Err, R>
  ) {
    const { acc, id, snapshot } = input
    if (!(yield* due(snapshot.schemaVersion, input.always))) return { _tag: "Unchecked" } as Checked<R>
    const replay = yield* input.replay(acc.version)
    const differences = jsonDiff.states(
      { encoded: ops.encodeState(acc.state), version: acc.version },
      { encoded: ops.encodeState(replay.state), version: replay.version }
    )
    if (differences.length === 0) return { _tag: "Consistent" } as Checked<R>
    wrong.add(snapshot.schemaVersion)
    const first = differences[0]!
    yield* Effect.logWarning(
      `Snapshot of ${aggregate.type} ${
        quote(id)
      } at version ${snapshot.version} not used: its migration from schema version ${snapshot.schemaVersion} to ${aggregate.schemaVersion} gives a state that differs from the full replay at ${
        oneLine(first.path)
      } (${oneLine(cut(first.snapshot, 100))} instead of ${
        oneLine(cut(first.replay, 100))
      }); the replay is used and replaces the snapshot`
    ).pipe(
      Effect.annotateLogs({
        aggregateType: aggregate.type,
        aggregateId: cut(id),
        snapshotVersion: snapshot.version,
        fromSchemaVersion: snapshot.schemaVersion,
        toSchemaVersion: aggregate.schemaVersion
      })
    )
    yield* Metric.update(mismatches, 1)
    return {
      _tag: "Mismatch",
      replay,
      mismatch: { snapshotVersion: snapshot.version, replayed: acc.replayed, differences }
    } as Checked<R>
  })

  return Effect.succeed({ check })
}
