import { SqlSnapshotStore } from "@effect-snapshots/sql"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { AdminError } from "../AdminError.js"
import type * as SqlSnapshotStats from "../SqlSnapshotStats.js"

// The statements cast every count and sum to `float8` (a JavaScript number; the driver reads `int8` as a bigint),
// and `timestamptz` arrives as a Date.
const Int = Schema.Number
const Timestamp = Schema.DateTimeUtcFromDate

const TypeRow = Schema.Struct({
  aggregate_type: Schema.String,
  aggregates: Int,
  snapshots: Int,
  bytes: Int,
  oldest: Timestamp,
  newest: Timestamp
})
const StaleRow = Schema.Struct({ stale_snapshots: Int, stale_aggregates: Int })
const PlanRow = Schema.Struct({ aggregate_type: Schema.String, snapshots: Int, aggregates: Int })

const decodeTypeRows = Schema.decodeUnknownEffect(Schema.Array(TypeRow))
const decodeColumnRows = Schema.decodeUnknownEffect(Schema.Tuple([Schema.Struct({ has_state_text: Schema.Boolean })]))
const decodeStaleRows = Schema.decodeUnknownEffect(Schema.Tuple([StaleRow]))
const decodePlanRows = Schema.decodeUnknownEffect(Schema.Array(PlanRow))

/** The first useful message of an error and its causes (an AggregateError of `net` has an empty one). */
export const describe = (error: unknown): string => {
  const seen = new Set<unknown>()
  let current: unknown = error
  const parts: Array<string> = []
  while (current !== undefined && current !== null && !seen.has(current) && parts.length < 3) {
    seen.add(current)
    if (current instanceof AggregateError && current.errors.length > 0) {
      current = current.errors[0]
      continue
    }
    const message = typeof current === "object" && "message" in current ? String(current.message) : String(current)
    if (message !== "" && !parts.includes(message)) parts.push(message)
    current = typeof current === "object" && "cause" in current ? current.cause : undefined
  }
  const text = parts.join(": ")
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}

const unavailable = (what: string) => (cause: unknown) =>
  new AdminError({ reason: "Unavailable", message: `${what} failed: ${describe(cause)}`, cause })

const run = <A, E>(
  what: string,
  query: Effect.Effect<ReadonlyArray<unknown>, SqlError>,
  decode: (rows: ReadonlyArray<unknown>) => Effect.Effect<A, E>
): Effect.Effect<A, AdminError> => query.pipe(Effect.flatMap(decode), Effect.mapError(unavailable(what)))

const client = Effect.map(SqlClient.SqlClient, (sql) => sql.withoutTransforms())

const identifier = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/

const tableOf = (options: SqlSnapshotStats.Options | undefined): Effect.Effect<string, AdminError> => {
  const table = options?.table ?? SqlSnapshotStore.defaultTable
  return identifier.test(table)
    ? Effect.succeed(table)
    : Effect.fail(
      new AdminError({
        reason: "BadInput",
        message: `table must be an identifier, optionally schema-qualified, got ${table}`
      })
    )
}

const quotedTable = (table: string): string => table.split(".").map((part) => `"${part}"`).join(".")

// Plain states are in `state_text` since the store's migration 0003, in the jsonb `state` before (old rows keep
// it). A table the store has not migrated yet (stats read without building the store) has no `state_text`.
const stateBytesOf = (sql: SqlClient.SqlClient, table: string) =>
  run(
    "stats",
    sql`SELECT EXISTS (
  SELECT 1 FROM pg_attribute
  WHERE attrelid = to_regclass(${quotedTable(table)}) AND attname = 'state_text' AND NOT attisdropped
) AS has_state_text`,
    decodeColumnRows
  ).pipe(
    Effect.map(([{ has_state_text }]) =>
      sql.literal(
        `coalesce(pg_column_size(state), 0)${
          has_state_text ? " + coalesce(pg_column_size(state_text), 0)" : ""
        } + coalesce(pg_column_size(state_bytes), 0)`
      )
    )
  )

/** @internal */
export const stats = (
  options?: SqlSnapshotStats.Options
): Effect.Effect<ReadonlyArray<SqlSnapshotStats.TypeStats>, AdminError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* client
    const table = yield* tableOf(options)
    const stateBytes = yield* stateBytesOf(sql, table)
    const rows = yield* run(
      "stats",
      // One pass over the table, grouped by type. `bytes` is what Postgres stores for the states
      // (pg_column_size: after TOAST compression), the jsonb, text and bytea columns together.
      sql`SELECT aggregate_type,
  count(DISTINCT aggregate_id)::float8 AS aggregates,
  count(*)::float8 AS snapshots,
  coalesce(sum(${stateBytes}), 0)::float8 AS bytes,
  min(created_at) AS oldest,
  max(created_at) AS newest
FROM ${sql(table)}
GROUP BY aggregate_type
ORDER BY aggregate_type`,
      decodeTypeRows
    )
    return rows.map((row): SqlSnapshotStats.TypeStats => ({
      aggregateType: row.aggregate_type,
      aggregates: row.aggregates,
      snapshots: row.snapshots,
      bytes: row.bytes,
      oldest: row.oldest,
      newest: row.newest
    }))
  })

