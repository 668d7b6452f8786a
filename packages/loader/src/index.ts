/**
 * @since 0.1.0
 */
export * as EventStore from "./EventStore.js"
