/**
 * The in-memory EventStore (`EventStore.makeMemory`): the SQL store's validation, optimistic concurrency and
 * global positions, and inside a `UnitOfWork` unit PostgreSQL's isolation (see `EventStore.makeMemory`).
 */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import * as Storable from "@effect-snapshots/store/Storable"
import * as UnitOfWork from "@effect-snapshots/store/UnitOfWork"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type { AppendResult, EventStoreService, MemoryOptions, StoredEvent, StreamInfo } from "../EventStore.js"
import { checkCount, checkLimit, checkStreamKey, encodeAppend } from "./eventInput.js"
import { ConcurrencyConflict, EventStoreError } from "./eventStoreError.js"
import { compareStreams, streamsAfter } from "./streamsListing.js"

interface MemoryState {
  /**
   * Every event in position order: `all[p - 1]` has position `p`, or is empty where a failed unit's append
   * was undone (positions are never reused, as in SQL). Appends push onto it; an undo replaces it.
   */
  readonly all: Array<StoredEvent | undefined>
  /** How many entries of `all` are empty (0 unless a unit failed). */
  readonly holes: number
  /**
   * Each stream's events in version order: `events[v - 1]` has version `v`. Appends push onto it; an undo
   * replaces it with a shorter copy, so a read that started earlier keeps its view.
   */
  readonly streams: Map<string, Array<StoredEvent>>
  /**
   * The streams open units have appended to: their transaction, the only one that sees (and may append to)
   * the stream beyond `committed` until it ends; others read up to `committed` and wait to append. Changed
   * in place, inside `Ref.modify` / `Ref.update`.
   */
  readonly locks: Map<string, Lock>
}

/** A stream an open unit has appended to (the row lock of SQL's uncommitted insert). */
interface Lock {
  readonly owner: UnitOfWork.Transaction
  /** The stream's committed version: the transaction's own events follow it. */
  readonly committed: number
}

/** How many events of the stream `reader` (a transaction, or none outside a unit) sees. */
const visibleLength = (
  current: MemoryState,
  key: string,
  stream: ReadonlyArray<StoredEvent>,
  reader: UnitOfWork.Transaction | undefined
): number => {
  const lock = current.locks.get(key)
  return lock === undefined || lock.owner === reader ? stream.length : lock.committed
}

/**
 * Where `readAll` stops for `reader`: right before the first uncommitted event of another transaction (as on
 * SQL, an event becomes visible to `readAll` once the transactions that wrote before it have finished).
 */
const readAllEnd = (current: MemoryState, reader: UnitOfWork.Transaction | undefined): number => {
  let end = current.all.length
  for (const [key, lock] of current.locks) {
    if (lock.owner === reader) continue
    const first = current.streams.get(key)?.[lock.committed]
    if (first !== undefined) end = Math.min(end, first.position - 1)
  }
  return end
}

/** The current fiber's transaction: its unit's, or none. */
const currentTransaction: Effect.Effect<UnitOfWork.Transaction | undefined> = Effect.map(
  UnitOfWork.enclosing,
  (enclosing) => enclosing._tag === "Unit" ? enclosing.unit.transaction : undefined
)

const streamKey = (aggregateType: string, aggregateId: string): string =>
  `${aggregateType.length}:${aggregateType}${aggregateId}`

const invalidInput = (message: string) => new EventStoreError({ reason: "InvalidInput", message })

/**
 * Emits `events[from, to)` in chunks of `pageSize`. The arrays are append-only, so the slice read here is
 * exactly the events that existed when the read started.
 */
const emitSlice = <A>(
  events: ReadonlyArray<A>,
  from: number,
  to: number,
  pageSize: number
): Stream.Stream<A> =>
  from >= to ? Stream.empty : Stream.paginate(from, (start) =>
    Effect.succeed(
      [
        events.slice(start, Math.min(start + pageSize, to)),
        start + pageSize < to ? Option.some(start + pageSize) : Option.none()
      ] as const
    ))

