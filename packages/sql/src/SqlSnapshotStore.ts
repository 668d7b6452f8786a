/**
 * A SnapshotStore on `effect/sql`'s `SqlClient` (Postgres): one table keyed by (aggregate_type,
 * aggregate_id, version), created by its own Migrator run (under an advisory lock, `SqlSupport.migrate`) when
 * the layer is built. Inside the caller's transaction every statement runs under a savepoint. Inside a
 * transaction of another client only (another pool: `effect/sql`'s transactions are per client), `save`,
 * `delete` and `prune` are refused with an `InvalidInput` error and write nothing (they would commit before
 * that transaction's outcome is known); reads run outside it.
 *
 * @since 0.1.0
 */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import { CompressedState, Snapshot, SnapshotInfo, SnapshotKey } from "@effect-snapshots/store/Snapshot"
import { SnapshotStore } from "@effect-snapshots/store/SnapshotStore"
import type { PruneResult, SnapshotStoreService } from "@effect-snapshots/store/SnapshotStore"
import { SnapshotStoreError } from "@effect-snapshots/store/SnapshotStoreError"
import * as storable from "@effect-snapshots/store/Storable"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import * as validate from "./internal/snapshotChecks.js"
import * as errors from "./internal/snapshotErrors.js"
import * as sqlSupport from "./internal/sqlSupport.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The table, optionally schema-qualified (`"snapshots"`, `"app.snapshots"`); default `"effect_snapshots"`.
   * Its migrations are tracked in `<table>_migrations` (in lower case), never in `effect/sql`'s default
   * `effect_sql_migrations`, so the store's migrations cannot collide with the application's.
   */
  readonly table?: string | undefined
  /** How many keys `aggregates` reads per query (keyset pagination); default 1000. */
  readonly pageSize?: number | undefined
  /**
   * Citus: hash-distribute the table by `aggregate_id` once, after the migrations, in Citus' default colocation
   * group, which `SqlEventStore.layerWith({ distributed: true })` puts the events table in too (both
   * distribution columns are `text COLLATE "C"`), so a stream's events and snapshots share a shard. The layer
   * must connect to the coordinator, with the `citus` extension installed; otherwise building it fails.
   */
  readonly distributed?: boolean | undefined
  /**
   * Which clock stamps `created_at`. `"database"` (default) stores the database's `now()` (the transaction's
   * start) instead of the snapshot's own `createdAt`, so the snapshots of every instance are stamped by one
   * clock whatever theirs say; `load`, `list` and `latestForType` return the database's time, and the store's
   * `now` tells callers (the repository's `afterDuration` decisions) the database's time, so that an instance
   * whose clock is off still compares like with like. `"application"` stores the snapshot's own `createdAt`
   * (the instance's clock, or an imported time) and has no `now`. `"snapshot"` is the old name of
   * `"application"`.
   */
  readonly clock?: "database" | "application" | "snapshot" | undefined
}

/**
 * The default table name.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTable = "effect_snapshots"

const badArgument = (message: string) => new BadArgument({ module: "SqlSnapshotStore.layerWith", message })

const identifier = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/

// ---------------------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------------------

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
  // jsonb columns (and the jsonb state of old rows) are read as text and parsed here, so the result does not depend on the driver's
  // (process-global, replaceable) jsonb parser, and no Schema ever walks a state.
  metadata: Schema.String
})

const SnapshotRow = Schema.Struct({
  ...InfoRow.fields,
  encoding: Schema.Literals(["json", "gzip", "brotli"]),
  state: Schema.NullOr(Schema.String),
  // bytea: a Uint8Array from `@effect/sql-pg` 4 (a Buffer, a Uint8Array too, from other drivers).
  state_bytes: Schema.NullOr(Schema.Uint8Array)
})

const KeyRow = Schema.Struct({ aggregate_type: Schema.String, aggregate_id: Schema.String })
const CountRow = Schema.Struct({ deleted: Int })

const decodeSnapshotRows = Schema.decodeUnknownEffect(Schema.Array(SnapshotRow))
const decodeInfoRows = Schema.decodeUnknownEffect(Schema.Array(InfoRow))
const decodeKeyRows = Schema.decodeUnknownEffect(Schema.Array(KeyRow))
const decodeCountRows = Schema.decodeUnknownEffect(Schema.Tuple([CountRow]))
const decodeWrittenRows = Schema.decodeUnknownEffect(Schema.Tuple([Schema.Struct({ written: Schema.Boolean })]))
const decodeNowRows = Schema.decodeUnknownEffect(
  Schema.Tuple([Schema.Struct({ millis: Schema.Union([Schema.Finite, Schema.NumberFromString]) })])
)

/** How often the store measures the database's time again (monotonic nanoseconds). */
const measureEvery = 60_000_000_000n

