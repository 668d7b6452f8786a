/**
 * The EventStore service: append-only event streams per aggregate, with optimistic concurrency.
 *
 * @since 0.1.0
 */
import type { BadArgument } from "@effect-snapshots/core/BadArgument"
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type { ConcurrencyConflict, EventStoreError } from "./internal/eventStoreError.js"
import * as memory from "./internal/memoryEventStore.js"

/**
 * An event to append: its type and its Schema-encoded (JSON) payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewEvent {
  readonly type: string
  readonly payload: unknown
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}

/**
 * An event as stored. `version` counts from 1 within its stream. `position` is unique across all streams and
 * increases along every stream and within every commit; it is the cursor for `readAll`. Where commits
 * overlap in time, `readAll`'s order may place an event after one with a higher position (see
 * `ReadAllOptions`), so a projection must resume from the last position it processed, not from a maximum.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredEvent {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly version: number
  readonly position: number
  readonly type: string
  readonly payload: unknown
  readonly metadata: Readonly<Record<string, unknown>>
  readonly createdAt: DateTime.Utc
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AppendResult {
  /** The stream's version before the append (the `expectedVersion`). */
  readonly previousVersion: number
  /**
   * The global position of the stream's event at `previousVersion` (its head before the append), 0 for a new
   * stream. With `positions`, it lets a caller prove that a state it holds at `previousVersion` is the one
   * this append built on.
   */
  readonly previousPosition: number
  /** The stream's version after the append. */
  readonly version: number
  /** The global positions of the appended events, in order. */
  readonly positions: ReadonlyArray<number>
}

export {
  /**
   * The stream moved: another writer appended after the caller read `expectedVersion` (the class lives in an
   * internal module that the memory and SQL stores share).
   *
   * @since 0.1.0
   * @category errors
   */
  ConcurrencyConflict,
  /**
   * Why an event store call failed: `InvalidInput`, `Unavailable` or `Corrupt` (see the class).
   *
   * @since 0.1.0
   * @category errors
   */
  EventStoreError
} from "./internal/eventStoreError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /** First version to read (inclusive, default 1). */
  readonly fromVersion?: number | undefined
  /** Last version to read (inclusive, default: the end of the stream). */
  readonly toVersion?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadPageOptions extends ReadOptions {
  /** At most this many events (a positive integer; default: the store's page size). */
  readonly limit?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadAllOptions {
  /**
   * Resume right after the event at this position in `readAll`'s order: pass the position of the last event
   * a projection processed (default 0: from the start).
   *
   * `readAll`'s order is one total order over all streams that never changes behind a reader: an event that
   * commits later is never placed before an event already read, so a projection that resumes from its last
   * position skips nothing and sees nothing twice. In the memory store this is simply position order. In the
   * SQL store it is position order except where transactions overlap: events are ordered by their
   * transaction (the later of its own id and the previous event of the same stream's), then by position, and
   * an event becomes visible to `readAll` only once every transaction that started writing before it has
   * finished. So a long-running write transaction anywhere on the server delays (never drops) newer events.
   */
  readonly fromPosition?: number | undefined
}

/**
 * @since 0.3.0
 * @category models
 */
export interface StreamsOptions {
  /** Only the streams of this aggregate type. */
  readonly aggregateType?: string | undefined
  /**
   * Resume after this stream in the listing's order (aggregate type, then aggregate id, by code unit on the
   * memory store and by the database's collation on SQL): pass the last one a previous listing gave.
   * With `aggregateType`, a plain id is enough.
   */
  readonly after?: string | { readonly aggregateType: string; readonly aggregateId: string } | undefined
}

/**
 * One stream of `streams`: its key and its version when it was listed.
 *
 * @since 0.3.0
 * @category models
 */
export interface StreamInfo {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly version: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface EventStoreService {
  /**
   * Append a batch atomically when the stream is at `expectedVersion` (0 for a new stream). The unique key
   * (type, id, version) decides the race, so two writers at the same version cannot both commit.
   */
  readonly append: (
    aggregateType: string,
    aggregateId: string,
    expectedVersion: number,
    events: ReadonlyArray<NewEvent>
  ) => Effect.Effect<AppendResult, ConcurrencyConflict | EventStoreError>
  /** One stream in version order, read in pages so a long stream replays in bounded memory. */
  readonly read: (
    aggregateType: string,
    aggregateId: string,
    options?: ReadOptions
  ) => Stream.Stream<StoredEvent, EventStoreError>
  /**
   * The first page of `read` as one plain Effect: at most `limit` events of one stream from `fromVersion`
   * (up to `toVersion`) in version order, in one query on SQL. Fewer than `limit` events means the range
   * ended; a full page may have more after it (continue with `read` from the last version + 1). Cheaper
   * than running a `Stream` when the range usually fits in one page (a tail after a snapshot).
   */
  readonly readPage: (
    aggregateType: string,
    aggregateId: string,
    options?: ReadPageOptions
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, EventStoreError>
  /**
   * Every stream in one global order, for projections: from `fromPosition` up to the events committed when
   * the stream reaches its end (it does not wait for new events; call it again with the last position).
   */
  readonly readAll: (options?: ReadAllOptions) => Stream.Stream<StoredEvent, EventStoreError>
  /** The stream's current version; 0 when it has no events. */
  readonly version: (aggregateType: string, aggregateId: string) => Effect.Effect<number, EventStoreError>
  /**
   * Every stream that has events, ordered by (aggregate type, aggregate id) and read in keyset pages, so a
   * listing of millions runs in bounded memory and resumes with `after`.
   */
  readonly streams: (options?: StreamsOptions) => Stream.Stream<StreamInfo, EventStoreError>
}

/**
 * @since 0.1.0
 * @category services
 */
export class EventStore
  extends Context.Service<EventStore, EventStoreService>()("@effect-snapshots/loader/EventStore")
{}

/**
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /** How many events `read` and `readAll` emit per chunk (default 1000). */
  readonly pageSize?: number | undefined
}

/**
 * An in-memory EventStore, for tests and prototypes: the same validation, optimistic concurrency and global
 * positions as the SQL store. Stored payloads and metadata are JSON copies of what was appended, so later
 * mutation of the caller's objects does not change the history.
 *
 * Inside a `UnitOfWork` unit (e.g. `UnitOfWork.layerMemory`) it gives PostgreSQL's outcomes: the unit's
 * appends are visible to it alone until it commits (`read`, `version`, `streams`; `readAll` stops before them
 * for everyone else until the unit ends); a failed unit's appends are undone (their positions stay unused, as
 * on SQL). An append to a stream another open unit has appended to waits for that unit to end, then meets its
 * outcome: a `ConcurrencyConflict` if it committed, the append if it rolled back. When two units would wait on
 * each other, the append that would close the cycle fails at once with `Unavailable` (its cause a
 * `UnitOfWork.Deadlock`; SQL reports a deadlock as `Unavailable` too).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: (options?: MemoryOptions) => Effect.Effect<EventStoreService, BadArgument> = memory.make

/**
 * A fresh in-memory EventStore per build of the layer (its default options are valid, so it cannot fail).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<EventStore> = Layer.effect(EventStore, Effect.orDie(makeMemory()))

/**
 * An in-memory EventStore with options (e.g. a small `pageSize` to exercise paging in tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemoryWith = (options: MemoryOptions): Layer.Layer<EventStore, BadArgument> =>
  Layer.effect(EventStore, makeMemory(options))
