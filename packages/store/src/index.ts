/**
 * @since 0.1.0
 */
export * as Snapshot from "./Snapshot.js"

/**
 * @since 0.1.0
 */
export * as SnapshotStore from "./SnapshotStore.js"

/**
 * @since 0.1.0
 */
export * as SqlSnapshotStore from "./SqlSnapshotStore.js"