const parseJson = (what: string, text: string): Effect.Effect<unknown, SnapshotStoreError> => {
  try {
    return Effect.succeed(JSON.parse(text))
  } catch (cause) {
    return Effect.fail(errors.corrupt(`${what} is not valid JSON`, cause))
  }
}

const parseMetadata = (row: typeof InfoRow.Type) =>
  Effect.flatMap(
    parseJson("stored metadata", row.metadata),
    (metadata) =>
      typeof metadata === "object" && metadata !== null && !Array.isArray(metadata)
        ? Effect.succeed(metadata as Record<string, unknown>)
        : Effect.fail(errors.corrupt("stored metadata is not a JSON object"))
  )

const toInfo = (row: typeof InfoRow.Type) =>
  Effect.map(parseMetadata(row), (metadata) =>
    new SnapshotInfo({
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      version: row.version,
      schemaVersion: row.schema_version,
      createdAt: row.created_at,
      metadata
    }, { disableChecks: true }))

const toState = (row: typeof SnapshotRow.Type): Effect.Effect<unknown, SnapshotStoreError> => {
  if (row.encoding === "json") {
    return row.state === null
      ? Effect.fail(errors.corrupt("a json-encoded snapshot row has no state"))
      : parseJson("stored state", row.state)
  }
  if (row.state_bytes === null) {
    return Effect.fail(errors.corrupt(`a ${row.encoding}-encoded snapshot row has no bytes`))
  }
  const bytes = row.state_bytes
  return Effect.succeed(
    new CompressedState({
      algorithm: row.encoding,
      // Callers get a plain Uint8Array: a driver's Buffer is viewed, not copied.
      bytes: bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    }, { disableChecks: true })
  )
}

const toSnapshot = (row: typeof SnapshotRow.Type) =>
  Effect.zipWith(parseMetadata(row), toState(row), (metadata, state) =>
    new Snapshot({
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      version: row.version,
      schemaVersion: row.schema_version,
      createdAt: row.created_at,
      metadata,
      state
    }, { disableChecks: true }))

const decodeSnapshotRow = Schema.decodeUnknownEffect(SnapshotRow)

/**
 * What a store built by the layers tells a reader on the same client, so that the reader can fetch the newest
 * snapshot inside a statement of its own (the repository's cold load reads it and the event tail in one
 * statement). Decorated stores have none: a reader then calls `load`.
 *
 * @since 0.2.0
 * @category models
 */
export interface SqlSource {
  /** The store it describes: a reader uses it only for that very store (a decorated one is another). */
  readonly store: SnapshotStoreService
  /** The client the store was built on, as found in context (compare by identity). */
  readonly client: SqlClient.SqlClient
  /**
   * The newest snapshot of one aggregate, as a SELECT taking the type and id as the given placeholders; its
   * columns are `columnTypes`, `version` among them.
   */
  readonly newestSql: (typeParam: string, idParam: string) => string
  /** The Postgres types of the columns `newestSql` selects, in order. */
  readonly columnTypes: ReadonlyArray<string>
  /** The key check of `load`: a key `load` refuses is refused here with the same error. */
  readonly checkKey: (aggregateType: string, aggregateId: string) => SnapshotStoreError | undefined
  /**
   * The snapshot in the columns of one row of `newestSql` that start at `offset`, and the size of its stored
   * state in bytes (its JSON text, or its compressed bytes), as `load` would answer it.
   */
  readonly decode: (
    aggregateType: string,
    aggregateId: string,
    row: ReadonlyArray<unknown>,
    offset: number
  ) => Effect.Effect<{ readonly snapshot: Snapshot; readonly stateBytes: number }, SnapshotStoreError>
}

/**
 * The `SqlSource` of the store `layer` / `layerWith` built, provided beside it. A decorator's layer provides the
 * inner layer to its own (`Layer.provide`), so a decorated store comes without it.
 *
 * @since 1.1.0
 * @category services
 */
