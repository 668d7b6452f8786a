/**
 * What the SQL stores (`SqlSnapshotStore` here, `SqlEventStore` in the loader) do the same way: migrations
 * under an advisory lock, SQLSTATE classification, driver-error descriptions, a savepoint around each
 * statement inside the caller's transaction, and the Citus checks of `distributed: true` (extension,
 * coordinator, distribution by `aggregate_id` in the default colocation group). Everything works on `sql.withoutTransforms()`, so an
 * application's name transforms cannot break a store's queries.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as internal from "./internal/sqlSupport.js"

/**
 * How a store maps a failed statement: SQLSTATE class 23 (integrity constraint violation) is a `Conflict`,
 * class 22 (data exception: a value the column cannot hold) is `InvalidInput`, anything else (a lost
 * connection, a timeout, a missing table, a trigger's exception) is `Unavailable`. Without a SQLSTATE, a
 * `SqlError` whose reason is `UniqueViolation` or `ConstraintError` is a `Conflict`.
 *
 * @since 0.2.0
 * @category models
 */
export type Classification = "Conflict" | "InvalidInput" | "Unavailable"

/**
 * The SQLSTATE of a driver error somewhere in a cause chain: `@effect/sql-pg` 4 puts the server's fields
 * (`code`, `constraint`) on the cause of the `SqlError`'s `reason` (`error.cause.cause.code`).
 *
 * @since 0.2.0
 * @category errors
 */
export const sqlState: (error: unknown) => string | undefined = internal.sqlState

/**
 * The constraint a driver error names, somewhere in a cause chain (as `sqlState`; a `UniqueViolation` reason
 * also carries it), or the one its message names when the server sent no constraint field (a Citus coordinator
 * relaying a worker's error, where `@effect/sql-pg` 4 reports "unknown").
 *
 * @since 0.2.0
 * @category errors
 */
export const constraintOf: (error: unknown) => string | undefined = internal.constraintOf

/**
 * An error's message followed by its causes' and the SQLSTATE (`Failed to execute statement: relation "x"
 * does not exist (SQLSTATE 42P01)`), so the driver's words reach the caller.
 *
 * @since 0.2.0
 * @category errors
 */
export const describeError: (error: unknown) => string = internal.describeError

/**
 * Whether a driver refused a server message as larger than its limit (`@effect/sql-pg` 4's `maxMessageSize`,
 * 16 MiB by default: "Message length N exceeds maxMessageSize M", under a `ConnectionError` reason; the
 * connection is dropped). A row that big cannot be read on that client, and retrying cannot help:
 * `SqlSnapshotStore` answers it as `Corrupt`.
 *
 * @since 0.4.0
 * @category errors
 */
export const isMessageTooLarge: (error: unknown) => boolean = internal.isMessageTooLarge

/**
 * See `Classification`.
 *
 * @since 0.2.0
 * @category errors
 */
export const classify: (error: unknown) => Classification = internal.classify

/**
 * Runs `effect` under a savepoint (a nested `sql.withTransaction`) when the fiber is inside a transaction of
 * this client (`sql.withTransaction` or a SQL unit of work: `sql.transactionService` is in context), as is
 * otherwise: a statement Postgres refuses then rolls back
 * to the savepoint and leaves the caller's transaction usable. Costs two round trips inside a transaction,
 * none outside. A savepoint that cannot be opened or released (a dropped connection) is a typed `SqlError`
 * (`effect/sql` makes a failed RELEASE SAVEPOINT a defect), so a store's errors stay the ones it promises.
 *
 * @since 0.2.0
 * @category combinators
 */
export const withSavepoint: (
  sql: SqlClient.SqlClient
) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R> = internal.withSavepoint

/**
 * Where the fiber's SQL transaction is, seen from one client: `Own` (a transaction of this client is open:
 * its statements run on that transaction's connection), `Other` (only another client's transaction is open, a
 * `sql.withTransaction` on another pool: this client's statements would run outside it and commit on their
 * own, before anyone knows whether that transaction commits), or `None`.
 *
 * @since 1.1.0
 * @category models
 */
export type TransactionSite = "None" | "Own" | "Other"

/**
 * The `TransactionSite` of the current fiber for `sql` (context lookups only). The SQL stores refuse to write
 * at `Other`. It reads `effect/sql`'s internal record of the innermost transaction by its key, as
 * `UnitOfWork.enclosing` does.
 *
 * @since 1.1.0
 * @category combinators
 */
