import { Snapshot } from "../Snapshot.js"

/**
 * The same snapshot with another state; the fields were validated when the original was built (checks are
 * skipped; the state, `Schema.Unknown`, is kept by reference and never walked).
 */
export const withState = (snapshot: Snapshot, state: unknown): Snapshot =>
  new Snapshot({
    aggregateType: snapshot.aggregateType,
    aggregateId: snapshot.aggregateId,
    version: snapshot.version,
    schemaVersion: snapshot.schemaVersion,
    createdAt: snapshot.createdAt,
    metadata: snapshot.metadata,
    state
  }, { disableChecks: true })
