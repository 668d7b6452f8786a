/**
 * The one replay of a stream, shared by the repository's load (and verify) and `Projection.rebuild`: the first
 * page (read with `readPage`, or handed over by the cold read's one statement), the head check of a state at a
 * version, the gap check of every event, the rest of the stream after a full page, and the fallback budget of
 * a replay from the initial state. What is done with each event is the caller's `Sink`.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type { SkipReason } from "../Aggregate.js"
import type { EventStoreError, EventStoreService, StoredEvent } from "../EventStore.js"
import { StreamCorrupt } from "../RepositoryError.js"

/**
 * Events the first page of a replay asks for (in the cold read's one statement): a tail of up to this many
 * events is one statement. The rest of a longer stream comes in the store's pages (1000 on the SQL store).
 *
 * @internal
 */
export const pageSize = 2000

/** A state (a snapshot's, or a cached one) that the stream does not confirm: the caller replays instead. @internal */
export class Unusable extends Data.TaggedError("Unusable")<{
  readonly reason: SkipReason
  readonly message: string
}> {}

/**
 * Where a replay starts: at version 0 (the initial state: every event), or at a state built from the event at
 * `version`, whose global `position` was recorded (when it was).
 *
 * @internal
 */
export interface From {
  readonly version: number
  readonly position: number | undefined
}

/** Where a replay ended: the last event taken, and how many were. @internal */
export interface Reached {
  readonly version: number
  readonly position: number
  readonly replayed: number
}

/** @internal */
export interface Options {
  /**
   * The first page, already read: the events from `from.version` on (from version 1 at version 0), at most
   * `pageSize`, in version order.
   */
  readonly firstPage?: ReadonlyArray<StoredEvent> | undefined
  /** Stop at this version (verify's full replay stops where the load stopped). */
  readonly toVersion?: number | undefined
  /** A replay from version 0 reads its pages (beyond a first page handed over) holding a permit of this budget. */
  readonly fallback?: Semaphore.Semaphore | undefined
}

/**
 * What the caller does with the events: `take` each one (after its gap check; it answers the error that stops
 * the replay), then `flush` after each page (a projection's handler runs there).
 *
 * @internal
 */
export interface Sink<Err, FlushErr = never, R = never> {
  readonly take: (stored: StoredEvent) => Err | undefined
  readonly flush?: Effect.Effect<void, FlushErr, R> | undefined
}

/**
 * The first row of a read from `version`: it must be the event at `version` (none: the stream is below it; a
 * later one: a gap) at the global position recorded when the state was built (when recorded).
 */
const checkHead = (
  type: string,
  id: string,
  from: From,
  rows: ReadonlyArray<StoredEvent>
): Unusable | StreamCorrupt | undefined => {
  const head = rows[0]
  if (head === undefined) {
    return new Unusable({ reason: "AboveStream", message: `the state is at version ${from.version}, above its stream` })
  }
  if (head.version !== from.version) {
    return new StreamCorrupt({
      aggregateType: type,
      aggregateId: id,
      expectedVersion: from.version,
      actualVersion: head.version
    })
  }
  if (from.position !== undefined && from.position !== head.position) {
    return new Unusable({
      reason: "StreamMismatch",
      message: `the event at version ${from.version} has position ${head.position}, ` +
        `the state was built at position ${from.position}`
    })
  }
  return undefined
}

/**
 * Replay the stream of `type`/`id` after `from` into `sink`. From a state at a version, the read starts AT that
 * version: its first row must be the event the state was built from, else `Unusable` (or `StreamCorrupt` for a
 * gap). One query when the tail fits a page.
 *
 * @internal
 */
export const run = <Err, FlushErr = never, R = never>(
  events: EventStoreService,
  type: string,
  id: string,
  from: From,
  options: Options,
  sink: Sink<Err, FlushErr, R>
): Effect.Effect<Reached, Unusable | StreamCorrupt | EventStoreError | Err | FlushErr, R> =>
  Effect.suspend(() => {
    const reached = { version: from.version, position: from.position ?? 0, replayed: 0 }
    const flush = sink.flush ?? Effect.void
    const page = (
      rows: ReadonlyArray<StoredEvent>,
      start: number
    ): Effect.Effect<void, StreamCorrupt | Err | FlushErr, R> => {
      for (let i = start; i < rows.length; i++) {
        const stored = rows[i]!
        if (stored.version !== reached.version + 1) {
          return Effect.fail(
            new StreamCorrupt({
              aggregateType: type,
              aggregateId: id,
              expectedVersion: reached.version + 1,
              actualVersion: stored.version
            })
          )
        }
        const error = sink.take(stored)
        if (error !== undefined) return Effect.fail(error)
        reached.version = stored.version
        reached.position = stored.position
        reached.replayed++
      }
      return flush
    }
    // The rest of a long stream, read ahead: the next pages' statements run on the server while this page is
    // folded here (one page waits in the buffer, one more may be on its way). When the fold stops early (a
    // corrupt event, a failing sink), the read on its way is left to finish rather than interrupted: an
    // interrupted statement is cancelled, and a cancelled statement aborts the caller's SQL transaction.
    const rest = Effect.suspend(() =>
      Stream.runForEachArray(
        Stream.bufferArray(
          Stream.transformPull(
            events.read(type, id, { fromVersion: reached.version + 1, toVersion: options.toVersion }),
            (pull) => Effect.succeed(Effect.uninterruptible(pull))
          ),
          { capacity: 1 }
        ),
        (rows) => page(rows, 0)
      )
    )
    const budgeted = <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) =>
      options.fallback === undefined ? effect : options.fallback.withPermits(1)(effect)
    /** The first page's rows after `start`, then, when it was full, the rest of the stream. */
    const after = (rows: ReadonlyArray<StoredEvent>, start: number, restOf: typeof rest) =>
      Effect.andThen(page(rows, start), rows.length < pageSize ? Effect.void : restOf)
    const done = Effect.sync((): Reached => ({ ...reached }))

    if (from.version === 0) {
      const firstPage = options.firstPage
      return Effect.andThen(
        firstPage === undefined ? budgeted(rest) : after(firstPage, 0, budgeted(rest)),
        done
      )
    }
    const first = options.firstPage === undefined
      ? events.readPage(type, id, { fromVersion: from.version, toVersion: options.toVersion, limit: pageSize })
      : Effect.succeed(options.firstPage)
    return Effect.flatMap(
      first,
      (rows): Effect.Effect<Reached, Unusable | StreamCorrupt | EventStoreError | Err | FlushErr, R> => {
        const bad = checkHead(type, id, from, rows)
        if (bad !== undefined) return Effect.fail(bad)
        reached.position = rows[0]!.position
        return Effect.andThen(after(rows, 1, rest), done)
      }
    )
  })