/** @internal */
export const stale = (
  aggregateType: string,
  current: SqlSnapshotStats.Current,
  options?: SqlSnapshotStats.Options
): Effect.Effect<SqlSnapshotStats.Stale, AdminError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* client
    const table = yield* tableOf(options)
    const [row] = yield* run(
      "stats (stale)",
      // Stale: written at another schemaVersion, or at this one by a state Schema with a fingerprint the
      // aggregate does not accept (a snapshot that records no fingerprint is not stale, as the repository reads it). `newest` marks
      // each aggregate's newest snapshot: the one its loads start from.
      sql`SELECT (count(*) FILTER (WHERE stale))::float8 AS stale_snapshots,
  (count(*) FILTER (WHERE stale AND newest))::float8 AS stale_aggregates
FROM (
  SELECT schema_version <> ${current.schemaVersion}
      OR (metadata ->> 'fingerprint' IS NOT NULL
        AND NOT ${
        JSON.stringify([current.fingerprint, ...(current.compatibleFingerprints ?? [])])
      }::jsonb ? (metadata ->> 'fingerprint'))
      AS stale,
    row_number() OVER (PARTITION BY aggregate_id ORDER BY version DESC) = 1 AS newest
  FROM ${sql(table)}
  WHERE aggregate_type = ${aggregateType}
) AS s`,
      decodeStaleRows
    )
    return { staleSnapshots: row.stale_snapshots, staleAggregates: row.stale_aggregates }
  })

/** The age cutoff of `prune`, computed as the store computes it; none: no age condition; null: nothing is old enough. */
export const cutoff = (olderThan: Duration.Duration | undefined) =>
  Effect.map(Clock.currentTimeMillis, (now): Option.Option<Date | null> => {
    if (olderThan === undefined) return Option.none()
    const millis = now - Duration.toMillis(olderThan)
    return Option.some(millis > -8.64e15 ? new Date(millis) : null)
  })

/** @internal */
export const prunePlan = (
  plan: SqlSnapshotStats.PruneOptions,
  options?: SqlSnapshotStats.Options
): Effect.Effect<ReadonlyArray<SqlSnapshotStats.PrunePlan>, AdminError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* client
    const table = yield* tableOf(options)
    if (!Number.isSafeInteger(plan.keepLast) || plan.keepLast < 1) {
      return yield* new AdminError({
        reason: "BadInput",
        message: `keepLast must be an integer >= 1, got ${plan.keepLast}`
      })
    }
    const olderThan = plan.olderThan === undefined ? undefined : Duration.fromInput(plan.olderThan)
    if (olderThan !== undefined && Option.isNone(olderThan)) {
      return yield* new AdminError({
        reason: "BadInput",
        message: `olderThan is not a duration: ${String(plan.olderThan)}`
      })
    }
    const limit = yield* cutoff(olderThan === undefined ? undefined : olderThan.value)
    if (Option.isSome(limit) && limit.value === null) return []
    const before = Option.match(limit, { onNone: () => null, onSome: (date) => date!.toISOString() })
    const type = plan.aggregateType ?? null
    const rows = yield* run(
      "prune (dry run)",
      // The selection of SqlSnapshotStore's prune statement, counted instead of deleted.
      sql`WITH ranked AS (
  SELECT aggregate_type, aggregate_id, created_at,
         row_number() OVER (PARTITION BY aggregate_type, aggregate_id ORDER BY version DESC) AS rank
  FROM ${sql(table)}
  WHERE ${type}::text IS NULL OR aggregate_type = ${type}::text
)
SELECT aggregate_type, count(*)::float8 AS snapshots, count(DISTINCT aggregate_id)::float8 AS aggregates
FROM ranked
WHERE rank > ${plan.keepLast} AND (${before}::timestamptz IS NULL OR created_at < ${before}::timestamptz)
GROUP BY aggregate_type
ORDER BY aggregate_type`,
      decodePlanRows
    )
    return rows.map((row): SqlSnapshotStats.PrunePlan => ({
      aggregateType: row.aggregate_type,
      snapshots: row.snapshots,
      aggregates: row.aggregates
    }))
  })
