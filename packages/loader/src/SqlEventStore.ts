/**
 * The EventStore on PostgreSQL (13 or newer, or PGlite) through `effect/sql`'s `SqlClient`.
 *
 * - One table of events; the unique key (aggregate_type, aggregate_id, version) decides every race, so two
 *   writers at the same version can never both commit (no check-then-insert).
 * - `append` is ONE statement (one round trip): an `INSERT ... SELECT` guarded by the stream's current
 *   version, so a stale or gapped `expectedVersion` inserts nothing and answers the actual version at once.
 *   It runs inside a PL/pgSQL function (`<table>_append`, created by the migrations) so that Postgres plans it
 *   once per session instead of on every call. Inside a caller's transaction it runs under a savepoint, so
 *   a lost race leaves that transaction usable. Inside a transaction of another client only (another pool:
 *   `effect/sql`'s transactions are per client) it is refused with an `InvalidInput` `EventStoreError`: the
 *   events would commit on their own and outlive that transaction's rollback.
 * - `read` pages by keyset (`version > last ORDER BY version LIMIT pageSize`) and emits each page as one
 *   chunk: bounded memory for any stream length, and exactly one query when the range fits in one page.
 * - `readAll` never skips an event that commits late (see `ReadAllOptions` in EventStore for the order).
 * - Its own migrations, tracked in their own table (`effect_snapshots_event_migrations`, or
 *   `<table>_migrations` for a custom table), serialized by an advisory lock so processes may start at once.
 * - On Citus (`distributed: true`) the table is hash-distributed by `aggregate_id`, colocated with the
 *   snapshots table; appends go to the stream's shard and `readAll` is refused (see `Options.distributed`).
 *
 * @since 0.1.0
 */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import { SqlSupport, Storable } from "@effect-snapshots/store"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import type { AppendResult, EventStoreService, StoredEvent, StreamInfo } from "./EventStore.js"
import { ConcurrencyConflict, EventStore, EventStoreError } from "./EventStore.js"
import * as ColdRead from "./internal/coldRead.js"
import type { EncodedEvent } from "./internal/eventInput.js"
import { checkCount, checkLimit, checkStreamKey, encodeAppend, maxVersion } from "./internal/eventInput.js"
import { streamsAfter } from "./internal/streamsListing.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /**
   * The events table (default `effect_snapshots_events`), created in the connection's current schema. A plain
   * identifier: letters, digits and `_`, at most 40 characters. Its migrations are tracked in
   * `<table>_migrations` (`effect_snapshots_event_migrations` for the default table).
   */
  readonly table?: string | undefined
  /** How many events one page of `read` / `readAll` fetches and emits as one chunk (default 2000). */
  readonly pageSize?: number | undefined
  /**
   * Citus: distribute the table by `aggregate_id` (hash, Citus' default colocation group, which the snapshots
   * table of `SqlSnapshotStore.layerWith({ distributed: true })` joins too: both distribution columns are
   * `text COLLATE "C"`), and append through a function that Citus delegates to the worker holding the
   * stream's shard (one worker, no two-phase commit). The layer must connect to the coordinator, where the
   * `citus` extension is installed; otherwise building it fails with an `EventStoreError`.
   *
   * What changes: positions stay unique but are only ordered within a stream (each node numbers from its own
   * range), and `readAll` fails with an `EventStoreError` (its cursor compares transaction ids, which each
   * node counts on its own). A table found distributed is treated this way even without the option.
   */
  readonly distributed?: boolean | undefined
}

/**
 * The default table name.
 *
 * @since 0.1.0
 */
export const defaultTable = "effect_snapshots_events"

const defaultPageSize = 2000

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/

const quote = (identifier: string): string => `"${identifier}"`

const invalidInput = (message: string) => new EventStoreError({ reason: "InvalidInput", message })
const badArgument = (message: string) => new BadArgument({ module: "SqlEventStore.make", message })

const describeError: (error: unknown) => string = SqlSupport.describeError

/**
 * The error of a failed statement: `Unavailable`, except for a row larger than the driver reads
 * (`@effect/sql-pg`'s `maxMessageSize`), which no retry can read back: `Corrupt`, as the snapshot store says.
 */
const unavailable = (message: string) => (cause: SqlError) =>
  new EventStoreError({
    reason: SqlSupport.isMessageTooLarge(cause) ? "Corrupt" : "Unavailable",
    message: `${message}: ${describeError(cause)}`,
    cause
  })

