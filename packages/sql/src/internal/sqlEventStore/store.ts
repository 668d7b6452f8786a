/** The SQL event store itself: the statements on one table and the service that runs them. */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import type { AppendResult, EventStoreService, StoredEvent, StreamInfo } from "@effect-snapshots/loader/EventStore"
import { ConcurrencyConflict, EventStore, EventStoreError } from "@effect-snapshots/loader/EventStore"
import {
  checkCount,
  checkLimit,
  checkStreamKey,
  encodeAppend,
  type EncodedEvent,
  maxVersion,
  streamsAfter
} from "@effect-snapshots/loader/EventStoreInput"
import { Storable } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import type { Options, SqlSource } from "../../SqlEventStore.js"
import * as SqlSupport from "../sqlSupport.js"
import {
  batchJson,
  corrupt,
  describeError,
  eventsOf,
  invalidInput,
  quote,
  readAllRefused,
  toNumber,
  unavailable
} from "./rows.js"
import {
  appendFunction,
  appendOneStatement,
  checkCoordinator,
  migrations,
  prepareLayout,
  routedAppendFunction
} from "./schema.js"

/** The default table name (`SqlEventStore.defaultTable`). */
export const defaultTable = "effect_snapshots_events"

// A page held while it is folded (and the next one read ahead) lives across the young generation's collections:
// pages of 2,000 events had V8 promote them wholesale, doubling a long replay's peak RSS.
const defaultPageSize = 1000

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/

const badArgument = (message: string) => new BadArgument({ module: "SqlEventStore.make", message })

const streamColumnTypes = ["integer", "bigint", "text", "jsonb", "jsonb", "float8"] as const

export const build: (
  options?: Options
) => Effect.Effect<
  { readonly service: EventStoreService; readonly source: SqlSource },
  EventStoreError | BadArgument,
  SqlClient.SqlClient
