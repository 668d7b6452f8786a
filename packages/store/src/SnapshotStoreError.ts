/**
 * The error of every SnapshotStore method, in a module of its own (as `effect/sql`'s `SqlError`), so that
 * the stores, the decorators and their internal modules share it without importing each other.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"

/**
 * Why a store call failed:
 * - `InvalidInput`: the data the call was given cannot be stored (empty id, version 0, a state that is not
 *   storable JSON, see `Storable`), or a SQL store was asked to write inside a transaction of another client
 *   than its own (see `SqlSupport.TransactionSite`); nothing was written.
 * - `Unavailable`: the backend could not be reached, failed, or timed out; retrying may help.
 * - `Corrupt`: a stored snapshot could not be read back (bad bytes, bad JSON, bad row).
 * - `Conflict`: the backend refused the write as conflicting (a constraint violation).
 *
 * Bad options of a layer or decorator are a programmer's mistake, not a reason: they fail with core's
 * `BadArgument`.
 *
 * @since 0.1.0
 * @category errors
 */
export const SnapshotStoreErrorReason = Schema.Literals(["InvalidInput", "Unavailable", "Corrupt", "Conflict"])

/**
 * @since 0.1.0
 * @category errors
 */
export type SnapshotStoreErrorReason = typeof SnapshotStoreErrorReason.Type

/**
 * The one error type of every SnapshotStore method.
 *
 * @since 0.1.0
 * @category errors
 */
export class SnapshotStoreError extends Schema.TaggedError<SnapshotStoreError>(
  "@effect-snapshots/store/SnapshotStoreError"
)("SnapshotStoreError", {
  reason: SnapshotStoreErrorReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/**
 * A `Corrupt` error: a stored snapshot that cannot be read back. For backends of one's own, as the library's
 * stores report it.
 *
 * @since 1.1.0
 * @category constructors
 */
export const corrupt = (message: string, cause?: unknown): SnapshotStoreError =>
  new SnapshotStoreError(cause === undefined ? { reason: "Corrupt", message } : { reason: "Corrupt", message, cause })

/**
 * A stored row that does not decode with its Schema, as a `Corrupt` error of `operation`.
 *
 * @since 1.1.0
 * @category constructors
 */
export const fromSchemaError = (operation: string) => (error: Schema.SchemaError): SnapshotStoreError =>
  corrupt(`${operation}: a stored row could not be decoded: ${error.message}`, error)