export class Source extends Context.Service<Source, SqlSource>()("@effect-snapshots/sql/SqlSnapshotStore/Source") {}

// A plain state is stored as its JSON text in `state_text` (migration 0003); rows written before that keep it
// in the jsonb `state`, read as text here. Reading `state_text` as it is spares the server the jsonb-to-text
// conversion, which was a fifth of a restore of a 50 KB state.
const stateColumn = `coalesce(state_text, state::text) AS state`

const sourceColumns =
  `version, schema_version, created_at, metadata::text AS metadata, encoding, ${stateColumn}, state_bytes`
const sourceColumnTypes = ["bigint", "bigint", "timestamptz", "text", "text", "text", "bytea"] as const

const quotedTable = (table: string): string => table.split(".").map((part) => `"${part}"`).join(".")

const makeSource = (store: SnapshotStoreService, client: SqlClient.SqlClient, table: string): SqlSource => {
  const quoted = quotedTable(table)
  return {
    store,
    client,
    newestSql: (typeParam, idParam) =>
      `SELECT ${sourceColumns} FROM ${quoted}
WHERE aggregate_type = ${typeParam} AND aggregate_id = ${idParam} ORDER BY version DESC LIMIT 1`,
    columnTypes: sourceColumnTypes,
    checkKey: validate.checkKey,
    decode: (aggregateType, aggregateId, row, offset) =>
      decodeSnapshotRow({
        aggregate_type: aggregateType,
        aggregate_id: aggregateId,
        version: row[offset],
        schema_version: row[offset + 1],
        created_at: row[offset + 2],
        metadata: row[offset + 3],
        encoding: row[offset + 4],
        state: row[offset + 5],
        state_bytes: row[offset + 6]
      }).pipe(
        Effect.mapError(errors.fromSchemaError("load")),
        Effect.flatMap((decoded) =>
          Effect.map(toSnapshot(decoded), (snapshot) => ({
            snapshot,
            stateBytes: decoded.state !== null ? decoded.state.length : decoded.state_bytes?.byteLength ?? 0
          }))
        )
      )
  }
}

// ---------------------------------------------------------------------------------------------------------
// Migrations
// ---------------------------------------------------------------------------------------------------------

const lastSegment = (table: string): string => table.slice(table.lastIndexOf(".") + 1)

