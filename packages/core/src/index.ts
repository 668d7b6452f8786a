/**
 * @since 0.1.0
 */
export * as SnapshotStrategy from "./SnapshotStrategy.js"
