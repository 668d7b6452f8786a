/**
 * The snapshots table's rows: explicit row Schemas (the driver's column types decoded here, whatever the
 * client's transforms or parsers), and the rows as the encoded rows of `SnapshotStoreBackend`.
 *
 * @internal
 */
import type { EncodedInfo, EncodedSnapshot, EncodedState } from "@effect-snapshots/store/SnapshotStoreBackend"
import type { SnapshotStoreError } from "@effect-snapshots/store/SnapshotStoreError"
import * as errors from "@effect-snapshots/store/SnapshotStoreError"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"

// `bigint` (int8) arrives as a bigint from `@effect/sql-pg` 4 (as a number or a numeric string from other
// drivers and type parsers); a value beyond a safe integer is refused.
const Int = Schema.Union([
  Schema.Int,
  Schema.BigInt.pipe(Schema.decodeTo(Schema.Int, {
    decode: SchemaGetter.transform((n: bigint) => Number(n)),
    encode: SchemaGetter.transform((n: number) => BigInt(n))
  })),
  Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int))
])
// `timestamptz` arrives as a Date from `@effect/sql-pg` (as an ISO string from drivers that do not parse it).
const Timestamp = Schema.Union([Schema.DateTimeUtcFromDate, Schema.DateTimeUtcFromString])

const InfoRow = Schema.Struct({
  aggregate_type: Schema.String,
  aggregate_id: Schema.String,
  version: Int,
  schema_version: Int,
  created_at: Timestamp,
  // jsonb columns (and the jsonb state of old rows) are read as text and parsed by the store, so the result does
  // not depend on the driver's (process-global, replaceable) jsonb parser, and no Schema ever walks a state.
  metadata: Schema.String
})
type InfoRow = typeof InfoRow.Type

const SnapshotRow = Schema.Struct({
  ...InfoRow.fields,
  encoding: Schema.Literals(["json", "gzip", "brotli"]),
  state: Schema.NullOr(Schema.String),
  // bytea: a Uint8Array from `@effect/sql-pg` 4 (a Buffer, a Uint8Array too, from other drivers).
  state_bytes: Schema.NullOr(Schema.Uint8Array)
})
type SnapshotRow = typeof SnapshotRow.Type

const KeyRow = Schema.Struct({ aggregate_type: Schema.String, aggregate_id: Schema.String })

/** @internal */
export const decodeSnapshotRows = Schema.decodeUnknownEffect(Schema.Array(SnapshotRow))
/** @internal */
export const decodeSnapshotRow = Schema.decodeUnknownEffect(SnapshotRow)
/** @internal */
export const decodeInfoRows = Schema.decodeUnknownEffect(Schema.Array(InfoRow))
/** @internal */
export const decodeKeyRows = Schema.decodeUnknownEffect(Schema.Array(KeyRow))
/** @internal */
export const decodeCountRows = Schema.decodeUnknownEffect(Schema.Tuple([Schema.Struct({ deleted: Int })]))
/** @internal */
export const decodeWrittenRows = Schema.decodeUnknownEffect(
  Schema.Tuple([Schema.Struct({ written: Schema.Boolean })])
)
/** @internal */
export const decodeNowRows = Schema.decodeUnknownEffect(
  Schema.Tuple([Schema.Struct({ millis: Schema.Union([Schema.Finite, Schema.NumberFromString]) })])
)

// A plain state is stored as its JSON text in `state_text` (migration 0003); rows written before that keep it
// in the jsonb `state`, read as text here. Reading `state_text` as it is spares the server the jsonb-to-text
// conversion, which was a fifth of a restore of a 50 KB state.
const stateColumn = `coalesce(state_text, state::text) AS state`

/** The columns of an info row. @internal */
export const infoColumns = `aggregate_type, aggregate_id, version, schema_version, created_at,
  metadata::text AS metadata`

/** The columns of a snapshot row. @internal */
export const snapshotColumns = `${infoColumns}, encoding, ${stateColumn}, state_bytes`

/** The columns of the cold read's snapshot branch (the key is the statement's parameters) and their types. @internal */
export const sourceColumns =
  `version, schema_version, created_at, metadata::text AS metadata, encoding, ${stateColumn}, state_bytes`
/** @internal */
export const sourceColumnTypes: ReadonlyArray<string> = [
  "bigint",
  "bigint",
  "timestamptz",
  "text",
  "text",
  "text",
  "bytea"
]

/** An info row as the backend's encoded info. @internal */
export const toInfo = (row: InfoRow): EncodedInfo => ({
  aggregateType: row.aggregate_type,
  aggregateId: row.aggregate_id,
  version: row.version,
  schemaVersion: row.schema_version,
  createdAt: DateTime.toEpochMillis(row.created_at),
  metadata: row.metadata
})

const toState = (row: SnapshotRow): Effect.Effect<EncodedState, SnapshotStoreError> => {
  if (row.encoding === "json") {
    return row.state === null
      ? Effect.fail(errors.corrupt("a json-encoded snapshot row has no state"))
      : Effect.succeed({ encoding: "json", json: row.state })
  }
  const bytes = row.state_bytes
  if (bytes === null) return Effect.fail(errors.corrupt(`a ${row.encoding}-encoded snapshot row has no bytes`))
  // Callers get a plain Uint8Array: a driver's Buffer is viewed, not copied.
  return Effect.succeed({
    encoding: row.encoding,
    bytes: bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  })
}

/** A snapshot row as the backend's encoded snapshot. @internal */
export const toSnapshot = (row: SnapshotRow): Effect.Effect<EncodedSnapshot, SnapshotStoreError> =>
  Effect.map(toState(row), (state) => ({ ...toInfo(row), state }))

/** The size of a row's stored state in bytes: its JSON text, or its compressed bytes. @internal */
export const stateBytes = (row: SnapshotRow): number =>
  row.state !== null ? row.state.length : row.state_bytes?.byteLength ?? 0