const migrations = (sql: SqlClient.SqlClient, table: string) => {
  const name = lastSegment(table)
  return {
    "0001_create_snapshots": Effect.andThen(
      // The primary key (type, id, version) makes "newest snapshot at or below v" one backward index probe,
      // and starts with the aggregate key so a Citus table can be distributed by aggregate_id.
      // COLLATE "C": byte order, the same everywhere, for the keyset pagination of `aggregates`.
      sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
  aggregate_type text COLLATE "C" NOT NULL,
  aggregate_id text COLLATE "C" NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  schema_version bigint NOT NULL CHECK (schema_version >= 1),
  encoding text NOT NULL CHECK (encoding IN ('json', 'gzip', 'brotli')),
  state jsonb,
  state_bytes bytea,
  created_at timestamptz NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (aggregate_type, aggregate_id, version),
  CHECK (CASE WHEN encoding = 'json' THEN state IS NOT NULL AND state_bytes IS NULL
              ELSE state IS NULL AND state_bytes IS NOT NULL END)
)`,
      // latestForType: the newest snapshot of a type is one probe.
      sql`CREATE INDEX IF NOT EXISTS ${sql(`${name}_type_created_idx`)} ON ${sql(table)}
  (aggregate_type, created_at DESC, version DESC, aggregate_id DESC)`
    ),
    "0002_save_if_due": sql.unsafe(saveIfDueFunction(table, jsonbState)),
    "0003_state_text": stateTextMigration(sql, table)
  }
}

// Plain states as text: a new nullable column, and the row check that allowed only `state` replaced by one that
// allows either column (each row has exactly one). Old rows stay as they are, in `state`, and are read from it.
// The new check is NOT VALID: it holds for the old rows (the old check was stricter), so the table is not
// scanned under the migration's lock. `state_text` must still be JSON that jsonb accepts (it refuses a lone
// surrogate, for one), as `state` was: a save that jsonb refused is refused the same way.
const stateTextMigration = (sql: SqlClient.SqlClient, table: string) => {
  const quoted = quotedTable(table)
  const name = lastSegment(table)
  return Effect.all([
    sql`ALTER TABLE ${sql(table)} ADD COLUMN IF NOT EXISTS state_text text`,
    // The old row check has the name Postgres chose (it was unnamed): found by what it checks.
    sql.unsafe(`DO $state_text$
DECLARE old record;
BEGIN
  FOR old IN SELECT conname FROM pg_constraint
    WHERE conrelid = '${quoted}'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%state_bytes%'
  LOOP
    EXECUTE format('ALTER TABLE ${quoted} DROP CONSTRAINT %I', old.conname);
  END LOOP;
END
$state_text$`),
    sql`ALTER TABLE ${sql(table)} ADD CONSTRAINT ${sql(`${name}_state_check`)} CHECK (
  CASE WHEN encoding = 'json' THEN state_bytes IS NULL AND (state IS NULL) <> (state_text IS NULL)
       ELSE state IS NULL AND state_text IS NULL AND state_bytes IS NOT NULL END
) NOT VALID`,
    sql`ALTER TABLE ${sql(table)} ADD CONSTRAINT ${sql(`${name}_state_text_json`)}
  CHECK (state_text IS NULL OR state_text::jsonb IS NOT NULL)`,
    sql.unsafe(`DROP FUNCTION IF EXISTS ${saveIfDueName(table)}(${saveIfDueParameterTypes(jsonbState)})`),
    sql.unsafe(saveIfDueFunction(table, textState))
  ], { discard: true })
}

/** The function behind `saveIfDue`, schema-qualified as its table. */
const saveIfDueName = (table: string): string => quotedTable(`${table}_save_if_due`)

/** Where `saveIfDue` writes a plain state: the jsonb `state` (migration 0002), `state_text` since 0003. */
interface StateStorage {
  readonly type: "jsonb" | "text"
  readonly column: "state" | "state_text"
}
const jsonbState: StateStorage = { type: "jsonb", column: "state" }
const textState: StateStorage = { type: "text", column: "state_text" }

const saveIfDueParameterTypes = (state: StateStorage): string =>
  `text, text, bigint, bigint, text, ${state.type}, bytea, timestamptz, jsonb, bigint`

// `saveIfDue` in one round trip: under READ COMMITTED a lone `INSERT ... WHERE NOT EXISTS` is not atomic (two
// callers' statements can both see no covering row and both insert, at different versions). A transaction-scoped
// advisory lock on the aggregate serializes the callers; the check must then see every earlier holder's
// committed row, so it must take its snapshot after the lock was granted: in a VOLATILE PL/pgSQL function each
// statement takes a fresh one (a single SQL statement would have taken its snapshot before the lock). A NULL
// `p_created_at` stamps the database's `now()`. A hash collision of two keys only makes them wait for each other.
const saveIfDueFunction = (table: string, state: StateStorage): string => {
  const quoted = quotedTable(table)
  return `CREATE OR REPLACE FUNCTION ${saveIfDueName(table)}(
  p_type text, p_id text, p_version bigint, p_schema_version bigint, p_encoding text, p_state ${state.type},
  p_state_bytes bytea, p_created_at timestamptz, p_metadata jsonb, p_due_from bigint
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $save_if_due$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('${table}' || E'\\n' || p_type || E'\\n' || p_id, 0));
  IF EXISTS (
    SELECT 1 FROM ${quoted} WHERE aggregate_type = p_type AND aggregate_id = p_id AND version >= p_due_from
  ) THEN
    RETURN false;
  END IF;
  INSERT INTO ${quoted}
    (aggregate_type, aggregate_id, version, schema_version, encoding, ${state.column}, state_bytes, created_at, metadata)
  VALUES (p_type, p_id, p_version, p_schema_version, p_encoding, p_state, p_state_bytes,
    coalesce(p_created_at, now()), p_metadata)
  ON CONFLICT DO NOTHING;
  RETURN FOUND;
END
$save_if_due$`
}

// In lower case: the Migrator looks for its table with `'<name>'::regclass`, which folds an unquoted name to
// lower case, so a mixed-case name would never be found (and the probe's error would abort the migration's
// transaction).
const migrationsTableOf = (table: string): string => `${table.toLowerCase()}_migrations`

// Under an advisory lock, in one transaction (`SqlSupport.migrate`, as SqlEventStore does): processes
// starting at once wait for each other instead of racing on CREATE TABLE.
const migrate = (sql: SqlClient.SqlClient, table: string) =>
  sqlSupport.migrate({ sql, migrationsTable: migrationsTableOf(table), migrations: migrations(sql, table) }).pipe(
    Effect.mapError((failed) =>
      new SnapshotStoreError({
        reason: "Unavailable",
        message: `Could not create the snapshot table ${table}: ${failed.message}`,
        cause: failed.cause
      })
    ),
    Effect.withSpan("SqlSnapshotStore.migrate")
  )

const citusFailure = (table: string, message: string, cause?: unknown) =>
  new SnapshotStoreError({
    reason: "Unavailable",
    message: `Could not distribute the snapshot table ${table} with Citus: ${message}`,
    cause
  })

// Before the migrations: on a Citus worker they would create a table that only that worker sees.
const checkCoordinator = (sql: SqlClient.SqlClient, table: string) =>
  Effect.flatMap(sqlSupport.citusCoordinatorProblem(sql), (problem) => {
    if (problem === "NoCitus") {
      return Effect.fail(citusFailure(table, `the extension "citus" is not installed in this database`))
    }
    if (problem === "Worker") {
      return Effect.fail(
        citusFailure(table, `this is a Citus worker; connect the distributed store to the coordinator`)
      )
    }
    return Effect.void
  }).pipe(
    Effect.catchTag("SqlError", (cause) => Effect.fail(citusFailure(table, sqlSupport.describeError(cause), cause)))
  )

// After the migrations, under their advisory lock: distributed by aggregate_id once; a table already
// distributed by aggregate_id is left as it is.
const distribute = (sql: SqlClient.SqlClient, table: string) => {
  const name = quotedTable(table)
  return sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`effect-snapshots:${migrationsTableOf(table)}`}))`
    const done = yield* sqlSupport.distributeByAggregateId(sql, name)
    if (done._tag === "OtherKind") {
      return yield* citusFailure(table, `it is a Citus table of another kind (method ${done.method})`)
    }
  })).pipe(
    Effect.catchTag("SqlError", (cause) => Effect.fail(citusFailure(table, sqlSupport.describeError(cause), cause))),
    Effect.withSpan("SqlSnapshotStore.distribute")
  )
}