const corrupt = (message: string, cause: unknown) =>
  new EventStoreError({
    reason: "Corrupt",
    message: `${message}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/** The JSON text of a batch, assembled from already encoded parts (no second walk over the payloads). */
const batchJson = (events: ReadonlyArray<EncodedEvent>): string => {
  let json = "["
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!
    if (i > 0) json += ","
    json += `{"t":${JSON.stringify(event.type)},"p":${event.payload},"m":${event.metadata}}`
  }
  return json + "]"
}

const toNumber = (value: unknown): number => typeof value === "number" ? value : Number(value)

/** Metadata is `{}` for most events: the query sends NULL for it and every such event shares this object. */
const emptyMetadata: Readonly<Record<string, unknown>> = Object.freeze({})

/**
 * Decodes created_at (epoch milliseconds). The events of one commit share their timestamp, so the previous
 * DateTime (immutable) is reused when the next event has the same one.
 */
const makeCreatedAt = () => {
  let lastMillis = Number.NaN
  let last: DateTime.Utc | undefined
  return (value: unknown): DateTime.Utc => {
    const millis = toNumber(value)
    if (millis !== lastMillis || last === undefined) {
      last = DateTime.makeUnsafe(millis)
      lastMillis = millis
    }
    return last
  }
}

const migrations = (sql: SqlClient.SqlClient, table: string) => {
  const t = quote(table)
  return {
    "0001_create_events": Effect.asVoid(Effect.all([
      sql.unsafe(`CREATE TABLE IF NOT EXISTS ${t} (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  version integer NOT NULL CHECK (version > 0),
  type text NOT NULL,
  payload jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  order_xid xid8 NOT NULL,
  CONSTRAINT ${quote(`${table}_stream_key`)} UNIQUE (aggregate_type, aggregate_id, version)
)`),
      sql.unsafe(`CREATE INDEX IF NOT EXISTS ${quote(`${table}_order_idx`)} ON ${t} (order_xid, position)`)
    ], { discard: true })),
    // The append statement as a PL/pgSQL function: Postgres caches its plan per session, where the same
    // statement sent on its own (an unnamed statement) is planned on every call.
    "0002_append_function": Effect.asVoid(sql.unsafe(`CREATE OR REPLACE FUNCTION ${quote(appendFunction(table))}(
  p_type text, p_id text, p_expected integer, p_batch jsonb
) RETURNS TABLE (actual integer, positions bigint[]) LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY ${appendStatement(t, "p_type", "p_id", "p_expected", "p_batch", false)};
END
$fn$`)),
    // The append function also answers the position of the stream's head before the append (its return type
    // changes, so it is dropped and created again, in the migration's transaction). Callers that select
    // `actual, positions` by name keep working.
    "0003_append_previous_position": Effect.asVoid(Effect.all([
      sql.unsafe(`DROP FUNCTION IF EXISTS ${quote(appendFunction(table))}(text, text, integer, jsonb)`),
      sql.unsafe(`CREATE FUNCTION ${quote(appendFunction(table))}(
  p_type text, p_id text, p_expected integer, p_batch jsonb
) RETURNS TABLE (actual integer, positions bigint[], previous_position bigint) LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY ${appendStatement(t, "p_type", "p_id", "p_expected", "p_batch", true)};
END
$fn$`)
    ], { discard: true })),
    // A key that Citus can distribute by aggregate_id: the stream key becomes the primary key (position has a
    // plain index, for readAll's resume probe), and both key columns sort as "C", the collation of the
    // snapshots table, which Citus requires of colocated distribution columns. Equality, the only comparison
    // on these columns, is the same under both collations. It checks before it changes, so a table already in
    // this layout is left as it is.
    "0004_distribution_key": Effect.asVoid(Effect.all([
      sql.unsafe(`CREATE INDEX IF NOT EXISTS ${quote(`${table}_position_idx`)} ON ${t} (position)`),
      sql.unsafe(`DO $migrate$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint WHERE conrelid = '${t}'::regclass AND contype = 'p' AND conname = '${table}_stream_key'
  ) THEN
    ALTER TABLE ${t}
      DROP CONSTRAINT IF EXISTS ${quote(`${table}_pkey`)},
      DROP CONSTRAINT ${quote(`${table}_stream_key`)},
      ALTER COLUMN aggregate_type TYPE text COLLATE "C",
      ALTER COLUMN aggregate_id TYPE text COLLATE "C",
      ADD CONSTRAINT ${quote(`${table}_stream_key`)} PRIMARY KEY (aggregate_type, aggregate_id, version);
  END IF;
END
$migrate$`)
    ], { discard: true }))
  }
}

/** The append function of a table (at most 47 characters: within Postgres' 63). */
const appendFunction = (table: string): string => `${table}_append`

/**
 * The append: an `INSERT ... SELECT` guarded by the stream's current version. It inserts the batch only when
 * the stream is at the expected version, and answers that version in the same statement, so a refused
 * append needs no second query. `order_xid` never goes below the previous event's (see `readAll`).
 */
const appendStatement = (
  t: string,
  type: string,
  id: string,
  expected: string,
  batch: string,
  withPreviousPosition: boolean
): string =>
  `WITH head AS (
  SELECT h.version, h.position, h.order_xid FROM ${t} h
  WHERE h.aggregate_type = ${type} AND h.aggregate_id = ${id}
  ORDER BY h.version DESC LIMIT 1
), inserted AS (
  INSERT INTO ${t} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
  SELECT ${type}, ${id}, ${expected} + e.ord::integer, e.value->>'t', e.value->'p', e.value->'m',
    GREATEST(pg_current_xact_id(), (SELECT head.order_xid FROM head))
  FROM jsonb_array_elements(${batch}) WITH ORDINALITY AS e(value, ord)
  WHERE COALESCE((SELECT head.version FROM head), 0) = ${expected}
  ORDER BY e.ord
  RETURNING ${t}.position, ${t}.version
)
SELECT COALESCE((SELECT head.version FROM head), 0)::integer,
  (SELECT array_agg(i.position ORDER BY i.version) FROM inserted i)${
    withPreviousPosition ?
      `,
  COALESCE((SELECT head.position FROM head), 0)::bigint` :
      ""
  }`

/** The append function that Citus delegates to a stream's worker (at most 54 characters). */
const routedAppendFunction = (table: string): string => `${table}_append_routed`

/**
 * The append on a distributed table: the same answer as `appendStatement`, as statements that each filter on
 * (or insert) one `aggregate_id`, so Citus routes every one to the stream's shard. Called outside a
 * transaction, Citus runs the whole function on the worker that holds the shard (one round trip from the
 * coordinator, a local commit there). `search_path` is pinned so that the worker resolves the table as the
 * coordinator did.
 */
const routedAppendDefinition = (table: string): string => {
  const t = quote(table)
  return `CREATE OR REPLACE FUNCTION ${quote(routedAppendFunction(table))}(
  p_type text, p_id text, p_expected integer, p_batch jsonb
) RETURNS TABLE (actual integer, positions bigint[], previous_position bigint) LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT AS $fn$
DECLARE
  head_version integer;
  head_position bigint;
  head_xid xid8;
  event jsonb;
  inserted bigint;
  offset_in_batch integer := 0;
BEGIN
  SELECT h.version, h.position, h.order_xid INTO head_version, head_position, head_xid FROM ${t} h
  WHERE h.aggregate_type = p_type AND h.aggregate_id = p_id ORDER BY h.version DESC LIMIT 1;
  actual := COALESCE(head_version, 0);
  previous_position := COALESCE(head_position, 0);
  IF actual = p_expected THEN
    head_xid := GREATEST(pg_current_xact_id(), head_xid);
    positions := '{}';
    -- One single-row INSERT per event: Citus plans an INSERT ... SELECT from a function through the
    -- coordinator, with a two-phase commit.
    FOR event IN SELECT e.value FROM jsonb_array_elements(p_batch) AS e(value) LOOP
      offset_in_batch := offset_in_batch + 1;
      INSERT INTO ${t} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
      VALUES (p_type, p_id, p_expected + offset_in_batch, event->>'t', event->'p', event->'m', head_xid)
      RETURNING position INTO inserted;
      positions := positions || inserted;
    END LOOP;
  END IF;
  RETURN NEXT;
END
$fn$`
}

const notDistributable = (message: string) => new EventStoreError({ reason: "Unavailable", message })

/** How the table is laid out: on one server, or hash-distributed by Citus. */
type Layout = "local" | "distributed"

const citusSetupFailed = (table: string) => (cause: SqlError) =>
  new EventStoreError({
    reason: "Unavailable",
    message: `SqlEventStore: could not distribute table ${table} with Citus: ${describeError(cause)}`,
    cause
  })

/**
 * Before the migrations of a distributed store: the `citus` extension is there and this is the coordinator
 * (on a worker the migrations would create a table that only that worker sees).
 */
const checkCoordinator = (sql: SqlClient.SqlClient, table: string): Effect.Effect<void, EventStoreError> =>
  Effect.flatMap(SqlSupport.citusCoordinatorProblem(sql), (problem) => {
    if (problem === "NoCitus") {
      return Effect.fail(notDistributable(
        `SqlEventStore: distributed: true needs Citus, but the extension "citus" is not installed in this database (CREATE EXTENSION citus on the coordinator and every worker)`
      ))
    }
    if (problem === "Worker") {
      return Effect.fail(notDistributable(
        `SqlEventStore: connected to a Citus worker; connect the distributed store to the coordinator, which creates the distributed table and its append function`
      ))
    }
    return Effect.void
  }).pipe(Effect.catchTag("SqlError", (cause) => Effect.fail(citusSetupFailed(table)(cause))))

const otherKind = (table: string, distribution: SqlSupport.CitusDistribution) =>
  notDistributable(
    `SqlEventStore: table ${table} is a Citus table of another kind (method ${distribution.method}, column ${
      String(distribution.column)
    }); the store needs it hash-distributed by aggregate_id`
  )

/**
 * Decides the layout and, for a distributed store, distributes the table and creates its routed append
 * function (once, under the migrations' advisory lock). A table that is already distributed counts as
 * distributed without the option: its readAll would otherwise compare transaction ids of different nodes.
 */
const prepareLayout = (
  sql: SqlClient.SqlClient,
  table: string,
  migrationsTable: string,
  requested: boolean
): Effect.Effect<Layout, EventStoreError> =>
  Effect.gen(function*() {
    if (!requested && !(yield* SqlSupport.hasCitus(sql))) return "local"
    const current = yield* SqlSupport.citusDistribution(sql, quote(table))
    if (Option.isNone(current) && !requested) return "local"
    if (Option.isSome(current) && !SqlSupport.isByAggregateId(current.value)) {
      return yield* otherKind(table, current.value)
    }
    if (!requested) yield* checkCoordinator(sql, table)
    const routed = `${quote(routedAppendFunction(table))}(text, text, integer, jsonb)`
    yield* sql.withTransaction(Effect.gen(function*() {
      // Creating a distributed function after a parallel (multi-shard) command in one transaction is refused.
      yield* sql.unsafe(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`)
      yield* sql.unsafe(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`effect-snapshots:${migrationsTable}`])
      const done = yield* SqlSupport.distributeByAggregateId(sql, quote(table))
      if (done._tag === "OtherKind") {
        return yield* otherKind(table, done)
      }
      const [[delegated]] = yield* sql.unsafe(
        `SELECT EXISTS (SELECT 1 FROM pg_dist_object
WHERE classid = 'pg_proc'::regclass AND objid = to_regprocedure($1) AND distribution_argument_index IS NOT NULL)`,
        [routed]
      ).values
      if (delegated !== true) {
        yield* sql.unsafe(routedAppendDefinition(table))
        yield* sql.unsafe(
          `SELECT create_distributed_function($1, distribution_arg_name := 'p_id', colocate_with := $2)`,
          [routed, quote(table)]
        )
      }
    }))
    return "distributed" as const
  }).pipe(Effect.catchTag("SqlError", (cause) => Effect.fail(citusSetupFailed(table)(cause))))

