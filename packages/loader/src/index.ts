/**
 * @since 0.1.0
 * @category modules
 */
export * as EventStore from "./EventStore.js"

/**
 * The checks and encoding every EventStore backend shares (keys, counts, appends, the `streams` listing).
 *
 * @since 1.1.0
 * @category modules
 */
export * as EventStoreInput from "./EventStoreInput.js"

/**
 * The repository's optional one-go cold read (newest snapshot and first page of events), found in context.
 *
 * @since 1.1.0
 * @category modules
 */
export * as ColdRead from "./ColdRead.js"

/**
 * Aggregate definitions: state and event Schemas, a pure fold, snapshot migrations and event upcasters.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Aggregate from "./Aggregate.js"

/**
 * Typed snapshot migrations: the state Schema of each old version and a typed function to the next, and how
 * much a repository checks migrated states against a full replay.
 *
 * @since 1.1.0
 */
export * as Migration from "./Migration.js"

/**
 * The Effect Metrics recorded by the repository (hits, misses, replayed events, load time, writes, failures).
 *
 * @since 0.1.0
 * @category modules
 */
export * as SnapshotMetrics from "./SnapshotMetrics.js"

/**
 * The event-sourced repository: load from snapshot + tail, save with a snapshot decision after the commit.
 *
 * @since 0.1.0
 * @category modules
 */
export * as EventSourcedRepository from "./EventSourcedRepository.js"

/**
 * Projections rebuilt from a snapshot and the events after it, or from a global position.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Projection from "./Projection.js"

/**
 * A registry of the application's aggregates, for per-type strategies from Config and the operator tools.
 *
 * @since 0.3.0
 * @category modules
 */
export * as Aggregates from "./Aggregates.js"
