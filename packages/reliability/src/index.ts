/**
 * Fault injection wrappers (SnapshotStore, EventStore, SqlClient), seeded and counted.
 *
 * @since 0.1.0
 */
export * as Faults from "./Faults.js"

/**
 * The figures of the reliability suite, collected across test files and printed in one block.
 *
 * @since 0.1.0
 */
export * as Figures from "./Figures.js"
