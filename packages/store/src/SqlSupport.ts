/**
 * What the SQL stores (`SqlSnapshotStore` here, `SqlEventStore` in the loader) do the same way: migrations
 * under an advisory lock, SQLSTATE classification, driver-error descriptions, and a savepoint around each
 * statement inside the caller's transaction. Everything works on `sql.withoutTransforms()`, so an
 * application's name transforms cannot break a store's queries.
 *
 * @since 0.2.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/sqlSupport.js"

/**
 * How a store maps a failed statement: SQLSTATE class 23 (integrity constraint violation) is a `Conflict`,
 * class 22 (data exception: a value the column cannot hold) is `InvalidInput`, anything else (a lost
 * connection, a timeout, a missing table, a trigger's exception) is `Unavailable`.
 *
 * @since 0.2.0
 * @category models
 */
export type Classification = "Conflict" | "InvalidInput" | "Unavailable"

/**
 * The SQLSTATE of a driver error somewhere in a cause chain (`pg` and PGlite put it in `code`).
 *
 * @since 0.2.0
 * @category errors
 */
export const sqlState: (error: unknown) => string | undefined = internal.sqlState

/**
 * The constraint a driver error names, somewhere in a cause chain (`pg` puts it in `constraint`).
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
 * See `Classification`.
 *
 * @since 0.2.0
 * @category errors
 */
export const classify: (error: unknown) => Classification = internal.classify

/**
 * Runs `effect` under a savepoint (a nested `sql.withTransaction`) when the fiber is inside a transaction
 * (`sql.withTransaction` or a SQL unit of work), as is otherwise: a statement Postgres refuses then rolls back
 * to the savepoint and leaves the caller's transaction usable. Costs two round trips inside a transaction,
 * none outside.
 *
 * @since 0.2.0
 * @category combinators
 */
export const withSavepoint: (
  sql: SqlClient.SqlClient
) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R> = internal.withSavepoint

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
