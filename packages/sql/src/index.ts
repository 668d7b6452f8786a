/**
 * The EventStore on PostgreSQL through `effect/sql`: one-statement appends, keyset-paged reads, its own migrations,
 * and the repository's one-statement cold read (`ColdRead`) beside it.
 *
 * @since 0.1.0
 * @category modules
 */
export * as SqlEventStore from "./SqlEventStore.js"

/**
 * The SnapshotStore on PostgreSQL through `effect/sql`, with its migrations and the Citus layout.
 *
 * @since 0.1.0
 * @category modules
 */
export * as SqlSnapshotStore from "./SqlSnapshotStore.js"

/**
 * The helpers both SQL stores share: SQLSTATE classification, transaction sites, savepoints, migrations, Citus.
 *
 * @since 0.2.0
 * @category modules
 */
export * as SqlSupport from "./SqlSupport.js"

/**
 * The unit of work on a `SqlClient`: one transaction, savepoints for nested units, after-commit actions.
 *
 * @since 0.2.0
 * @category modules
 */
export * as SqlUnitOfWork from "./SqlUnitOfWork.js"