export const transactionSite: (sql: SqlClient.SqlClient) => Effect.Effect<TransactionSite> = internal.transactionSite

/**
 * The reason the SQL stores give when they refuse a write at `TransactionSite` `Other` (one line; the store
 * puts its operation and key first).
 *
 * @since 1.1.0
 * @category errors
 */
export const otherTransactionMessage: string = internal.otherTransactionMessage

/**
 * @since 0.2.0
 * @category models
 */
export interface MigrateOptions {
  readonly sql: SqlClient.SqlClient
  /** The table that records the migrations (never `effect_sql_migrations`, the application's). */
  readonly migrationsTable: string
  /** `Migrator.fromRecord` input: keys must match `^\d+_name`. */
  readonly migrations: Record<string, Effect.Effect<unknown, SqlError>>
}

/**
 * A failed migration run (a statement failed, or the Migrator found its records inconsistent).
 *
 * @since 0.2.0
 * @category errors
 */
export const MigrationFailed: typeof internal.MigrationFailed = internal.MigrationFailed

/**
 * @since 0.2.0
 * @category errors
 */
export type MigrationFailed = internal.MigrationFailed

/**
 * Runs the migrations in one transaction that first takes a transaction-level advisory lock on the
 * migrations table's name (`pg_advisory_xact_lock`): processes starting at once wait for each other instead
 * of racing on `CREATE TABLE`, and the second finds the migrations done. Postgres (and PGlite) only.
 *
 * @since 0.2.0
 * @category migrations
 */
export const migrate: (options: MigrateOptions) => Effect.Effect<void, MigrationFailed> = internal.migrate

/**
 * Why a connection cannot distribute a table: the `citus` extension is not installed in its database
 * (`NoCitus`), or it is a Citus worker, where a migration would create a table only that worker sees
 * (`Worker`).
 *
 * @since 0.3.0
 * @category citus
 */
export type CitusProblem = "NoCitus" | "Worker"

/**
 * How Citus distributes a table: `method` as in `pg_dist_partition.partmethod` (`h` hash, `n` reference or
 * none), `column` the distribution column (null for a table without one).
 *
 * @since 0.3.0
 * @category citus
 */
export interface CitusDistribution {
  readonly method: string
  readonly column: string | null
}

/**
 * What `distributeByAggregateId` did.
 *
 * @since 0.3.0
 * @category citus
 */
export type CitusDistributed =
  | { readonly _tag: "Distributed" }
  | { readonly _tag: "AlreadyDistributed" }
  | ({ readonly _tag: "OtherKind" } & CitusDistribution)

/**
 * Whether the `citus` extension is installed in the connection's database.
 *
 * @since 0.3.0
 * @category citus
 */
export const hasCitus: (sql: SqlClient.SqlClient) => Effect.Effect<boolean, SqlError> = internal.hasCitus

/**
 * What stands in the way of distributing a table on this connection (see `CitusProblem`), or undefined on a
 * Citus coordinator. A store checks it before its migrations and maps it to its own error.
 *
 * @since 0.3.0
 * @category citus
 */
export const citusCoordinatorProblem: (
  sql: SqlClient.SqlClient
) => Effect.Effect<CitusProblem | undefined, SqlError> = internal.citusCoordinatorProblem

/**
 * How Citus distributes `table` (a name as `regclass` reads it: quoted, optionally schema-qualified); none
 * for a table Citus does not know. Needs the `citus` extension.
 *
 * @since 0.3.0
 * @category citus
 */
export const citusDistribution: (
  sql: SqlClient.SqlClient,
  table: string
) => Effect.Effect<Option.Option<CitusDistribution>, SqlError> = internal.citusDistribution

/**
 * Whether a distribution is the one the stores need: hash by `aggregate_id`.
 *
 * @since 0.3.0
 * @category citus
 */
export const isByAggregateId: (distribution: CitusDistribution) => boolean = internal.isByAggregateId

/**
 * Hash-distributes `table` by `aggregate_id` in Citus' default colocation group (where both stores' tables
 * go: their distribution columns are `text COLLATE "C"`) and drops the coordinator's copy of rows it had; a
 * table already distributed by `aggregate_id` is left as it is, one distributed otherwise is reported
 * (`OtherKind`) and left too. Run it under the migrations' advisory lock, on the coordinator.
 *
 * @since 0.3.0
 * @category citus
 */
export const distributeByAggregateId: (
  sql: SqlClient.SqlClient,
  table: string
) => Effect.Effect<CitusDistributed, SqlError> = internal.distributeByAggregateId
