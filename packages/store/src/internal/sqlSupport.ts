/**
 * SQL helpers shared by the SQL stores; see `../SqlSupport.ts`.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { isSqlError } from "effect/sql/SqlError"
import type * as SqlSupport from "../SqlSupport.js"

/** @internal */
export const sqlState = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * `@effect/sql-pg` 4 puts "unknown" in a `UniqueViolation` reason when the server sent no constraint field, as
 * a Citus coordinator does for an error relayed from a worker; the message still names it. @internal
 */
export const constraintOf = (error: unknown): string | undefined => {
  let fromMessage: string | undefined
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const constraint = (current as { constraint?: unknown }).constraint
    if (typeof constraint === "string" && constraint !== "unknown") return constraint
    const message = (current as { message?: unknown }).message
    fromMessage ??= typeof message === "string"
      ? /violates \w[\w ]* constraint "([^"]+)"/.exec(message)?.[1]
      : undefined
    current = (current as { cause?: unknown }).cause
  }
  return fromMessage
}

/** @internal */
export const describeError = (error: unknown): string => {
  const messages: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const message = (current as { message?: unknown }).message
    if (typeof message === "string" && message !== "" && !messages.includes(message)) messages.push(message)
    current = (current as { cause?: unknown }).cause
  }
  const text = messages.length > 0 ? messages.join(": ") : String(error)
  const state = sqlState(error)
  return state === undefined ? text : `${text} (SQLSTATE ${state})`
}

/**
 * Whether a driver refused a server message as larger than its limit (`@effect/sql-pg` 4:
 * `Message length N exceeds maxMessageSize M`, a `PgProtocolParseError` under a `ConnectionError`). @internal
 */
export const isMessageTooLarge = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const message = (current as { message?: unknown }).message
    if (typeof message === "string" && message.includes("exceeds maxMessageSize")) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** @internal */
export const classify = (error: unknown): SqlSupport.Classification => {
  const state = sqlState(error)
  if (state === undefined) {
    // A driver that gives no SQLSTATE may still classify the failure as a constraint violation.
    const reason = isSqlError(error) ? error.reason._tag : undefined
    return reason === "UniqueViolation" || reason === "ConstraintError" ? "Conflict" : "Unavailable"
  }
  if (state.startsWith("23")) return "Conflict"
  if (state.startsWith("22")) return "InvalidInput"
  return "Unavailable"
}

/**
 * `effect/sql`'s record of the innermost transaction any client opened with `withTransaction` (the key of that
 * client's `transactionService`): `CurrentTransactionService`, internal to effect 4.1.5 and read here by its
 * key. It finds a transaction opened on a client the fiber's context does not hold (an application service
 * that captured its client when its layer was built). Omitting the client's transaction service from a
 * context (`Context.omit(sql.transactionService)`) hides the transaction here too. @internal
 */
export const CurrentTransactionService: Context.Service<never, Context.Key<unknown, unknown>> = Context.Service(
  "effect/sql/CurrentTransactionService"
)

/** @internal */
export const transactionSiteIn = (
  context: Context.Context<never>,
  sql: SqlClient.SqlClient
): SqlSupport.TransactionSite => {
  if (Context.getOrUndefined(context, sql.transactionService) !== undefined) return "Own"
  const current = Context.getOrUndefined(context, CurrentTransactionService)
  return current !== undefined && Context.getOrUndefined(context, current) !== undefined ? "Other" : "None"
}

/** @internal */
export const transactionSite = (sql: SqlClient.SqlClient): Effect.Effect<SqlSupport.TransactionSite> =>
  Effect.contextWith((context: Context.Context<never>) => Effect.succeed(transactionSiteIn(context, sql)))

/** @internal */
export const withSavepoint = (sql: SqlClient.SqlClient) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.serviceOption(sql.transactionService),
    (transaction): Effect.Effect<A, E | SqlError, R> =>
      Option.isSome(transaction) ? sql.withTransaction(effect) : effect
  )

/** @internal */
export const otherTransactionMessage =
  "it runs inside a transaction of another SqlClient than the store's, and would commit on its own " +
  "(each effect/sql client has its own transaction): build the stores on the application's client"

