/**
 * A snapshot: the Schema-encoded state of one aggregate at one version of its event stream.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A JSON value, as a snapshot's `state` and `metadata` hold it.
 *
 * @since 0.1.0
 * @category models
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * The key of one aggregate's snapshot history.
 *
 * @since 0.1.0
 * @category models
 */
export class SnapshotKey extends Schema.Class<SnapshotKey>("@effect-snapshots/store/SnapshotKey")({
  aggregateType: Schema.NonEmptyString,
  aggregateId: Schema.NonEmptyString
}) {}

const infoFields = {
  aggregateType: Schema.NonEmptyString,
  aggregateId: Schema.NonEmptyString,
  /** The version of the last event folded into the state; a stream's first event has version 1. */
  version: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** The version of the state's shape (the aggregate's `schemaVersion`), for snapshot migrations. */
  schemaVersion: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  createdAt: Schema.DateTimeUtc,
  metadata: Schema.Record(Schema.String, Schema.Unknown)
}

/**
 * A snapshot without its state, as `SnapshotStore.list` returns the history.
 *
 * @since 0.1.0
 * @category models
 */
export class SnapshotInfo extends Schema.Class<SnapshotInfo>("@effect-snapshots/store/SnapshotInfo")(infoFields) {}

/**
 * A state stored compressed. Only the `SnapshotStore.compressed` decorator produces it (on save) and
 * consumes it (on load); backends persist it as bytes (`bytea` in Postgres) next to the algorithm.
 *
 * @since 0.1.0
 * @category models
 */
export class CompressedState extends Schema.TaggedClass<CompressedState>("@effect-snapshots/store/CompressedState")(
  "CompressedState",
  {
    algorithm: Schema.Literals(["gzip", "brotli"]),
    bytes: Schema.Uint8Array
  }
) {}

/**
 * A snapshot. `state` is a JSON value (the aggregate's Schema-encoded state); below the `compressed`
 * decorator it may be a `CompressedState`. `state` is typed `unknown` so that building a snapshot of a
 * large state does not walk it; stores check it is JSON when saving.
 *
 * @since 0.1.0
 * @category models
 */
export class Snapshot extends Schema.Class<Snapshot>("@effect-snapshots/store/Snapshot")({
  ...infoFields,
  state: Schema.Unknown
}) {}