/** `emitSlice` over `all` with empty entries (undone appends) left out, in chunks of `pageSize`. */
const emitPresent = (
  events: ReadonlyArray<StoredEvent | undefined>,
  from: number,
  to: number,
  pageSize: number
): Stream.Stream<StoredEvent> =>
  Stream.paginate(from, (start) => {
    const chunk: Array<StoredEvent> = []
    let i = start
    for (; i < to && chunk.length < pageSize; i++) {
      const event = events[i]
      if (event !== undefined) chunk.push(event)
    }
    return Effect.succeed([chunk, i < to ? Option.some(i) : Option.none()] as const)
  })

/**
 * Undoes one append (a failed unit's): the stream goes back to `previousVersion` and the appended events
 * leave `all`, their positions left empty. Only the unit's own events can follow `previousVersion`: another
 * writer waits for the unit to end (`Lock`).
 */
const undoAppend = (current: MemoryState, key: string, previousVersion: number): MemoryState => {
  const stream = current.streams.get(key)
  if (stream === undefined || stream.length <= previousVersion) return current
  const all = current.all.slice()
  for (let v = previousVersion; v < stream.length; v++) all[stream[v]!.position - 1] = undefined
  const streams = new Map(current.streams)
  streams.set(key, stream.slice(0, previousVersion))
  return { ...current, all, holes: current.holes + stream.length - previousVersion, streams }
}

/**
 * The end of `transaction` for its locked streams: rolled back, each goes back to its committed version;
 * then the locks go, and with them the limit on what other readers see (the commit).
 */
const release = (current: MemoryState, transaction: UnitOfWork.Transaction, outcome: UnitOfWork.Outcome) => {
  let next = current
  for (const [key, lock] of current.locks) {
    if (lock.owner !== transaction) continue
    if (outcome === "RolledBack") next = undoAppend(next, key, lock.committed)
    current.locks.delete(key)
  }
  return next
}

/** What one attempt at an append found. */
type Attempt =
  | { readonly _tag: "Appended"; readonly result: AppendResult; readonly firstLock: boolean }
  | { readonly _tag: "Conflict"; readonly actualVersion: number }
  | { readonly _tag: "Locked"; readonly holder: UnitOfWork.Transaction }