> = Effect.fn(
  "SqlEventStore.make"
)(function*(options: Options = {}) {
  const table = options.table ?? defaultTable
  const pageSize = options.pageSize ?? defaultPageSize
  if (!identifierPattern.test(table)) {
    return yield* badArgument(
      `table must be a plain identifier of at most 40 characters (letters, digits, _), got ${JSON.stringify(table)}`
    )
  }
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    return yield* badArgument(`pageSize must be a positive integer, got ${pageSize}`)
  }
  const client = yield* SqlClient.SqlClient
  const sql = client.withoutTransforms()
  const migrationsTable = table === defaultTable ? "effect_snapshots_event_migrations" : `${table}_migrations`
  const streamKey = `${table}_stream_key`
  // On Citus the constraint of a shard carries the shard's id: `<table>_stream_key_102008`.
  const isStreamKey = (constraint: string) =>
    constraint === streamKey ||
    (constraint.startsWith(`${streamKey}_`) && /^\d+$/.test(constraint.slice(streamKey.length + 1)))

  if (options.distributed === true) yield* checkCoordinator(sql, table)

  yield* SqlSupport.migrate({ sql, migrationsTable, migrations: migrations(sql, table) }).pipe(
    Effect.mapError((failed) =>
      new EventStoreError({
        reason: "Unavailable",
        message: `SqlEventStore: could not migrate table ${table}: ${describeError(failed.cause)}`,
        cause: failed.cause
      })
    )
  )

  const layout = yield* prepareLayout(sql, table, migrationsTable, options.distributed === true)

  const t = quote(table)
  const appendSql = `SELECT actual, positions, previous_position FROM ${
    quote(layout === "distributed" ? routedAppendFunction(table) : appendFunction(table))
  }($1, $2, $3, $4::jsonb)`
  // One event on a local table: a single-row INSERT (no batch JSON to expand), sent as a statement, which
  // Effect's driver prepares; measured cheaper on the server than the batch statement through its function.
  const appendOneSql = layout === "local" ? appendOneStatement(t) : undefined
  const versionSql = `SELECT COALESCE(max(version), 0) AS version FROM ${t}
WHERE aggregate_type = $1 AND aggregate_id = $2`
  // created_at as epoch milliseconds (a float8 the client reads as it is). `extract` answers a numeric, whose
  // arithmetic was a third of the server's time per event of a long replay; `date_part` answers a float8, and
  // rounding it to whole microseconds first (exact below 2^52 µs) keeps the floor to milliseconds exact.
  const createdAtMillis = `floor(round(date_part('epoch', created_at) * 1000000) / 1000) AS created_at_ms`
  const metadataOrNull = `NULLIF(metadata, '{}'::jsonb) AS metadata`
  const streamColumns = `version, position, type, payload, ${metadataOrNull}, ${createdAtMillis}`
  const readSql = `SELECT ${streamColumns} FROM ${t}
WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 AND version <= $4
ORDER BY version LIMIT $5`
  // The cursor's transaction id travels as text (`cursor_xid`, a JS number cannot hold every xid8) and
  // comes back with a `::xid8` cast: every comparison and the order use the xid8 column itself (sorting its
  // text would put "100000" before "99999").
  // The stream key, then the columns of one stream's read (decoded by the same `eventsOf`), then the cursor.
  const readAllColumns =
    `e.aggregate_type, e.aggregate_id, e.version, e.position, e.type, e.payload, ${metadataOrNull}, ${createdAtMillis}, e.order_xid::text AS cursor_xid`
  // Only events of transactions older than every running one (below the horizon, the snapshot's xmin): no
  // transaction still running can add an event before them in (order_xid, position) order, so a cursor
  // moving forward in that order skips nothing.
  const horizon = `pg_snapshot_xmin(pg_current_snapshot())`
  // Resuming from a position: after that event in readAll's order. A position with no event (a rolled-back
  // append's) resumes after the event just below it. When that event is not visible yet, every visible
  // event is before it, so the page is empty either way and no cursor beyond the horizon is handed out.
  const readAllFromSql = `WITH c AS (
  SELECT order_xid, position FROM ${t} WHERE position <= $1 ORDER BY position DESC LIMIT 1
)
SELECT ${readAllColumns} FROM ${t} e
WHERE (e.order_xid, e.position) > (COALESCE((SELECT order_xid FROM c), '0'::xid8), COALESCE((SELECT position FROM c), 0))
  AND e.order_xid < ${horizon}
ORDER BY e.order_xid, e.position LIMIT $2`
  const readAllAfterSql = `SELECT ${readAllColumns} FROM ${t} e
WHERE (e.order_xid, e.position) > ($1::xid8, $2::bigint)
  AND e.order_xid < ${horizon}
ORDER BY e.order_xid, e.position LIMIT $3`

  const currentVersion = (aggregateType: string, aggregateId: string) =>
    Effect.map(
      sql.unsafe(versionSql, [aggregateType, aggregateId]).values,
      (rows) => toNumber(rows[0]?.[0] ?? 0)
    )

  const conflict = (aggregateType: string, aggregateId: string, expectedVersion: number, actualVersion: number) =>
    new ConcurrencyConflict({ aggregateType, aggregateId, expectedVersion, actualVersion })

  const insert = (aggregateType: string, aggregateId: string, expectedVersion: number, json: string) =>
    Effect.flatMap(
      sql.unsafe(appendSql, [aggregateType, aggregateId, expectedVersion, json]).values,
      (rows): Effect.Effect<AppendResult, ConcurrencyConflict> => {
        const [actual, positions, previousPosition] = rows[0] as [unknown, ReadonlyArray<unknown> | null, unknown]
        if (positions === null) {
          return Effect.fail(conflict(aggregateType, aggregateId, expectedVersion, toNumber(actual)))
        }
        return Effect.succeed({
          previousVersion: expectedVersion,
          previousPosition: toNumber(previousPosition),
          version: expectedVersion + positions.length,
          positions: positions.map(toNumber)
        })
      }
    )

  /** One event with `appendOneSql`: the batch statement's answer, for one position. */
  const insertOne = (
    sqlText: string,
    aggregateType: string,
    aggregateId: string,
    expectedVersion: number,
    event: EncodedEvent
  ) =>
    Effect.flatMap(
      sql.unsafe(sqlText, [aggregateType, aggregateId, expectedVersion, event.type, event.payload, event.metadata])
        .values,
      (rows): Effect.Effect<AppendResult, ConcurrencyConflict> => {
        const [actual, position, previousPosition] = rows[0] as [unknown, unknown, unknown]
        if (position === null) {
          return Effect.fail(conflict(aggregateType, aggregateId, expectedVersion, toNumber(actual)))
        }
        return Effect.succeed({
          previousVersion: expectedVersion,
          previousPosition: toNumber(previousPosition),
          version: expectedVersion + 1,
          positions: [toNumber(position)]
        })
      }
    )

  const append: EventStoreService["append"] = (aggregateType, aggregateId, expectedVersion, events) =>
    Effect.suspend(() => {
      const encoded = encodeAppend(aggregateType, aggregateId, expectedVersion, events)
      if (Result.isFailure(encoded)) return Effect.fail(invalidInput(encoded.failure))
      const one = appendOneSql !== undefined && encoded.success.length === 1 ? encoded.success[0] : undefined
      const statement = one === undefined
        ? insert(aggregateType, aggregateId, expectedVersion, batchJson(encoded.success))
        : insertOne(appendOneSql!, aggregateType, aggregateId, expectedVersion, one)
      return Effect.flatMap(
        SqlSupport.transactionSite(sql),
        (site): Effect.Effect<AppendResult, EventStoreError | ConcurrencyConflict | SqlError> => {
          // Inside another client's transaction only (another pool: effect/sql's transactions are per client),
          // the events would commit at once and outlive that transaction's rollback: refused, nothing written.
          if (site === "Other") {
            return Effect.fail(
              invalidInput(
                `SqlEventStore: append to ${aggregateType} ${
                  Storable.show(aggregateId)
                } refused: ${SqlSupport.otherTransactionMessage}`
              )
            )
          }
          // In the caller's transaction, a savepoint keeps a lost race from aborting it; on its own the
          // statement is atomic and needs no transaction (one round trip).
          return SqlSupport.withSavepoint(sql)(statement)
        }
      ).pipe(
        Effect.catchTag(
          "SqlError",
          (error) =>
            SqlSupport.sqlState(error) === "23505" && isStreamKey(SqlSupport.constraintOf(error) ?? streamKey)
              // A concurrent writer committed the same versions first: read what it left.
              ? Effect.flatMap(
                currentVersion(aggregateType, aggregateId).pipe(
                  Effect.mapError(unavailable(`SqlEventStore: could not read the version after a conflict`))
                ),
                (actual) => Effect.fail(conflict(aggregateType, aggregateId, expectedVersion, actual))
              )
              : Effect.fail(
                unavailable(`SqlEventStore: append to ${aggregateType} ${Storable.show(aggregateId)}`)(
                  error
                )
              )
        )
      )
    })

  /** The events in rows of `streamColumns` (from column `offset`) of one stream. */
  const toEvents = (
    aggregateType: string,
    aggregateId: string,
    rows: ReadonlyArray<ReadonlyArray<unknown>>,
    offset: number
  ): Effect.Effect<Array<StoredEvent>, EventStoreError> =>
    Effect.try({
      try: () => eventsOf(rows, offset, { aggregateType, aggregateId }),
      catch: (cause) => corrupt(`SqlEventStore: a stored event of ${aggregateType} could not be read`, cause)
    })

  /** Events `after < version <= toVersion` of one stream, at most `limit`, in version order (one query). */
  const fetchPage = (aggregateType: string, aggregateId: string, after: number, toVersion: number, limit: number) =>
    sql.unsafe(readSql, [aggregateType, aggregateId, after, toVersion, limit]).values.pipe(
      // The message is built only on a failure (an id's quoting costs more than the rest of the call's setup).
      Effect.mapError((cause) =>
        unavailable(`SqlEventStore: read ${aggregateType} ${Storable.show(aggregateId)}`)(cause)
      ),
      Effect.flatMap((rows) => toEvents(aggregateType, aggregateId, rows, 0))
    )

  const read: EventStoreService["read"] = (aggregateType, aggregateId, readOptions = {}) => {
    const problem = checkStreamKey(aggregateType, aggregateId) ??
      checkCount("fromVersion", readOptions.fromVersion) ?? checkCount("toVersion", readOptions.toVersion)
    if (problem !== undefined) return Stream.fail(invalidInput(problem))
    const toVersion = Math.min(readOptions.toVersion ?? maxVersion, maxVersion)
    const after = Math.max(readOptions.fromVersion ?? 1, 1) - 1
    if (after >= toVersion) return Stream.empty
    const page = (last: number) =>
      Effect.map(fetchPage(aggregateType, aggregateId, last, toVersion, pageSize), (events) => {
        const n = events.length
        const lastVersion = n === 0 ? last : events[n - 1]!.version
        const more = n === pageSize && lastVersion < toVersion
        return [events, more ? Option.some(lastVersion) : Option.none()] as const
      })
    return Stream.paginate(after, page)
  }

  const readPage: EventStoreService["readPage"] = (aggregateType, aggregateId, pageOptions = {}) => {
    const problem = checkStreamKey(aggregateType, aggregateId) ??
      checkCount("fromVersion", pageOptions.fromVersion) ?? checkCount("toVersion", pageOptions.toVersion) ??
      checkLimit(pageOptions.limit)
    if (problem !== undefined) return Effect.fail(invalidInput(problem))
    const toVersion = Math.min(pageOptions.toVersion ?? maxVersion, maxVersion)
    const after = Math.max(pageOptions.fromVersion ?? 1, 1) - 1
    if (after >= toVersion) return Effect.succeed([])
    return fetchPage(aggregateType, aggregateId, after, toVersion, pageOptions.limit ?? pageSize)
  }

  interface Cursor {
    readonly orderXid: string
    readonly position: number
  }

  const readAll: EventStoreService["readAll"] = (readOptions = {}) => {
    const problem = checkCount("fromPosition", readOptions.fromPosition)
    if (problem !== undefined) return Stream.fail(invalidInput(problem))
    if (layout === "distributed") return Stream.fail(readAllRefused(table))
    const page = (cursor: Cursor | number) =>
      (typeof cursor === "number"
        ? sql.unsafe(readAllFromSql, [cursor, pageSize]).values
        : sql.unsafe(readAllAfterSql, [cursor.orderXid, cursor.position, pageSize]).values).pipe(
          Effect.mapError(unavailable(`SqlEventStore: readAll`)),
          Effect.flatMap((rows) =>
            Effect.try({
              try: () => {
                const events = eventsOf(rows, 2, undefined)
                const n = events.length
                const next: Option.Option<Cursor> = n === pageSize
                  ? Option.some({ orderXid: rows[n - 1]![8] as string, position: events[n - 1]!.position })
                  : Option.none()
                return [events, next] as const
              },
              catch: (cause) => corrupt(`SqlEventStore: a stored event could not be read`, cause)
            })
          )
        )
    return Stream.paginate<Cursor | number, StoredEvent, EventStoreError, never>(
      readOptions.fromPosition ?? 0,
      page
    )
  }

  const version: EventStoreService["version"] = (aggregateType, aggregateId) => {
    const problem = checkStreamKey(aggregateType, aggregateId)
    if (problem !== undefined) return Effect.fail(invalidInput(problem))
    return currentVersion(aggregateType, aggregateId).pipe(
      Effect.mapError((cause) =>
        unavailable(`SqlEventStore: version of ${aggregateType} ${Storable.show(aggregateId)}`)(cause)
      )
    )
  }

  // Keyset pages over the stream key's index: (type, id) after the last listed, each group's max version.
  const streamsOfTypeSql = `SELECT aggregate_type, aggregate_id, max(version) AS version FROM ${t}
WHERE aggregate_type = $1 AND aggregate_id > $2
GROUP BY aggregate_type, aggregate_id ORDER BY aggregate_type, aggregate_id LIMIT $3`
  const streamsAllSql = `SELECT aggregate_type, aggregate_id, max(version) AS version FROM ${t}
WHERE (aggregate_type, aggregate_id) > ($1, $2)
GROUP BY aggregate_type, aggregate_id ORDER BY aggregate_type, aggregate_id LIMIT $3`
  const streams: EventStoreService["streams"] = (listOptions = {}) => {
    const after = streamsAfter(listOptions)
    if (typeof after === "string") return Stream.fail(invalidInput(after))
    const type = listOptions.aggregateType
    const page = (from: { readonly aggregateType: string; readonly aggregateId: string }) =>
      (type === undefined
        ? sql.unsafe(streamsAllSql, [from.aggregateType, from.aggregateId, pageSize]).values
        : sql.unsafe(streamsOfTypeSql, [type, from.aggregateId, pageSize]).values).pipe(
          Effect.mapError(unavailable(`SqlEventStore: streams`)),
          Effect.map((rows) => {
            const listed = rows.map((row): StreamInfo => ({
              aggregateType: row[0] as string,
              aggregateId: row[1] as string,
              version: toNumber(row[2])
            }))
            const last = listed[listed.length - 1]
            return [
              listed,
              listed.length === pageSize ? Option.fromUndefinedOr(last) : Option.none()
            ] as const
          })
        )
    return Stream.paginate(after ?? { aggregateType: type ?? "", aggregateId: "" }, page)
  }

  const service = EventStore.of({ append, read, readPage, readAll, version, streams })
  const source: SqlSource = {
    client,
    sql,
    table: t,
    columns: streamColumns,
    columnTypes: streamColumnTypes,
    checkKey: checkStreamKey,
    toEvents,
    unavailable: (message) => unavailable(`SqlEventStore: ${message}`)
  }
  return { service, source }
})