/**
 * readAll's cursor orders events by the transaction id of their commit and holds back those above the oldest
 * running transaction; on Citus each node has its own transaction ids, so that order and horizon mean nothing
 * across shards, and a cursor would skip or miss committed events.
 */
const readAllRefused = (table: string) =>
  invalidInput(
    `SqlEventStore: readAll is not available on ${table}, a table distributed with Citus: its cursor orders events by transaction ids and a snapshot horizon, which every Citus node counts on its own, so it would skip committed events. Read each stream with read or readPage (one shard), or feed projections from Citus change data capture (citus.enable_change_data_capture, a logical replication slot on every node)`
  )

const build: (
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
  const versionSql = `SELECT COALESCE(max(version), 0) AS version FROM ${t}
WHERE aggregate_type = $1 AND aggregate_id = $2`
  // created_at as epoch milliseconds: a float parses several times faster than a timestamptz's text.
  const createdAtMillis = `floor(extract(epoch FROM created_at) * 1000)::float8 AS created_at_ms`
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

  const append: EventStoreService["append"] = (aggregateType, aggregateId, expectedVersion, events) =>
    Effect.suspend(() => {
      const encoded = encodeAppend(aggregateType, aggregateId, expectedVersion, events)
      if (Result.isFailure(encoded)) return Effect.fail(invalidInput(encoded.failure))
      const json = batchJson(encoded.success)
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
          return SqlSupport.withSavepoint(sql)(insert(aggregateType, aggregateId, expectedVersion, json))
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

  /**
   * The events in rows of `streamColumns` from column `offset`: of one stream (`key`), or of the stream
   * named by each row's first two columns (readAll).
   */
  const eventsOf = (
    rows: ReadonlyArray<ReadonlyArray<unknown>>,
    offset: number,
    key: { readonly aggregateType: string; readonly aggregateId: string } | undefined
  ): Array<StoredEvent> => {
    const n = rows.length
    const events = new Array<StoredEvent>(n)
    const createdAt = makeCreatedAt()
    for (let i = 0; i < n; i++) {
      const row = rows[i]!
      events[i] = {
        aggregateType: key === undefined ? row[0] as string : key.aggregateType,
        aggregateId: key === undefined ? row[1] as string : key.aggregateId,
        version: row[offset] as number,
        position: toNumber(row[offset + 1]),
        type: row[offset + 2] as string,
        payload: row[offset + 3],
        metadata: (row[offset + 4] ?? emptyMetadata) as Record<string, unknown>,
        createdAt: createdAt(row[offset + 5])
      }
    }
    return events
  }

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

/**
 * Builds the store on the `SqlClient` in context and runs its migrations first. The layers also provide the
 * repository's one-statement cold read (`ColdRead`); a store built here has none.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<EventStoreService, EventStoreError | BadArgument, SqlClient.SqlClient> =>
  Effect.map(build(options), (built) => built.service)

/**
 * What a store built by the layers tells a reader on the same client, so that the reader can read a stream's
 * events inside a statement of its own (the repository's cold load reads the newest snapshot and the event
 * tail in one statement).
 *
 * @since 0.2.0
 * @category models
 */
export interface SqlSource {
  /** The client the store was built on, as found in context (compare by identity). */
  readonly client: SqlClient.SqlClient
  /** The client the store runs its statements on (without name transforms). */
  readonly sql: SqlClient.SqlClient
  /** The events table, quoted. */
  readonly table: string
  /** The columns of one event, as `read` selects them from `table` (types: `columnTypes`). */
  readonly columns: string
  readonly columnTypes: ReadonlyArray<string>
  /** The key check of `read`: the problem with a key `read` refuses, or undefined. */
  readonly checkKey: (aggregateType: string, aggregateId: string) => string | undefined
  /** The events in rows of `columns` starting at column `offset`, as `read` would answer them. */
  readonly toEvents: (
    aggregateType: string,
    aggregateId: string,
    rows: ReadonlyArray<ReadonlyArray<unknown>>,
    offset: number
  ) => Effect.Effect<Array<StoredEvent>, EventStoreError>
  /** The error of a failed statement, as the store reports it. */
  readonly unavailable: (message: string) => (cause: SqlError) => EventStoreError
}

const streamColumnTypes = ["integer", "bigint", "text", "jsonb", "jsonb", "float8"] as const

/** The store and, beside it, its cold read. */
const layerOf = (options: Options) =>
  Layer.effectContext(
    Effect.map(
      build(options),
      ({ service, source }) =>
        Context.make(EventStore, service).pipe(Context.add(ColdRead.ColdRead, ColdRead.fromEvents(source, service)))
    )
  )

/**
 * The EventStore on the `SqlClient` in context, with the default table and page size.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore | ColdRead.ColdRead, EventStoreError | BadArgument, SqlClient.SqlClient> =
  layerOf({})

/**
 * The EventStore with a custom table and/or page size.
 *
 * @since 0.1.0
 */
export const layerWith = (
  options: Options
): Layer.Layer<EventStore | ColdRead.ColdRead, EventStoreError | BadArgument, SqlClient.SqlClient> => layerOf(options)
