/**
 * @since 0.1.0
 */
export * as EventStore from "./EventStore.js"

/**
 * The EventStore on PostgreSQL through `@effect/sql`: one-statement appends, keyset-paged reads, its own migrations.
 *
 * @since 0.1.0
 */
export * as SqlEventStore from "./SqlEventStore.js"
