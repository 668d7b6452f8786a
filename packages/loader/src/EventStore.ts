/**
 * The EventStore service: append-only event streams per aggregate, with optimistic concurrency.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"

/**
 * An event to append: its type and its Schema-encoded (JSON) payload.
 *
 * @since 0.1.0
 */
export interface NewEvent {
  readonly type: string
  readonly payload: unknown
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}

/**
 * An event as stored. `version` counts from 1 within its stream; `position` is its place in the global
 * order of all streams (for projections), increasing with commit order.
 *
 * @since 0.1.0
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
 */
export interface AppendResult {
  /** The stream's version before the append (the `expectedVersion`). */
  readonly previousVersion: number
  /** The stream's version after the append. */
  readonly version: number
  /** The global positions of the appended events, in order. */
  readonly positions: ReadonlyArray<number>
}

/**
 * The stream moved: another writer appended after the caller read `expectedVersion`.
 *
 * @since 0.1.0
 */
export class ConcurrencyConflict extends Schema.TaggedError<ConcurrencyConflict>(
  "@effect-snapshots/loader/ConcurrencyConflict"
)("ConcurrencyConflict", {
  aggregateType: Schema.String,
  aggregateId: Schema.String,
  expectedVersion: Schema.Int,
  actualVersion: Schema.Int
}) {
  override get message(): string {
    return `${this.aggregateType} ${JSON.stringify(this.aggregateId)}: expected version ${this.expectedVersion}, ` +
      `but the stream is at ${this.actualVersion}`
  }
}

/**
 * Why an event store call failed:
 * - `InvalidInput`: bad arguments (empty type or id, negative version, empty batch, a payload that is not JSON);
 *   nothing was written.
 * - `Unavailable`: the backend failed or could not be reached.
 * - `Corrupt`: a stored event could not be read back.
 *
 * @since 0.1.0
 */
export class EventStoreError extends Schema.TaggedError<EventStoreError>("@effect-snapshots/loader/EventStoreError")(
  "EventStoreError",
  {
    reason: Schema.Literal("InvalidInput", "Unavailable", "Corrupt"),
    message: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {}

/**
 * @since 0.1.0
 */
export interface ReadOptions {
  /** First version to read (inclusive, default 1). */
  readonly fromVersion?: number | undefined
  /** Last version to read (inclusive, default: the end of the stream). */
  readonly toVersion?: number | undefined
}

/**
 * @since 0.1.0
 */
export interface ReadAllOptions {
  /** Read events whose position is strictly greater than this one (default: from the start). */
  readonly fromPosition?: number | undefined
}

/**
 * @since 0.1.0
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
  /** Every stream in one global order (by position), for projections. */
  readonly readAll: (options?: ReadAllOptions) => Stream.Stream<StoredEvent, EventStoreError>
  /** The stream's current version; 0 when it has no events. */
  readonly version: (aggregateType: string, aggregateId: string) => Effect.Effect<number, EventStoreError>
}

/**
 * @since 0.1.0
 */
export class EventStore extends Context.Tag("@effect-snapshots/loader/EventStore")<EventStore, EventStoreService>() {}
