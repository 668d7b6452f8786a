/**
 * The SQL snapshot store as a `SnapshotStoreBackend`: primitive statements on the table's rows. The store's
 * logic (input checks, encoding, the unit-of-work policy "join", error reasons, spans, failure metrics) is
 * `SnapshotStoreBackend.makeEncoded`'s.
 *
 * @internal
 */
import { SnapshotKey } from "@effect-snapshots/store/Snapshot"
import type * as SnapshotStoreBackend from "@effect-snapshots/store/SnapshotStoreBackend"
import { SnapshotStoreError } from "@effect-snapshots/store/SnapshotStoreError"
import * as SnapshotStoreErrors from "@effect-snapshots/store/SnapshotStoreError"
import * as Storable from "@effect-snapshots/store/Storable"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { SchemaError } from "effect/Schema"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import * as errors from "../snapshotErrors.js"
import * as sqlSupport from "../sqlSupport.js"
import * as rows from "./rows.js"
import { saveIfDueName } from "./schema.js"

/** What the statements fail with: the client's error, or the store's own (a refused write, a corrupt row). */
type Failure = SqlError | SnapshotStoreError

/** @internal */
export interface BackendOptions {
  readonly table: string
  readonly pageSize: number
  readonly databaseClock: boolean
}

/** How often the store measures the database's time again (monotonic nanoseconds). */
const measureEvery = 60_000_000_000n

const toError = (operation: string, error: Failure): SnapshotStoreError =>
  error instanceof SnapshotStoreError ? error : errors.fromSqlError(operation)(error)

