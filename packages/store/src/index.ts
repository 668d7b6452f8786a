/**
 * @since 1.1.0
 * @category modules
 */
export * as RedisSnapshotStore from "./RedisSnapshotStore.js"

/**
 * @since 0.1.0
 */
export * as Snapshot from "./Snapshot.js"

/**
 * @since 0.1.0
 */
export * as SnapshotStore from "./SnapshotStore.js"

/**
 * @since 1.1.0
 * @category modules
 */
export * as SnapshotStoreBackend from "./SnapshotStoreBackend.js"

/**
 * @since 0.2.0
 */
export * as SnapshotStoreError from "./SnapshotStoreError.js"

/**
 * @since 0.2.0
 */
export * as Storable from "./Storable.js"

/**
 * @since 0.2.0
 */
export * as UnitOfWork from "./UnitOfWork.js"

/**
 * @since 1.1.0
 * @category modules
 */
export * as UnitOfWorkError from "./UnitOfWorkError.js"
