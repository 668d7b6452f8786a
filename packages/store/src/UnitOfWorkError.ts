/**
 * The unit of work's own error: its transaction could not begin, ended without its writes, or lost its
 * connection during COMMIT. What the unit's effect fails with passes through unchanged; this error is about the
 * transaction around it. In a module of its own (as `SnapshotStoreError`).
 *
 * @since 1.1.0
 */
import * as Schema from "effect/Schema"

/**
 * What happened to the unit's transaction:
 * - `NotStarted`: no transaction (or savepoint) could be opened (no connection, `BEGIN` or `SAVEPOINT`
 *   refused); nothing of the unit ran.
 * - `RolledBack`: the unit's effect succeeded, but its writes are not stored: its connection failed before
 *   `COMMIT` (the server rolls back a transaction whose session ended), `COMMIT` was refused (a deferred
 *   constraint, a serialization failure), or a savepoint could not be released. Retrying the unit is safe.
 * - `CommitOutcomeUnknown`: the connection failed while `COMMIT` was on its way and the server could not be
 *   asked afterwards whether the transaction committed. The writes may be stored, wholly, or not at all:
 *   check before retrying.
 *
 * A `COMMIT` that failed although the server committed (the connection dropped after the commit) is no error:
 * the unit asks the server (`pg_xact_status`) and succeeds.
 *
 * @since 1.1.0
 * @category errors
 */
export const UnitOfWorkErrorReason = Schema.Literals(["NotStarted", "RolledBack", "CommitOutcomeUnknown"])

/**
 * @since 1.1.0
 * @category errors
 */
export type UnitOfWorkErrorReason = typeof UnitOfWorkErrorReason.Type

/**
 * The error a unit of work adds to its effect's errors (see `UnitOfWorkErrorReason`).
 *
 * @since 1.1.0
 * @category errors
 */
export class UnitOfWorkError extends Schema.TaggedError<UnitOfWorkError>(
  "@effect-snapshots/store/UnitOfWorkError"
)("UnitOfWorkError", {
  reason: UnitOfWorkErrorReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}
