/**
 * The one error an event-sourced entity adds to every command it serves.
 *
 * @since 1.0.0
 */
import * as Schema from "effect/Schema"

/**
 * Why a command failed in the entity rather than in its handler:
 * - `OwnershipLost`: the append found the stream at another version than the entity's state. Another owner
 *   wrote to it (a shard moved, a paused process came back, a split brain): this owner dropped its state and
 *   reloads on the next command. Nothing of this command was written; the caller may send it again, and the
 *   cluster routes it to the current owner.
 * - `Unavailable`: the event store or the snapshot store failed or could not be reached. Whether the append
 *   committed is unknown; the entity dropped its state and reloads on the next command.
 * - `Corrupt`: a stored event or the stream could not be read back.
 * - `Invalid`: an event or the event metadata did not encode (a bug in the handler or its Schemas).
 *
 * It is a Schema, so it crosses runners: put it in every command's `error` Schema
 * (`error: Schema.Union([OutOfStock, EntityError])`, or `error: EntityError`).
 *
 * @since 1.0.0
 * @category errors
 */
export class EntityError extends Schema.TaggedError<EntityError>("@effect-snapshots/cluster/EntityError")(
  "EntityError",
  {
    entityType: Schema.String,
    entityId: Schema.String,
    reason: Schema.Literals(["OwnershipLost", "Unavailable", "Corrupt", "Invalid"]),
    message: Schema.String
  }
) {}

/**
 * @since 1.0.0
 * @category errors
 */
export type EntityErrorReason = EntityError["reason"]