// ---------------------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------------------

const build: (
  options?: Options
) => Effect.Effect<
  { readonly service: SnapshotStoreService; readonly source: SqlSource },
  SnapshotStoreError | BadArgument,
  SqlClient.SqlClient
> = Effect.fn(
  "SqlSnapshotStore.make"
)(
  function*(options: Options = {}) {
    const table = options.table ?? defaultTable
    if (!identifier.test(table)) {
      return yield* badArgument(
        `table must be an identifier, optionally schema-qualified, got ${storable.show(String(table))}`
      )
    }
    const pageSize = options.pageSize ?? 1000
    const clock = options.clock ?? "database"
    if (clock !== "database" && clock !== "application" && clock !== "snapshot") {
      return yield* badArgument(`clock must be "database" or "application", got ${storable.show(String(clock))}`)
    }
    const databaseClock = clock === "database"
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      return yield* badArgument(`pageSize must be an integer >= 1, got ${String(pageSize)}`)
    }
    const client = yield* SqlClient.SqlClient
    const sql = client.withoutTransforms()
    if (options.distributed === true) yield* checkCoordinator(sql, table)
    yield* migrate(sql, table)
    if (options.distributed === true) yield* distribute(sql, table)
    const t = sql(table)

    // Inside the caller's transaction (`sql.withTransaction`, or a unit of work on SQL), every statement runs
    // under a savepoint (a nested `withTransaction`): a statement Postgres refuses rolls back to it and
    // leaves the caller's transaction usable. Outside one, a statement is atomic on its own (one round trip).
    // Inside another client's transaction only (another pool: effect/sql's transactions are per client), a
    // write would commit at once, before anyone knows whether that transaction commits: it is refused
    // (`InvalidInput`, which `resilient` neither retries nor counts) and nothing is written; reads run.
    const run = <A>(
      operation: string,
      query: Effect.Effect<ReadonlyArray<unknown>, SqlError>,
      decode: (rows: ReadonlyArray<unknown>) => Effect.Effect<A, SnapshotStoreError>,
      write?: () => string
    ): Effect.Effect<A, SnapshotStoreError> =>
      Effect.flatMap(sqlSupport.transactionSite(sql), (site) => {
        if (site === "Other" && write !== undefined) {
          return Effect.fail(
            new SnapshotStoreError({
              reason: "InvalidInput",
              message: `SqlSnapshotStore: ${write()} refused: ${sqlSupport.otherTransactionMessage}`
            })
          )
        }
        return (site === "Own" ? sql.withTransaction(query) : query).pipe(
          Effect.mapError(errors.fromSqlError(operation)),
          Effect.flatMap(decode)
        )
      })

    const snapshotColumns = sql.literal(
      `aggregate_type, aggregate_id, version, schema_version, created_at, metadata::text AS metadata,
       encoding, ${stateColumn}, state_bytes`
    )
    const infoColumns = sql.literal(
      `aggregate_type, aggregate_id, version, schema_version, created_at, metadata::text AS metadata`
    )

    const firstSnapshot = (operation: string) => (rows: ReadonlyArray<unknown>) =>
      decodeSnapshotRows(rows).pipe(
        Effect.mapError(errors.fromSchemaError(operation)),
        Effect.flatMap((decoded) => decoded.length === 0 ? Effect.succeedNone : Effect.asSome(toSnapshot(decoded[0]!)))
      )

    const count = (operation: string) => (rows: ReadonlyArray<unknown>) =>
      decodeCountRows(rows).pipe(
        Effect.mapError(errors.fromSchemaError(operation)),
        Effect.map(([row]) => row.deleted)
      )

    /** A plain state as JSON text (checked when the caller stringified it already), or compressed bytes. */
    const stateColumns = (snapshot: Snapshot) => {
      const state: unknown = snapshot.state
      const compressed = state instanceof CompressedState ? state : undefined
      const json = compressed === undefined ? storable.checkedJson(state) ?? JSON.stringify(state) : null
      return { compressed, json }
    }

    const describeSave = (snapshot: Snapshot) => () =>
      `save of ${snapshot.aggregateType} ${storable.show(snapshot.aggregateId)} at version ${snapshot.version}`

    const save: SnapshotStoreService["save"] = (snapshot) =>
      Effect.suspend(() => {
        const error = validate.checkSnapshot(snapshot)
        if (error !== undefined) return Effect.fail(error)
        const { compressed, json } = stateColumns(snapshot)
        // ON CONFLICT DO NOTHING: saving a stored version again is a no-op, and an older version never
        // hides a newer one because `load` reads the highest version.
        return run(
          "save",
          sql`INSERT INTO ${t}
  (aggregate_type, aggregate_id, version, schema_version, encoding, state_text, state_bytes, created_at, metadata)
VALUES (${snapshot.aggregateType}, ${snapshot.aggregateId}, ${snapshot.version}, ${snapshot.schemaVersion},
  ${compressed?.algorithm ?? "json"}, ${json}::text, ${compressed?.bytes ?? null}::bytea,
  ${databaseClock ? sql.literal("now()") : sql`${DateTime.formatIso(snapshot.createdAt)}::timestamptz`},
  ${JSON.stringify(snapshot.metadata)}::jsonb)
ON CONFLICT DO NOTHING`,
          () => Effect.void,
          describeSave(snapshot)
        )
      })

    // Atomic in the function (see `saveIfDueFunction`). Outside a transaction its lock lives for this one
    // statement; inside the caller's (a unit of work's inline snapshot, under a savepoint) it is held until that
    // transaction ends, which it must: until then the row is invisible to everyone else, and a second caller
    // that did not wait would write its own. Concurrent `saveIfDue` calls on that aggregate wait that long;
    // other aggregates and plain `save`s never wait.
    const saveIfDueFn = sql.literal(saveIfDueName(table))
    const saveIfDue: SnapshotStoreService["saveIfDue"] = (snapshot, dueOptions) =>
      Effect.suspend(() => {
        const error = validate.checkSaveIfDue(snapshot, dueOptions)
        if (error !== undefined) return Effect.fail(error)
        const { compressed, json } = stateColumns(snapshot)
        return run(
          "saveIfDue",
          sql`SELECT ${saveIfDueFn}(${snapshot.aggregateType}, ${snapshot.aggregateId}, ${snapshot.version}::bigint,
  ${snapshot.schemaVersion}::bigint, ${compressed?.algorithm ?? "json"}, ${json}::text,
  ${compressed?.bytes ?? null}::bytea,
  ${databaseClock ? null : DateTime.formatIso(snapshot.createdAt)}::timestamptz,
  ${JSON.stringify(snapshot.metadata)}::jsonb, ${dueOptions.dueFrom}::bigint) AS written`,
          (rows) =>
            Effect.map(
              Effect.mapError(decodeWrittenRows(rows), errors.fromSchemaError("saveIfDue")),
              ([row]) => row.written ? "Written" as const : "AlreadyCovered" as const
            ),
          describeSave(snapshot)
        )
      })

    const load: SnapshotStoreService["load"] = (aggregateType, aggregateId, options) =>
      Effect.suspend(() => {
        const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkMaxVersion(options?.maxVersion)
        if (error !== undefined) return Effect.fail(error)
        const maxVersion = options?.maxVersion
        // One query, one backward probe of the primary key.
        return run(
          "load",
          maxVersion === undefined
            ? sql`SELECT ${snapshotColumns} FROM ${t}
WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId}
ORDER BY version DESC LIMIT 1`
            : sql`SELECT ${snapshotColumns} FROM ${t}
WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId} AND version <= ${maxVersion}
ORDER BY version DESC LIMIT 1`,
          firstSnapshot("load")
        )
      })

    const list: SnapshotStoreService["list"] = (aggregateType, aggregateId) =>
      Effect.suspend(() => {
        const error = validate.checkKey(aggregateType, aggregateId)
        if (error !== undefined) return Effect.fail(error)
        return run(
          "list",
          sql`SELECT ${infoColumns} FROM ${t}
WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId}
ORDER BY version ASC`,
          (rows) =>
            decodeInfoRows(rows).pipe(
              Effect.mapError(errors.fromSchemaError("list")),
              Effect.flatMap(Effect.forEach(toInfo))
            )
        )
      })

    const delete_: SnapshotStoreService["delete"] = (aggregateType, aggregateId, options) =>
      Effect.suspend(() => {
        const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkDeleteVersion(options?.version)
        if (error !== undefined) return Effect.fail(error)
        const version = options?.version
        return run(
          "delete",
          version === undefined
            ? sql`WITH d AS (
  DELETE FROM ${t} WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId} RETURNING 1
) SELECT count(*)::int AS deleted FROM d`
            : sql`WITH d AS (
  DELETE FROM ${t}
  WHERE aggregate_type = ${aggregateType} AND aggregate_id = ${aggregateId} AND version = ${version}
  RETURNING 1
) SELECT count(*)::int AS deleted FROM d`,
          count("delete"),
          () => `delete of ${aggregateType} ${storable.show(aggregateId)}`
        )
      })

    const latestForType: SnapshotStoreService["latestForType"] = (aggregateType) =>
      Effect.suspend(() => {
        const error = validate.checkType(aggregateType)
        if (error !== undefined) return Effect.fail(error)
        return run(
          "latestForType",
          sql`SELECT ${snapshotColumns} FROM ${t} WHERE aggregate_type = ${aggregateType}
ORDER BY created_at DESC, version DESC, aggregate_id DESC LIMIT 1`,
          firstSnapshot("latestForType")
        )
      })

    type Cursor = Option.Option<readonly [string, string]>

    const page = (aggregateType: string | undefined, after: Cursor) => {
      const query = aggregateType === undefined
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
      return run(
        "aggregates",
        query,
        (rows) => Effect.mapError(decodeKeyRows(rows), errors.fromSchemaError("aggregates"))
      )
    }

    const aggregates: SnapshotStoreService["aggregates"] = (aggregateType) =>
      Stream.unwrap(Effect.suspend(() => {
        const error = aggregateType === undefined ? undefined : validate.checkType(aggregateType)
        if (error !== undefined) return Effect.fail(error)
        // Keyset pagination: each page starts after the last key of the previous one.
        return Effect.succeed(Stream.paginate(Option.none() as Cursor, (after) =>
          Effect.map(page(aggregateType, after), (rows) => {
            const keys = rows.map((row) =>
              new SnapshotKey(
                { aggregateType: row.aggregate_type, aggregateId: row.aggregate_id },
                { disableChecks: true }
              )
            )
            const last = rows[rows.length - 1]
            const next: Option.Option<Cursor> = rows.length < pageSize || last === undefined
              ? Option.none()
              : Option.some(Option.some([last.aggregate_type, last.aggregate_id] as const))
            return [keys, next] as const
          })))
      }))

    const prune: SnapshotStoreService["prune"] = (options) =>
      Effect.suspend(() => {
        const checked = validate.checkPrune(options)
        if (checked instanceof SnapshotStoreError) return Effect.fail(checked)
        return Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<PruneResult, SnapshotStoreError> => {
          const olderThan = checked.olderThanMillis
          const cutoffMillis = olderThan === undefined ? undefined : now - olderThan
          // A cutoff before any representable time: nothing is old enough.
          if (cutoffMillis !== undefined && !(cutoffMillis > -8.64e15)) return Effect.succeed({ deleted: 0 })
          const cutoff = cutoffMillis === undefined ? null : new Date(cutoffMillis).toISOString()
          const type = options.aggregateType ?? null
          // Set-based: rank each aggregate's snapshots newest first, delete those past `keepLast` that are
          // (when an age is given) created before the cutoff. The cutoff comes from Effect's Clock.
          return run(
            "prune",
            sql`WITH ranked AS (
  SELECT aggregate_type, aggregate_id, version, created_at,
         row_number() OVER (PARTITION BY aggregate_type, aggregate_id ORDER BY version DESC) AS rank
  FROM ${t}
  WHERE ${type}::text IS NULL OR aggregate_type = ${type}::text
), d AS (
  DELETE FROM ${t} AS s USING ranked AS r
  WHERE s.aggregate_type = r.aggregate_type AND s.aggregate_id = r.aggregate_id AND s.version = r.version
    AND r.rank > ${options.keepLast}
    AND (${cutoff}::timestamptz IS NULL OR r.created_at < ${cutoff}::timestamptz)
  RETURNING 1
) SELECT count(*)::int AS deleted FROM d`,
            (rows) => Effect.map(count("prune")(rows), (deleted) => ({ deleted })),
            () => "prune"
          )
        })
      })

    // The database's time without a round trip per call: measured (clock_timestamp(), assumed at the middle of
    // the round trip) at most once a minute, and carried forward on the caller's monotonic clock, which no step
    // of its wall clock moves. While the database cannot be asked, the last measure is carried forward, or,
    // without one, the caller's clock stands in.
    let measured: { readonly millis: number; readonly at: bigint } | undefined
    const monotonic = Clock.clockWith((c) => c.monotonicTimeNanos)
    const measure = Effect.gen(function*() {
      const before = yield* monotonic
      const millis = yield* run(
        "now",
        sql`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS millis`,
        (rows) => Effect.mapError(decodeNowRows(rows), errors.fromSchemaError("now"))
      )
      const after = yield* monotonic
      measured = { millis: millis[0].millis + Number(after - before) / 2e6, at: after }
    })
    const databaseNow: Effect.Effect<DateTime.Utc> = Effect.gen(function*() {
      const current = yield* monotonic
      // A monotonic time before the measure's: the caller runs on another Clock than the measure did.
      if (measured === undefined || current < measured.at || current - measured.at > measureEvery) {
        yield* Effect.ignore(measure)
      }
      const at = yield* monotonic
      if (measured === undefined || at < measured.at) return yield* DateTime.now
      return DateTime.makeUnsafe(Math.round(measured.millis + Number(at - measured.at) / 1e6))
    })

    const service: SnapshotStoreService = {
      save,
      saveIfDue,
      ...(databaseClock ? { now: databaseNow } : {}),
      load,
      list,
      delete: delete_,
      latestForType,
      aggregates,
      prune
    }
    return { service, source: makeSource(service, client, table) }
  }
)

/**
 * Builds the store on the `SqlClient` in context: runs the migrations (creating the table and its index
 * if needed), then answers the service. Queries run without the client's name transforms.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<SnapshotStoreService, SnapshotStoreError | BadArgument, SqlClient.SqlClient> =>
  Effect.map(build(options), (built) => built.service)

/**
 * The store as a layer with options; building it runs the migrations.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<SnapshotStore | Source, SnapshotStoreError | BadArgument, SqlClient.SqlClient> =>
  Layer.effectContext(
    Effect.map(build(options), ({ service, source }) =>
      Context.make(SnapshotStore, service).pipe(Context.add(Source, source)))
  )

/**
 * The store on the default table `effect_snapshots`; building it runs the migrations.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SnapshotStore | Source, SnapshotStoreError | BadArgument, SqlClient.SqlClient> =
  layerWith({})
