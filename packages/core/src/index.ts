/**
 * The one error for a programmer's mistake (a bad option or argument), shared by every package.
 *
 * @since 0.1.0
 */
export * as BadArgument from "./BadArgument.js"

/**
 * @since 0.1.0
 */
export * as SnapshotStrategy from "./SnapshotStrategy.js"

/**
 * @since 0.1.0
 */
export * as SnapshotStrategyError from "./SnapshotStrategyError.js"
