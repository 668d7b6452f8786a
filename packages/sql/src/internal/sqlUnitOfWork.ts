/**
 * The unit of work on SQL: a unit is `sql.withTransaction` (a savepoint when nested), and a failed BEGIN,
 * COMMIT, ROLLBACK or savepoint is a typed `UnitOfWorkError` that says whether the commit may have happened.
 *
 * @internal
 */
import * as UnitOfWork from "@effect-snapshots/store/UnitOfWork"
import { UnitOfWorkError } from "@effect-snapshots/store/UnitOfWorkError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import { describeError, transactionOutcome } from "./sqlSupport.js"

/** The unit's own statement (its transaction id) failed: the connection failed before COMMIT. */
class TransactionLost {
  constructor(readonly cause: unknown) {}
}

const rolledBack = (message: string, cause: unknown) => new UnitOfWorkError({ reason: "RolledBack", message, cause })

const outcomeUnknown = (message: string, cause: unknown) =>
  new UnitOfWorkError({ reason: "CommitOutcomeUnknown", message, cause })

/** How long a failed COMMIT's transaction may stay `in progress` (its session ending) before it is unknown. */
const statusPolls = Schedule.spaced("100 millis")
const statusPollTimes = 10

/**
 * A unit's transaction on `sql`. The outermost one asks for its transaction id right before COMMIT (one
 * round trip): when COMMIT fails (a dropped connection), the server is asked (`pg_xact_status`, on another
 * connection) whether the transaction committed, and the unit succeeds, is `RolledBack`, or its outcome is
 * unknown.
 */
const transact =
  (sql: SqlClient.SqlClient, outermost: boolean) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | UnitOfWorkError, R> =>
    Effect.suspend(() => {
      let transactionId: string | null = null
      const body = outermost
        ? Effect.tap(effect, () =>
          sql.unsafe(`SELECT pg_current_xact_id_if_assigned()::text`).values.pipe(
            Effect.map((rows) => void (transactionId = (rows[0]?.[0] as string | null | undefined) ?? null)),
            Effect.mapError((cause) => new TransactionLost(cause))
          ))
        : effect
      return Effect.flatMap(transactionOutcome(sql, body), (outcome): Effect.Effect<A, E | UnitOfWorkError> => {
        switch (outcome._tag) {
          case "Ended":
            return Effect.catchIf(
              outcome.exit,
              (error): error is TransactionLost => error instanceof TransactionLost,
              (lost) =>
                Effect.fail(rolledBack(
                  `the unit's transaction was lost before COMMIT (nothing of it is stored): ${
                    describeError(lost.cause)
                  }`,
                  lost.cause
                ))
            ) as Effect.Effect<A, E | UnitOfWorkError>
          case "NotStarted":
            return Effect.fail(
              new UnitOfWorkError({
                reason: "NotStarted",
                message: `the unit's ${
                  outermost ? "transaction" : "savepoint"
                } could not be opened (nothing of it ran): ${describeError(outcome.cause)}`,
                cause: outcome.cause
              })
            )
          case "EndFailed":
            return outermost
              ? settle(sql, transactionId, outcome.value, outcome.cause)
              : Effect.fail(rolledBack(
                `the unit's savepoint could not be released (the transaction around it is lost): ${
                  describeError(outcome.cause)
                }`,
                outcome.cause
              ))
        }
      })
    })

/** After a failed COMMIT: what the server says became of the transaction. */
const settle = <A>(
  sql: SqlClient.SqlClient,
  transactionId: string | null,
  value: A,
  commitCause: unknown
): Effect.Effect<A, UnitOfWorkError> => {
  const failed = describeError(commitCause)
  if (transactionId === null) {
    // No transaction id on this server: it wrote nothing here (or a distributed transaction wrote elsewhere).
    return Effect.fail(outcomeUnknown(
      `COMMIT failed and the transaction has no id on this server to look up: ${failed}`,
      commitCause
    ))
  }
  const status = sql.unsafe(`SELECT pg_xact_status($1::xid8)`, [transactionId]).values.pipe(
    Effect.map((rows) => String(rows[0]?.[0])),
    Effect.flatMap((status) => status === "in progress" ? Effect.fail("in progress" as const) : Effect.succeed(status)),
    Effect.retry({ schedule: statusPolls, times: statusPollTimes, while: (error) => error === "in progress" }),
    Effect.result
  )
  return Effect.flatMap(status, (answer) => {
    if (answer._tag === "Failure") {
      const why = answer.failure === "in progress"
        ? "the server still reports the transaction in progress"
        : `the server could not be asked: ${describeError(answer.failure)}`
      return Effect.fail(
        outcomeUnknown(`COMMIT failed and whether it committed is unknown (${why}): ${failed}`, commitCause)
      )
    }
    switch (answer.success) {
      case "committed":
        return Effect.as(
          Effect.logWarning(`UnitOfWork: COMMIT reported a failure, but the transaction committed: ${failed}`),
          value
        )
      case "aborted":
        return Effect.fail(rolledBack(`COMMIT failed and the transaction was rolled back: ${failed}`, commitCause))
      default:
        return Effect.fail(outcomeUnknown(
          `COMMIT failed and the server reports the transaction as ${answer.success}: ${failed}`,
          commitCause
        ))
    }
  })
}

/** @internal */
export const makeSql: Effect.Effect<UnitOfWork.UnitOfWorkService, never, SqlClient.SqlClient> = Effect.map(
  SqlClient.SqlClient,
  (sql): UnitOfWork.UnitOfWorkService => ({
    transaction: <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | UnitOfWorkError, R> =>
      Effect.flatMap(UnitOfWork.enclosing, (around) => {
        switch (around._tag) {
          case "None":
            return UnitOfWork.runUnit(effect, transact(sql, true), Option.none())
          case "Unit":
            return UnitOfWork.runUnit(effect, transact(sql, false), Option.some(around.unit))
          case "Transaction":
            // Inside a transaction the application opened itself nothing says when (or whether) it commits,
            // so there is no unit to defer work to: a savepoint, and the stores see a bare transaction.
            return transact(sql, false)(effect)
        }
      })
  })
)

/** @internal */
export const layerSql: Layer.Layer<UnitOfWork.UnitOfWork, never, SqlClient.SqlClient> = Layer.effect(
  UnitOfWork.UnitOfWork,
  makeSql
)
