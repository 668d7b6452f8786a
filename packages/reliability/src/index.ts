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

/**
 * The aggregate the suite drives, and an independent full replay that checks a stream on the way.
 *
 * @since 0.1.0
 */
export * as Account from "./Account.js"

/**
 * The checks run on an aggregate after a crash, a concurrent run or a random history.
 *
 * @since 0.1.0
 */
export * as Checks from "./Checks.js"

/**
 * A small seeded generator (PCG) for the suite's reproducible random choices.
 *
 * @since 0.1.0
 */
export * as Pcg from "./Pcg.js"

/**
 * A TypeScript script in a child Node process: the binary and the arguments the suite's workers run with.
 *
 * @since 0.1.0
 */
export * as NodeProcess from "./NodeProcess.js"
