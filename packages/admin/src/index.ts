/**
 * The admin CLI: `Cli.run(registry)` / `Cli.runMain(registry)`, mounted in an application's bin.
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * The errors of the admin commands and their exit codes.
 *
 * @since 0.1.0
 */
export * as AdminError from "./AdminError.js"

/**
 * Per-type statistics, the stale share and a prune preview over SqlSnapshotStore's table.
 *
 * @since 0.1.0
 */
export * as SqlSnapshotStats from "./SqlSnapshotStats.js"
