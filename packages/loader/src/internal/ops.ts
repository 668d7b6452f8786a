/**
 * What the internal modules need of an aggregate, handed to them by the public modules (which may import
 * `Aggregate` as a value; internal modules import public ones as types only).
 *
 * @internal
 */
import type * as Result from "effect/Result"
import type * as Aggregate from "../Aggregate.js"
import type { StoredEvent } from "../EventStore.js"

/** @internal */
export interface Ops<S, E> {
  readonly type: string
  readonly schemaVersion: number
  readonly initial: (id: string) => S
  readonly evolve: (state: S, event: E) => S
  readonly decodeEvent: (stored: StoredEvent) => Result.Result<E, Aggregate.EventDecodeError>
  readonly restoreState: (snapshot: {
    readonly schemaVersion: number
    readonly state: unknown
    readonly metadata: Readonly<Record<string, unknown>>
  }) => Result.Result<Aggregate.RestoredState<S>, Aggregate.Skipped>
  readonly encodeState: (state: S) => Result.Result<unknown, string>
  readonly recordedPosition: (metadata: Readonly<Record<string, unknown>>) => number | undefined
  readonly snapshotMetadata: (position: number) => Record<string, unknown>
}

/**
 * The ops of an aggregate. The public module passes the `Aggregate` module itself (internal modules import
 * public ones as types only).
 *
 * @internal
 */
export const make = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  module: Pick<
    typeof Aggregate,
    "decodeEvent" | "restoreState" | "encodeState" | "recordedPosition" | "snapshotMetadata"
  >
): Ops<S, E> => ({
  type: aggregate.type,
  schemaVersion: aggregate.schemaVersion,
  initial: aggregate.initial,
  evolve: aggregate.evolve,
  decodeEvent: (stored) => module.decodeEvent(aggregate, stored),
  restoreState: (snapshot) => module.restoreState(aggregate, snapshot),
  encodeState: (state) => module.encodeState(aggregate, state),
  recordedPosition: (metadata) => {
    const position = module.recordedPosition(metadata)
    return position._tag === "Some" ? position.value : undefined
  },
  snapshotMetadata: (position) => module.snapshotMetadata(aggregate, position)
})
