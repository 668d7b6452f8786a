/**
 * SQL helpers shared by the SQL stores; see `../SqlSupport.ts`.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, SqlError, UnknownError } from "effect/sql/SqlError"
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

/**
 * How a `sql.withTransaction` around an effect ended, the effect's own outcome told apart from the
 * transaction's: `Ended` (the effect's exit, and the transaction committed or was rolled back as it should; a
 * failed ROLLBACK, a defect in `effect/sql`, is dropped: nothing committed either way), `NotStarted` (no
 * connection, BEGIN or SAVEPOINT failed: the effect never ran), `EndFailed` (the effect succeeded, then COMMIT
 * or RELEASE SAVEPOINT failed, typed or as a defect). @internal
 */
export type TransactionOutcome<A, E> =
  | { readonly _tag: "Ended"; readonly exit: Exit.Exit<A, E> }
  | { readonly _tag: "NotStarted"; readonly cause: Cause.Cause<unknown> }
  | { readonly _tag: "EndFailed"; readonly value: A; readonly cause: Cause.Cause<unknown> }

/** `sql.withTransaction(effect)` (a savepoint when nested), with its outcome (see `TransactionOutcome`). @internal */
export const transactionOutcome = <A, E, R>(
  sql: SqlClient.SqlClient,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<TransactionOutcome<A, E>, never, R> =>
  Effect.suspend(() => {
    let ran: Exit.Exit<A, E> | undefined
    const recorded = Effect.onExit(effect, (exit) => Effect.sync(() => void (ran = exit)))
    return Effect.flatMap(Effect.exit(sql.withTransaction(recorded)), (exit) => {
      if (ran === undefined) {
        if (Exit.isSuccess(exit)) return Effect.die(new Error("sql.withTransaction succeeded without its effect"))
        return Cause.hasInterruptsOnly(exit.cause)
          ? Effect.failCause(exit.cause as Cause.Cause<never>)
          : Effect.succeed<TransactionOutcome<A, E>>({ _tag: "NotStarted", cause: exit.cause })
      }
      const own = ran
      if (Exit.isFailure(own) || Exit.isSuccess(exit)) {
        return Effect.succeed<TransactionOutcome<A, E>>({ _tag: "Ended", exit: own })
      }
      return Effect.succeed<TransactionOutcome<A, E>>({ _tag: "EndFailed", value: own.value, cause: exit.cause })
    })
  })

/** The `SqlError` in a cause (a failure or a defect), or one wrapping the cause. @internal */
export const sqlErrorOf = (cause: Cause.Cause<unknown>, message: string): SqlError => {
  for (const reason of cause.reasons) {
    const error = Cause.isFailReason(reason) ? reason.error : Cause.isDieReason(reason) ? reason.defect : undefined
    if (isSqlError(error)) return error
  }
  return new SqlError({ reason: new UnknownError({ cause: Cause.squash(cause), message }) })
}

/**
 * Under a savepoint inside a transaction of `sql`: a savepoint that cannot be opened or released is a typed
 * `SqlError` (`effect/sql` makes a failed RELEASE SAVEPOINT a defect). @internal
 */
export const withSavepoint = (sql: SqlClient.SqlClient) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.serviceOption(sql.transactionService),
    (transaction): Effect.Effect<A, E | SqlError, R> =>
      Option.isSome(transaction)
        ? Effect.flatMap(transactionOutcome(sql, effect), (outcome): Effect.Effect<A, E | SqlError> => {
          switch (outcome._tag) {
            case "Ended":
              return outcome.exit
            case "NotStarted":
              return Effect.fail(sqlErrorOf(outcome.cause, "SAVEPOINT failed"))
            case "EndFailed":
              return Effect.fail(sqlErrorOf(outcome.cause, "RELEASE SAVEPOINT failed"))
          }
        })
        : effect
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
