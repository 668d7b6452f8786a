/**
 * Folding a stream: the tail after a known state (a snapshot's, or a cached one), read with `readPage` first and
 * streamed only after a full page; and the full replay, inside the fallback budget.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import type * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type * as Aggregate from "../Aggregate.js"
import type { EventStoreError, EventStoreService, StoredEvent } from "../EventStore.js"
import { StreamCorrupt } from "../StreamCorrupt.js"
import type { Ops } from "./ops.js"
import { checkHead, type Unusable } from "./restore.js"

/** Events a tail read asks for in its first page (the SQL store's default page size). @internal */
export const tailPageSize = 2000

/** A fold in progress (mutated in place). @internal */
export interface Acc<S> {
  state: S
  version: number
  position: number
  replayed: number
}

/** Fold `rows[from..]` onto `acc`; answers the error that stopped it, if any. @internal */
export const foldRows = <S, E>(
  ops: Ops<S, E>,
  id: string,
  acc: Acc<S>,
  rows: ReadonlyArray<StoredEvent>,
  from: number
): Aggregate.EventDecodeError | StreamCorrupt | undefined => {
  for (let i = from; i < rows.length; i++) {
    const stored = rows[i]!
    if (stored.version !== acc.version + 1) {
      return new StreamCorrupt({
        aggregateType: ops.type,
        aggregateId: id,
        expectedVersion: acc.version + 1,
        actualVersion: stored.version
      })
    }
    const decoded = ops.decodeEvent(stored)
    if (decoded._tag === "Failure") return decoded.failure
    acc.state = ops.evolve(acc.state, decoded.success)
    acc.version = stored.version
    acc.position = stored.position
    acc.replayed++
  }
  return undefined
}

const foldStream = <S, E>(
  events: EventStoreService,
  ops: Ops<S, E>,
  id: string,
  acc: Acc<S>,
  options: { readonly fromVersion?: number; readonly toVersion?: number }
) =>
  Stream.runForEachArray(events.read(ops.type, id, options), (rows) => {
    const error = foldRows(ops, id, acc, rows, 0)
    return error === undefined ? Effect.void : Effect.fail(error)
  })

/**
 * Fold the events after a known state at `from.version` onto it. The read starts AT that version: its first
 * row must be the event the state was built from (`checkHead`), else `Unusable` (or `StreamCorrupt` for a
 * gap). One query when the tail fits a page.
 *
 * @internal
 */
export const tail = <S, E>(
  events: EventStoreService,
  ops: Ops<S, E>,
  id: string,
  from: { readonly state: S; readonly version: number; readonly position: number | undefined },
  pageSize: number = tailPageSize
): Effect.Effect<Acc<S>, Unusable | StreamCorrupt | Aggregate.EventDecodeError | EventStoreError> =>
  Effect.flatMap(
    events.readPage(ops.type, id, { fromVersion: from.version, limit: pageSize }),
    (rows) => tailFrom(events, ops, id, from, rows, pageSize)
  )

/**
 * `tail` with its first page already read (`rows`: the events from `from.version` on, at most `pageSize`).
 *
 * @internal
 */
export const tailFrom = <S, E>(
  events: EventStoreService,
  ops: Ops<S, E>,
  id: string,
  from: { readonly state: S; readonly version: number; readonly position: number | undefined },
  rows: ReadonlyArray<StoredEvent>,
  pageSize: number
): Effect.Effect<Acc<S>, Unusable | StreamCorrupt | Aggregate.EventDecodeError | EventStoreError> => {
  const bad = checkHead(ops.type, id, from.version, from.position, rows)
  if (bad !== undefined) return Effect.fail(bad)
  const acc: Acc<S> = { state: from.state, version: from.version, position: rows[0]!.position, replayed: 0 }
  return continueFold(events, ops, id, acc, rows, 1, pageSize)
}

/** Folds `rows[from..]`, then, when `rows` was a full page, the stream after it. */
const continueFold = <S, E>(
  events: EventStoreService,
  ops: Ops<S, E>,
  id: string,
  acc: Acc<S>,
  rows: ReadonlyArray<StoredEvent>,
  from: number,
  pageSize: number
): Effect.Effect<Acc<S>, StreamCorrupt | Aggregate.EventDecodeError | EventStoreError> => {
  const error = foldRows(ops, id, acc, rows, from)
  if (error !== undefined) return Effect.fail(error)
  if (rows.length < pageSize) return Effect.succeed(acc)
  return Effect.as(Effect.suspend(() => foldStream(events, ops, id, acc, { fromVersion: acc.version + 1 })), acc)
}

/**
 * The whole stream (up to `toVersion`) from the initial state, holding one permit of the fallback budget.
 *
 * @internal
 */
export const full = <S, E>(
  events: EventStoreService,
  ops: Ops<S, E>,
  id: string,
  fallback: Semaphore.Semaphore,
  toVersion?: number
): Effect.Effect<Acc<S>, StreamCorrupt | Aggregate.EventDecodeError | EventStoreError> =>
  Effect.suspend(() => {
    const acc: Acc<S> = { state: ops.initial(id), version: 0, position: 0, replayed: 0 }
    return Effect.as(foldStream(events, ops, id, acc, toVersion === undefined ? {} : { toVersion }), acc)
  }).pipe(fallback.withPermits(1))

/**
 * `full` with its first page already read (`rows`: the stream's events from version 1 on, at most
 * `pageSize`); the rest, if any, is read holding a permit of the fallback budget.
 *
 * @internal
 */
export const fullFrom = <S, E>(
  events: EventStoreService,
  ops: Ops<S, E>,
  id: string,
  fallback: Semaphore.Semaphore,
  rows: ReadonlyArray<StoredEvent>,
  pageSize: number
): Effect.Effect<Acc<S>, StreamCorrupt | Aggregate.EventDecodeError | EventStoreError> =>
  Effect.suspend(() => {
    const acc: Acc<S> = { state: ops.initial(id), version: 0, position: 0, replayed: 0 }
    return continueFold(events, ops, id, acc, rows, 0, pageSize)
  }).pipe(rows.length < pageSize ? identity : fallback.withPermits(1))
