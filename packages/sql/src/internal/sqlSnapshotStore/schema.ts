/**
 * The snapshots table: its migrations (0001-0003, never rewritten: stored tables depend on them), the
 * `saveIfDue` function, and the Citus layout.
 *
 * @internal
 */
import { SnapshotStoreError } from "@effect-snapshots/store/SnapshotStoreError"
import * as Effect from "effect/Effect"
import type * as SqlClient from "effect/sql/SqlClient"
import * as sqlSupport from "../sqlSupport.js"

/** A table name quoted part by part (`app.snapshots` -> `"app"."snapshots"`). @internal */
export const quotedTable = (table: string): string => table.split(".").map((part) => `"${part}"`).join(".")

const lastSegment = (table: string): string => table.slice(table.lastIndexOf(".") + 1)

/** The function behind `saveIfDue`, schema-qualified as its table. @internal */
export const saveIfDueName = (table: string): string => quotedTable(`${table}_save_if_due`)

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

// In lower case: the Migrator looks for its table with `'<name>'::regclass`, which folds an unquoted name to
// lower case, so a mixed-case name would never be found (and the probe's error would abort the migration's
// transaction).
const migrationsTableOf = (table: string): string => `${table.toLowerCase()}_migrations`

/**
 * The migrations, under an advisory lock in one transaction (`SqlSupport.migrate`, as SqlEventStore's):
 * processes starting at once wait for each other instead of racing on CREATE TABLE. @internal
 */
export const migrate = (sql: SqlClient.SqlClient, table: string) =>
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

/** Before the migrations: on a Citus worker they would create a table that only that worker sees. @internal */
export const checkCoordinator = (sql: SqlClient.SqlClient, table: string) =>
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

/**
 * After the migrations, under their advisory lock: distributed by aggregate_id once; a table already
 * distributed by aggregate_id is left as it is. @internal
 */
export const distribute = (sql: SqlClient.SqlClient, table: string) => {
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
