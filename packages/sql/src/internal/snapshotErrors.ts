/**
 * The SQL snapshot store's failures as `SnapshotStoreError`s, at the service boundary.
 *
 * @internal
 */
import { SnapshotStoreError } from "@effect-snapshots/store/SnapshotStoreError"
import type { SqlError } from "effect/sql/SqlError"
import * as sqlSupport from "./sqlSupport.js"

/**
 * A `SqlError` as a store error, classified by SQLSTATE (`SqlSupport.classify`: class 23 Conflict, class 22
 * InvalidInput, anything else Unavailable). A row larger than the client accepts (`@effect/sql-pg`'s
 * `maxMessageSize`, 16 MiB by default) is `Corrupt`: the stored snapshot cannot be read back on this client,
 * retrying cannot help, and it must not open `resilient`'s circuit breaker for every other aggregate. @internal
 */
export const fromSqlError = (operation: string) => (error: SqlError): SnapshotStoreError =>
  sqlSupport.isMessageTooLarge(error)
    ? new SnapshotStoreError({
      reason: "Corrupt",
      message: `${operation} failed: the stored snapshot is larger than the SQL client accepts (raise the ` +
        `client's maxMessageSize, or store large states compressed): ${sqlSupport.describeError(error)}`,
      cause: error
    })
    : new SnapshotStoreError({
      reason: sqlSupport.classify(error),
      message: `${operation} failed: ${sqlSupport.describeError(error)}`,
      cause: error
    })
