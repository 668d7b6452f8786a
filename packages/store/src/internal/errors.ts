/**
 * Mapping of backend failures to `SnapshotStoreError`, at the service boundary.
 *
 * @internal
 */
import type { SchemaError } from "effect/Schema"
import { SnapshotStoreError } from "../SnapshotStoreError.js"

/** A row that does not decode: the stored data is corrupt. @internal */
export const fromSchemaError = (operation: string) => (error: SchemaError): SnapshotStoreError =>
  new SnapshotStoreError({
    reason: "Corrupt",
    message: `${operation}: a stored row could not be decoded: ${error.message}`,
    cause: error
  })

/** @internal */
export const corrupt = (message: string, cause?: unknown): SnapshotStoreError =>
  new SnapshotStoreError(cause === undefined ? { reason: "Corrupt", message } : { reason: "Corrupt", message, cause })
