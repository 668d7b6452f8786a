/**
 * The event store's errors, in a module of their own so that the memory and SQL stores' internal modules share
 * them without importing the public `EventStore` module that re-exports them.
 */
import * as Storable from "@effect-snapshots/store/Storable"
import * as Schema from "effect/Schema"

/**
 * The stream moved: another writer appended after the caller read `expectedVersion`.
 *
 * @since 0.1.0
 * @category errors
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
    return `${this.aggregateType} ${Storable.show(this.aggregateId)}: expected version ${this.expectedVersion}, ` +
      `but the stream is at ${this.actualVersion}`
  }
}

/**
 * Why an event store call failed:
 * - `InvalidInput`: bad arguments (empty type or id, negative version, empty batch, a payload that is not JSON),
 *   or `SqlEventStore.append` inside a transaction of another client than the store's; nothing was written.
 * - `Unavailable`: the backend failed or could not be reached.
 * - `Corrupt`: a stored event could not be read back.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventStoreError extends Schema.TaggedError<EventStoreError>("@effect-snapshots/loader/EventStoreError")(
  "EventStoreError",
  {
    reason: Schema.Literals(["InvalidInput", "Unavailable", "Corrupt"]),
    message: Schema.String,
    cause: Schema.optional(Schema.Defect())
  }
) {}
