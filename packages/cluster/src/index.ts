/**
 * @since 1.0.0
 */
export * as EventSourcedEntity from "./EventSourcedEntity.js"

/**
 * The error an event-sourced entity adds to every command: ownership lost, store unavailable, corrupt, invalid.
 *
 * @since 1.0.0
 */
export * as EntityError from "./EntityError.js"

/**
 * One in-process runner and the memory stores, for entity tests without a cluster or a database.
 *
 * @since 1.0.0
 */
export * as TestCluster from "./TestCluster.js"