/** @internal */
export const make = (
  sql: SqlClient.SqlClient,
  options: BackendOptions
): SnapshotStoreBackend.Encoded<Failure> => {
  const { databaseClock, pageSize, table } = options
  const t = sql(table)

  // Inside the caller's transaction (`sql.withTransaction`, or a unit of work on SQL), every statement runs
  // under a savepoint (a nested `withTransaction`): a statement Postgres refuses rolls back to it and
  // leaves the caller's transaction usable. Outside one, a statement is atomic on its own (one round trip).
  // Inside another client's transaction only (another pool: effect/sql's transactions are per client), a
  // write would commit at once, before anyone knows whether that transaction commits: it is refused
  // (`InvalidInput`, which `resilient` neither retries nor counts) and nothing is written; reads run.
  const run = <A>(
    query: Effect.Effect<ReadonlyArray<A>, SqlError>,
    write?: () => string
  ): Effect.Effect<ReadonlyArray<A>, Failure> =>
    Effect.flatMap(sqlSupport.transactionSite(sql), (site): Effect.Effect<ReadonlyArray<A>, Failure> => {
      if (site === "Other" && write !== undefined) {
        return Effect.fail(
          new SnapshotStoreError({
            reason: "InvalidInput",
            message: `SqlSnapshotStore: ${write()} refused: ${sqlSupport.otherTransactionMessage}`
          })
        )
      }
      return site === "Own" ? sql.withTransaction(query) : query
    })

  const decoded = <A>(operation: string, effect: Effect.Effect<A, SchemaError>) =>
    Effect.mapError(effect, SnapshotStoreErrors.fromSchemaError(operation))

  const snapshotColumns = sql.literal(rows.snapshotColumns)
  const infoColumns = sql.literal(rows.infoColumns)

  const firstSnapshot = (operation: string) => (found: ReadonlyArray<unknown>) =>
    Effect.flatMap(
      decoded(operation, rows.decodeSnapshotRows(found)),
      (decodedRows) => decodedRows.length === 0 ? Effect.succeedNone : Effect.asSome(rows.toSnapshot(decodedRows[0]!))
    )

  const count = (operation: string) => (found: ReadonlyArray<unknown>) =>
    Effect.map(decoded(operation, rows.decodeCountRows(found)), ([row]) => row.deleted)

  // One argument list for `save`'s INSERT and `saveIfDue`'s function, in the column order both take. The
  // database clock stamps `now()` (the transaction's start).
  const values = (row: SnapshotStoreBackend.EncodedSnapshot) => {
    const state = row.state
    return sql`${row.aggregateType}, ${row.aggregateId}, ${row.version}::bigint, ${row.schemaVersion}::bigint,
  ${state.encoding}, ${state.encoding === "json" ? state.json : null}::text,
  ${state.encoding === "json" ? null : state.bytes}::bytea,
  ${databaseClock ? sql.literal("now()") : sql`${new Date(row.createdAt).toISOString()}::timestamptz`},
  ${row.metadata}::jsonb`
  }

  const describeSave = (row: SnapshotStoreBackend.EncodedSnapshot) => () =>
    `save of ${row.aggregateType} ${Storable.show(row.aggregateId)} at version ${row.version}`

  // Atomic in the function (migration 0002/0003). Outside a transaction its lock lives for this one statement;
  // inside the caller's (a unit of work's inline snapshot, under a savepoint) it is held until that transaction
  // ends, which it must: until then the row is invisible to everyone else, and a second caller that did not wait
  // would write its own. Concurrent `saveIfDue` calls on that aggregate wait that long; other aggregates and
  // plain `save`s never wait.
  const saveIfDueFn = sql.literal(saveIfDueName(table))

  type Cursor = Option.Option<readonly [string, string]>
  const page = (aggregateType: string | undefined, after: Cursor) =>
    Effect.flatMap(
      run(
        aggregateType === undefined
          ? Option.match(after, {
            onNone: () =>
              sql`SELECT DISTINCT aggregate_type, aggregate_id FROM ${t}
ORDER BY aggregate_type, aggregate_id LIMIT ${pageSize}`,
            onSome: ([type, id]) =>
              sql`SELECT DISTINCT aggregate_type, aggregate_id FROM ${t}
WHERE (aggregate_type, aggregate_id) > (${type}, ${id})
ORDER BY aggregate_type, aggregate_id LIMIT ${pageSize}`
          })
          : Option.match(after, {
            onNone: () =>
              sql`SELECT DISTINCT aggregate_type, aggregate_id FROM ${t} WHERE aggregate_type = ${aggregateType}
ORDER BY aggregate_id LIMIT ${pageSize}`,
            onSome: ([, id]) =>
              sql`SELECT DISTINCT aggregate_type, aggregate_id FROM ${t}
WHERE aggregate_type = ${aggregateType} AND aggregate_id > ${id}
ORDER BY aggregate_id LIMIT ${pageSize}`
          })
      ),
      (found) => decoded("aggregates", rows.decodeKeyRows(found))
    )

  return {
    name: "sql",
    transactions: "join",
    toError,
    ...(databaseClock
      ? { now: databaseNow(run(sql`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS millis`)) }
      : {}),
    // ON CONFLICT DO NOTHING: saving a stored version again is a no-op, and an older version never hides a
    // newer one because `newest` reads the highest version.
    insert: (row) =>
      Effect.asVoid(run(
        sql`INSERT INTO ${t}
  (aggregate_type, aggregate_id, version, schema_version, encoding, state_text, state_bytes, created_at, metadata)
VALUES (${values(row)}) ON CONFLICT DO NOTHING`,
        describeSave(row)
      )),
    insertIfDue: (row, dueFrom) =>
      Effect.flatMap(
        run(sql`SELECT ${saveIfDueFn}(${values(row)}, ${dueFrom}::bigint) AS written`, describeSave(row)),
        (found) =>
          Effect.map(
            decoded("saveIfDue", rows.decodeWrittenRows(found)),
            ([written]) => written.written ? "Written" as const : "AlreadyCovered" as const
          )
      ),
    // One query, one backward probe of the primary key.
    newest: (aggregateType, aggregateId, maxVersion) =>
      Effect.flatMap(
        run(
          maxVersion === undefined
            ? sql`SELECT ${snapshotColumns} FROM ${t}
WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId}
ORDER BY version DESC LIMIT 1`
            : sql`SELECT ${snapshotColumns} FROM ${t}
WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId} AND version <= ${maxVersion}
ORDER BY version DESC LIMIT 1`
        ),
        firstSnapshot("load")
      ),
    history: (aggregateType, aggregateId) =>
      Effect.flatMap(
        run(sql`SELECT ${infoColumns} FROM ${t}
WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId}
ORDER BY version ASC`),
        (found) => Effect.map(decoded("list", rows.decodeInfoRows(found)), (infos) => infos.map(rows.toInfo))
      ),
    remove: (aggregateType, aggregateId, version) =>
      Effect.flatMap(
        run(
          version === undefined
            ? sql`WITH d AS (
  DELETE FROM ${t} WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId} RETURNING 1
) SELECT count(*)::int AS deleted FROM d`
            : sql`WITH d AS (
  DELETE FROM ${t}
  WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId} AND version = ${version}
  RETURNING 1
) SELECT count(*)::int AS deleted FROM d`,
          () => `delete of ${aggregateType} ${Storable.show(aggregateId)}`
        ),
        count("delete")
      ),
    latestOfType: (aggregateType) =>
      Effect.flatMap(
        run(sql`SELECT ${snapshotColumns} FROM ${t} WHERE aggregate_type = ${aggregateType}
ORDER BY created_at DESC, version DESC, aggregate_id DESC LIMIT 1`),
        firstSnapshot("latestForType")
      ),
    // Keyset pagination: each page starts after the last key of the previous one.
    keys: (aggregateType) =>
      Stream.paginate(Option.none() as Cursor, (after) =>
        Effect.map(page(aggregateType, after), (found) => {
          const keys = found.map((row) =>
            new SnapshotKey({ aggregateType: row.aggregate_type, aggregateId: row.aggregate_id }, {
              disableChecks: true
            })
          )
          const last = found[found.length - 1]
          const next: Option.Option<Cursor> = found.length < pageSize || last === undefined
            ? Option.none()
            : Option.some(Option.some([last.aggregate_type, last.aggregate_id] as const))
          return [keys, next] as const
        })),
    // Set-based: rank each aggregate's snapshots newest first, delete those past `keepLast` that are (when an
    // age is given) created before the cutoff, which comes from Effect's Clock.
    prune: ({ aggregateType, cutoff, keepLast }) => {
      // A cutoff before any representable time: nothing is old enough.
      if (cutoff !== undefined && !(cutoff > -8.64e15)) return Effect.succeed(0)
      const before = cutoff === undefined ? null : new Date(cutoff).toISOString()
      const type = aggregateType ?? null
      return Effect.flatMap(
        run(
          sql`WITH ranked AS (
  SELECT aggregate_type, aggregate_id, version, created_at,
         row_number() OVER (PARTITION BY aggregate_type, aggregate_id ORDER BY version DESC) AS rank
  FROM ${t}
  WHERE ${type}::text IS NULL OR aggregate_type = ${type}::text
), d AS (
  DELETE FROM ${t} AS s USING ranked AS r
  WHERE s.aggregate_type = r.aggregate_type AND s.aggregate_id = r.aggregate_id AND s.version = r.version
    AND r.rank > ${keepLast}
    AND (${before}::timestamptz IS NULL OR r.created_at < ${before}::timestamptz)
  RETURNING 1
) SELECT count(*)::int AS deleted FROM d`,
          () => "prune"
        ),
        count("prune")
      )
    }
  }
}

