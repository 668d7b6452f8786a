/** The events table: its migrations, the append statement and functions, and the Citus layout. */
import { EventStoreError } from "@effect-snapshots/loader/EventStore"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { CitusDistribution } from "../../SqlSupport.js"
import * as SqlSupport from "../sqlSupport.js"
import { describeError, quote } from "./rows.js"

export const migrations = (sql: SqlClient.SqlClient, table: string) => {
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
    // The append of a batch, as a PL/pgSQL function taking the batch as one jsonb array. One event goes as a
    // prepared statement of its own (`appendOneStatement`), which measured cheaper than calling this function;
    // on Citus the routed function (below) runs the append on the stream's worker.
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
export const appendFunction = (table: string): string => `${table}_append`

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

/**
 * The append of one event on a local table, as a statement (parameters: type, id, expected version, event
 * type, payload and metadata as JSON text): `appendStatement`'s check, order_xid and answer (the head's
 * version, the new position or NULL when refused, the head's position) with a single-row INSERT, no batch
 * JSON to expand.
 */
export const appendOneStatement = (t: string): string =>
  `WITH head AS (
  SELECT h.version, h.position, h.order_xid FROM ${t} h
  WHERE h.aggregate_type = $1 AND h.aggregate_id = $2
  ORDER BY h.version DESC LIMIT 1
), inserted AS (
  INSERT INTO ${t} (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
  SELECT $1, $2, $3 + 1, $4, $5::jsonb, $6::jsonb, GREATEST(pg_current_xact_id(), (SELECT head.order_xid FROM head))
  WHERE COALESCE((SELECT head.version FROM head), 0) = $3
  RETURNING ${t}.position
)
SELECT COALESCE((SELECT head.version FROM head), 0)::integer,
  (SELECT i.position FROM inserted i),
  COALESCE((SELECT head.position FROM head), 0)::bigint`

/** The append function that Citus delegates to a stream's worker (at most 54 characters). */
export const routedAppendFunction = (table: string): string => `${table}_append_routed`

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
export type Layout = "local" | "distributed"

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
export const checkCoordinator = (sql: SqlClient.SqlClient, table: string): Effect.Effect<void, EventStoreError> =>
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

const otherKind = (table: string, distribution: CitusDistribution) =>
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
export const prepareLayout = (
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