/** `EventStore.makeMemory`. */
export const make: (options?: MemoryOptions) => Effect.Effect<EventStoreService, BadArgument> = Effect
  .fnUntraced(function*(options: MemoryOptions = {}) {
    const pageSize = options.pageSize ?? 1000
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      return yield* new BadArgument({
        module: "EventStore.makeMemory",
        message: `pageSize must be a positive integer, got ${pageSize}`
      })
    }
    // The state object is only ever mutated inside `Ref.modify`, which runs synchronously: an append is
    // atomic with respect to every other fiber.
    const state = yield* Ref.make<MemoryState>({ all: [], holes: 0, streams: new Map(), locks: new Map() })

    /** One attempt, in one synchronous step: append, or say why not (a conflict, another unit's lock). */
    const attempt = (
      current: MemoryState,
      key: string,
      aggregateType: string,
      aggregateId: string,
      expectedVersion: number,
      events: ReadonlyArray<{ readonly type: string; readonly payload: string; readonly metadata: string }>,
      createdAt: DateTime.Utc,
      transaction: UnitOfWork.Transaction | undefined
    ): Attempt => {
      const lock = current.locks.get(key)
      if (lock !== undefined && lock.owner !== transaction) return { _tag: "Locked", holder: lock.owner }
      const stream = current.streams.get(key) ?? []
      if (stream.length !== expectedVersion) return { _tag: "Conflict", actualVersion: stream.length }
      if (stream.length === 0) current.streams.set(key, stream)
      let firstLock = false
      if (transaction !== undefined && lock === undefined) {
        firstLock = true
        for (const other of current.locks.values()) {
          if (other.owner === transaction) firstLock = false
        }
        current.locks.set(key, { owner: transaction, committed: stream.length })
      }
      const previousPosition = stream.length === 0 ? 0 : stream[stream.length - 1]!.position
      const positions: Array<number> = []
      for (const event of events) {
        const stored: StoredEvent = {
          aggregateType,
          aggregateId,
          version: stream.length + 1,
          position: current.all.length + 1,
          type: event.type,
          payload: JSON.parse(event.payload),
          metadata: JSON.parse(event.metadata),
          createdAt
        }
        stream.push(stored)
        current.all.push(stored)
        positions.push(stored.position)
      }
      return {
        _tag: "Appended",
        result: { previousVersion: expectedVersion, previousPosition, version: stream.length, positions },
        firstLock
      }
    }

    /**
     * In a unit, with the append in the same uninterruptible step: the undo of the append (a failed nested
     * unit takes back its own), and with the transaction's first lock here, its release when it ends.
     */
    const registerIn = (unit: UnitOfWork.Unit, key: string, expectedVersion: number, firstLock: boolean) =>
      Effect.andThen(
        unit.onRollback(Ref.update(state, (current) => undoAppend(current, key, expectedVersion))),
        firstLock
          ? unit.transaction.onEnd((outcome) =>
            Ref.update(state, (current) => release(current, unit.transaction, outcome))
          )
          : Effect.void
      )

    const append: EventStoreService["append"] = (aggregateType, aggregateId, expectedVersion, events) =>
      Effect.suspend((): Effect.Effect<AppendResult, ConcurrencyConflict | EventStoreError> => {
        const encoded = encodeAppend(aggregateType, aggregateId, expectedVersion, events)
        if (Result.isFailure(encoded)) {
          return Effect.fail(invalidInput(encoded.failure))
        }
        const key = streamKey(aggregateType, aggregateId)
        return Effect.flatMap(
          Effect.all([UnitOfWork.enclosing, DateTime.now]),
          ([enclosing, createdAt]) => {
            const unit = enclosing._tag === "Unit" ? enclosing.unit : undefined
            const once: Effect.Effect<Attempt> = Effect.uninterruptible(Effect.flatMap(
              Ref.modify(state, (current) => [
                attempt(
                  current,
                  key,
                  aggregateType,
                  aggregateId,
                  expectedVersion,
                  encoded.success,
                  createdAt,
                  unit?.transaction
                ),
                current
              ]),
              (attempted) =>
                attempted._tag === "Appended" && unit !== undefined
                  ? Effect.as(registerIn(unit, key, expectedVersion, attempted.firstLock), attempted)
                  : Effect.succeed(attempted)
            ))
            const run: Effect.Effect<AppendResult, ConcurrencyConflict | EventStoreError> = Effect.flatMap(
              once,
              (attempted) => {
                switch (attempted._tag) {
                  case "Appended":
                    return Effect.succeed(attempted.result)
                  case "Conflict":
                    return Effect.fail(
                      new ConcurrencyConflict({
                        aggregateType,
                        aggregateId,
                        expectedVersion,
                        actualVersion: attempted.actualVersion
                      })
                    )
                  case "Locked":
                    // Wait for the unit that holds the stream, then try again on its outcome.
                    return Effect.andThen(
                      Effect.mapError(
                        UnitOfWork.awaitEnd(attempted.holder, Option.fromNullishOr(unit?.transaction)),
                        (deadlock) =>
                          new EventStoreError({
                            reason: "Unavailable",
                            message: `${aggregateType} ${Storable.show(aggregateId)}: ${deadlock.message}`,
                            cause: deadlock
                          })
                      ),
                      Effect.suspend(() => run)
                    )
                }
              }
            )
            return run
          }
        )
      })

    /** The state, with the transaction that reads it (which decides what it sees of the open units' appends). */
    const seen: Effect.Effect<readonly [MemoryState, UnitOfWork.Transaction | undefined]> = Effect.flatMap(
      currentTransaction,
      (reader) => Effect.map(Ref.get(state), (current) => [current, reader] as const)
    )

    /** The events of one stream `reader` sees. */
    const visibleStream = (
      current: MemoryState,
      reader: UnitOfWork.Transaction | undefined,
      aggregateType: string,
      aggregateId: string
    ): readonly [ReadonlyArray<StoredEvent>, number] => {
      const key = streamKey(aggregateType, aggregateId)
      const stream = current.streams.get(key) ?? []
      return [stream, visibleLength(current, key, stream, reader)]
    }

    const read: EventStoreService["read"] = (aggregateType, aggregateId, readOptions = {}) =>
      Stream.unwrap(Effect.suspend(() => {
        const problem = checkStreamKey(aggregateType, aggregateId) ??
          checkCount("fromVersion", readOptions.fromVersion) ?? checkCount("toVersion", readOptions.toVersion)
        if (problem !== undefined) {
          return Effect.fail(invalidInput(problem))
        }
        return Effect.map(seen, ([current, reader]) => {
          const [stream, length] = visibleStream(current, reader, aggregateType, aggregateId)
          const from = Math.max(readOptions.fromVersion ?? 1, 1) - 1
          const to = Math.min(readOptions.toVersion ?? length, length)
          return emitSlice(stream, from, to, pageSize)
        })
      }))

    const readPage: EventStoreService["readPage"] = (aggregateType, aggregateId, pageOptions = {}) =>
      Effect.suspend(() => {
        const problem = checkStreamKey(aggregateType, aggregateId) ??
          checkCount("fromVersion", pageOptions.fromVersion) ?? checkCount("toVersion", pageOptions.toVersion) ??
          checkLimit(pageOptions.limit)
        if (problem !== undefined) {
          return Effect.fail(invalidInput(problem))
        }
        return Effect.map(seen, ([current, reader]) => {
          const [stream, length] = visibleStream(current, reader, aggregateType, aggregateId)
          const from = Math.max(pageOptions.fromVersion ?? 1, 1) - 1
          const to = Math.min(
            pageOptions.toVersion ?? length,
            length,
            from + (pageOptions.limit ?? pageSize)
          )
          return from >= to ? [] : stream.slice(from, to)
        })
      })

    const readAll: EventStoreService["readAll"] = (readOptions = {}) =>
      Stream.unwrap(Effect.suspend(() => {
        const problem = checkCount("fromPosition", readOptions.fromPosition)
        if (problem !== undefined) {
          return Effect.fail(invalidInput(problem))
        }
        return Effect.map(seen, ([current, reader]) => {
          const end = readAllEnd(current, reader)
          return current.holes === 0
            ? emitSlice(current.all as ReadonlyArray<StoredEvent>, readOptions.fromPosition ?? 0, end, pageSize)
            : emitPresent(current.all, readOptions.fromPosition ?? 0, end, pageSize)
        })
      }))

    const version: EventStoreService["version"] = (aggregateType, aggregateId) =>
      Effect.suspend(() => {
        const problem = checkStreamKey(aggregateType, aggregateId)
        if (problem !== undefined) {
          return Effect.fail(invalidInput(problem))
        }
        return Effect.map(seen, ([current, reader]) => visibleStream(current, reader, aggregateType, aggregateId)[1])
      })

    const streams: EventStoreService["streams"] = (listOptions = {}) =>
      Stream.unwrap(Effect.suspend(() => {
        const after = streamsAfter(listOptions)
        if (typeof after === "string") return Effect.fail(invalidInput(after))
        return Effect.map(seen, ([current, reader]) => {
          const listed: Array<StreamInfo> = []
          for (const [key, stream] of current.streams) {
            const length = visibleLength(current, key, stream, reader)
            const head = stream[length - 1]
            if (head === undefined) continue
            if (listOptions.aggregateType !== undefined && head.aggregateType !== listOptions.aggregateType) continue
            if (after !== undefined && compareStreams(head, after) <= 0) continue
            listed.push({ aggregateType: head.aggregateType, aggregateId: head.aggregateId, version: length })
          }
          listed.sort(compareStreams)
          return emitSlice(listed, 0, listed.length, pageSize)
        })
      }))

    return { append, read, readPage, readAll, version, streams }
  })