/**
 * The database's time without a round trip per call: measured (clock_timestamp(), assumed at the middle of the
 * round trip) at most once a minute, and carried forward on the caller's monotonic clock, which no step of its
 * wall clock moves. While the database cannot be asked, the last measure is carried forward, or, without one,
 * the caller's clock stands in.
 */
const databaseNow = (query: Effect.Effect<ReadonlyArray<unknown>, Failure>): Effect.Effect<DateTime.Utc> => {
  let measured: { readonly millis: number; readonly at: bigint } | undefined
  const monotonic = Clock.clockWith((c) => c.monotonicTimeNanos)
  const measure = Effect.gen(function*() {
    const before = yield* monotonic
    const found = yield* query
    const [row] = yield* rows.decodeNowRows(found)
    const after = yield* monotonic
    measured = { millis: row.millis + Number(after - before) / 2e6, at: after }
  })
  return Effect.gen(function*() {
    const current = yield* monotonic
    // A monotonic time before the measure's: the caller runs on another Clock than the measure did.
    if (measured === undefined || current < measured.at || current - measured.at > measureEvery) {
      yield* Effect.ignore(measure)
    }
    const at = yield* monotonic
    if (measured === undefined || at < measured.at) return yield* DateTime.now
    return DateTime.makeUnsafe(Math.round(measured.millis + Number(at - measured.at) / 1e6))
  })
}