/** @internal */
export class MigrationFailed extends Data.TaggedError("MigrationFailed")<{
  readonly table: string
  readonly message: string
  readonly cause: unknown
}> {}

const migrationsOf = (
  migrations: SqlSupport.MigrateOptions["migrations"]
): Record<string, Effect.Effect<void, SqlError>> => {
  const out: Record<string, Effect.Effect<void, SqlError>> = {}
  for (const [key, migration] of Object.entries(migrations)) out[key] = Effect.asVoid(migration)
  return out
}

/** @internal */
export const migrate = (options: SqlSupport.MigrateOptions): Effect.Effect<void, MigrationFailed> => {
  const sql = options.sql.withoutTransforms()
  const table = options.migrationsTable
  return sql.withTransaction(
    Effect.all([
      // Two processes starting at once: the second waits here until the first has committed its migrations.
      sql`SELECT pg_advisory_xact_lock(hashtext(${`effect-snapshots:${table}`}))`,
      // Created here, with the Migrator's own layout, so that it exists before the Migrator looks for it (it
      // finds it with `to_regclass`, quoted: the name must be the one created here, in lower case).
      sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
  migration_id integer PRIMARY KEY,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  name text NOT NULL
)`,
      Migrator.make({})({ loader: Migrator.fromRecord(migrationsOf(options.migrations)), table }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql)
      )
    ], { discard: true })
  ).pipe(
    // A rollback that fails (a dropped connection) is a defect in effect/sql; here it is a typed failure.
    Effect.catchDefect((defect) => Effect.fail(defect)),
    Effect.mapError((cause) =>
      new MigrationFailed({ table, message: `migrations of ${table} failed: ${describeError(cause)}`, cause })
    ),
    Effect.withSpan("SqlSupport.migrate", { attributes: { table } })
  )
}

// ---------------------------------------------------------------------------------------------------------
// Citus
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const hasCitus = (sql: SqlClient.SqlClient): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql.unsafe(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).values,
    (rows) => rows[0]?.[0] === true
  )

/** @internal */
export const citusCoordinatorProblem = (
  sql: SqlClient.SqlClient
): Effect.Effect<SqlSupport.CitusProblem | undefined, SqlError> =>
  Effect.flatMap(hasCitus(sql), (installed) =>
    installed
      ? Effect.map(
        sql.unsafe(`SELECT citus_is_coordinator()`).values,
        (rows) => rows[0]?.[0] === true ? undefined : "Worker" as const
      )
      : Effect.succeed("NoCitus" as const))

/** @internal */
export const citusDistribution = (
  sql: SqlClient.SqlClient,
  table: string
): Effect.Effect<Option.Option<SqlSupport.CitusDistribution>, SqlError> =>
  Effect.map(
    sql.unsafe(
      `SELECT partmethod::text, column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition
WHERE logicalrelid = $1::regclass`,
      [table]
    ).values,
    (rows) =>
      rows.length === 0
        ? Option.none()
        : Option.some({ method: String(rows[0]![0]), column: rows[0]![1] === null ? null : String(rows[0]![1]) })
  )

/** @internal */
export const isByAggregateId = (distribution: SqlSupport.CitusDistribution): boolean =>
  distribution.method === "h" && distribution.column === "aggregate_id"

/** @internal */
export const distributeByAggregateId = (
  sql: SqlClient.SqlClient,
  table: string
): Effect.Effect<SqlSupport.CitusDistributed, SqlError> =>
  Effect.flatMap(citusDistribution(sql, table), (current) => {
    if (Option.isSome(current)) {
      return Effect.succeed<SqlSupport.CitusDistributed>(
        isByAggregateId(current.value) ? { _tag: "AlreadyDistributed" } : { _tag: "OtherKind", ...current.value }
      )
    }
    return Effect.as(
      Effect.andThen(
        sql.unsafe(`SELECT create_distributed_table($1, 'aggregate_id', colocate_with => 'default')`, [table]),
        // The rows of a table distributed with data were copied to the shards; the coordinator's copy goes.
        sql.unsafe(`SELECT truncate_local_data_after_distributing_table($1)`, [table])
      ),
      { _tag: "Distributed" } as const
    )
  })
