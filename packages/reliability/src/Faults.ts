/**
 * Fault injection for the reliability suite: wrappers around a `SnapshotStore`, an `EventStore` or a
 * `SqlClient` that fail a chosen share of calls, add latency, hang, or answer corrupt snapshots / rows.
 * Every decision comes from a seeded PCG generator, so a run is reproducible from its seed (given the same
 * order of calls), and every injected fault is counted.
 *
 * @since 0.1.0
 */
export { type Corruption, corruptions, corruptSnapshot } from "./internal/corruption.js"
export { type Counters, type Decision, type Injector, makeInjector, type Plan } from "./internal/injector.js"
export { countFullReplays, layerCountFullReplays, makeReplayGauge, type ReplayGauge } from "./internal/replayGauge.js"
export { connection, layerSqlClient, type SqlClientOptions } from "./internal/sqlFaults.js"
export {
  eventStore,
  layerEventStore,
  layerSnapshotStore,
  snapshotStore,
  type SnapshotStoreOptions
} from "./internal/storeFaults.js"
