/**
 * The checks run on an aggregate after a crash, a concurrent run or a random history: its stream is
 * contiguous and holds whole batches only, every acknowledged batch is there, no snapshot is above the
 * stream, every stored snapshot holds exactly the full-replay state at its version, and the repository
 * loads (and verifies) the full-replay state.
 *
 * @since 0.1.0
 */
import type { EventSourcedRepository } from "@effect-snapshots/loader"
import { Aggregate } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Account from "./Account.js"

/**
 * @since 0.1.0
 */
export interface Report {
  readonly id: string
  readonly version: number
  /** Everything found wrong, as sentences; empty when the aggregate is sound. */
  readonly problems: ReadonlyArray<string>
  /** Whether the repository's load differed from the full replay. */
  readonly mismatch: boolean
  /** Acknowledged batches missing from the stream. */
  readonly lost: number
  /** Stored snapshots checked against the replay (this time). */
  readonly snapshots: number
}

/**
 * @since 0.1.0
 */
export interface Options {
  /** Batches (tx ids) whose commit was acknowledged: each must be in the stream. */
  readonly acked?: Iterable<string> | undefined
  /** The highest acknowledged version: the stream must have reached it. */
  readonly ackedVersion?: number | undefined
  /** Check every stored snapshot's state (default true). */
  readonly snapshots?: boolean | undefined
  /** Also run the repository's `verify` (default true). */
  readonly verify?: boolean | undefined
  /**
   * Snapshots already found sound by an earlier check (keys `id@version@createdAt`): skipped, and the ones
   * found sound now are added. Stored snapshots are immutable, so a long run checks each one once.
   */
  readonly checked?: Set<string> | undefined
}

/**
 * Check one aggregate of the `Account` type. Never fails on a finding (findings are in the report); fails
 * only when a store cannot be reached.
 *
 * @since 0.1.0
 */
export const aggregate = Effect.fnUntraced(function*(
  repo: EventSourcedRepository.EventSourcedRepository<Account.State, Account.Event>,
  id: string,
  options: Options = {}
) {
  const store = yield* SnapshotStore.SnapshotStore
  const problems: Array<string> = []
  const keyOf = (info: { readonly version: number; readonly createdAt: { readonly epochMilliseconds: number } }) =>
    `${id}@${info.version}@${info.createdAt.epochMilliseconds}`
  const history = options.snapshots === false ? [] : yield* store.list(Account.Account.type, id)
  const unchecked = history.filter((info) => options.checked === undefined || !options.checked.has(keyOf(info)))
  const replay = yield* Account.replay(id, new Set(unchecked.map((info) => info.version)))
  problems.push(...replay.problems)
  if (replay.state.events !== replay.version) {
    problems.push(`the fold counted ${replay.state.events} events at version ${replay.version}`)
  }
  if (options.ackedVersion !== undefined && replay.version < options.ackedVersion) {
    problems.push(`stream at version ${replay.version}, but version ${options.ackedVersion} was acknowledged`)
  }
  let lost = 0
  if (options.acked !== undefined) {
    const present = new Set(replay.txs)
    for (const tx of options.acked) {
      if (!present.has(tx)) {
        lost++
        if (lost <= 3) problems.push(`acknowledged batch ${tx} is missing`)
      }
    }
  }
  for (const info of unchecked) {
    if (info.version > replay.version) {
      problems.push(`snapshot at version ${info.version} is above the stream (version ${replay.version})`)
      continue
    }
    const loaded = yield* Effect.result(store.load(Account.Account.type, id, { maxVersion: info.version }))
    if (Result.isFailure(loaded)) {
      problems.push(`snapshot at version ${info.version} cannot be read: ${loaded.failure.message}`)
      continue
    }
    if (Option.isNone(loaded.success) || loaded.success.value.version !== info.version) {
      problems.push(`snapshot at version ${info.version} is listed but not loaded`)
      continue
    }
    const restored = Aggregate.restoreState(Account.Account, loaded.success.value)
    if (Result.isFailure(restored)) {
      problems.push(`snapshot at version ${info.version} does not restore: ${restored.failure.message}`)
      continue
    }
    const expected = replay.states.get(info.version)!
    if (!Account.sameState(restored.success.state, expected)) {
      problems.push(`snapshot at version ${info.version} differs from the replay at that version`)
    } else {
      options.checked?.add(keyOf(info))
    }
  }
  let mismatch = false
  if (replay.version > 0) {
    const loaded = yield* Effect.result(repo.load(id))
    if (Result.isFailure(loaded)) {
      mismatch = true
      problems.push(`load failed: ${loaded.failure.message}`)
    } else if (loaded.success.version !== replay.version || !Account.sameState(loaded.success.state, replay.state)) {
      mismatch = true
      problems.push(
        `load gave version ${loaded.success.version} ${Account.canonical(loaded.success.state)}, ` +
          `the replay version ${replay.version} ${Account.canonical(replay.state)}`
      )
    }
    if (options.verify !== false) {
      const verified = yield* Effect.result(repo.verify(id))
      if (Result.isFailure(verified)) problems.push(`verify failed: ${verified.failure.message}`)
      else if (!verified.success.consistent) problems.push(`verify reports an inconsistency`)
    }
  }
  const report: Report = { id, version: replay.version, problems, mismatch, lost, snapshots: unchecked.length }
  return report
})
