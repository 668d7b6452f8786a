import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import type * as UnitOfWork from "../UnitOfWork.js"
import { CurrentTransactionService } from "./sqlSupport.js"

/** @internal */
export const CurrentUnit: Context.Service<UnitOfWork.CurrentUnit, UnitOfWork.Unit> = Context.Service(
  "@effect-snapshots/store/UnitOfWork/CurrentUnit"
)

/** @internal */
export const UnitOfWorkService: Context.Service<UnitOfWork.UnitOfWork, UnitOfWork.UnitOfWorkService> = Context
  .Service("@effect-snapshots/store/UnitOfWork")

/**
 * Whether the fiber runs inside a SQL transaction: the transaction of the `SqlClient` in context, or the
 * innermost one any client opened (`sqlSupport.CurrentTransactionService`). @internal
 */
export const inSqlTransaction = (context: Context.Context<never>): boolean => {
  const client = Context.getOrUndefined(context, SqlClient.SqlClient)
  if (client !== undefined && Context.getOrUndefined(context, client.transactionService) !== undefined) return true
  const current = Context.getOrUndefined(context, CurrentTransactionService)
  return current !== undefined && Context.getOrUndefined(context, current) !== undefined
}

const none: UnitOfWork.Enclosing = { _tag: "None" }
const bareTransaction: UnitOfWork.Enclosing = { _tag: "Transaction" }

/**
 * Context lookups only: the unit first (a unit's SQL transaction is a transaction too), then a transaction the
 * application opened itself.
 *
 * @internal
 */
export const enclosing: Effect.Effect<UnitOfWork.Enclosing> = Effect.contextWith(
  (context: Context.Context<never>): Effect.Effect<UnitOfWork.Enclosing> => {
    const unit = Context.getOption(context, CurrentUnit)
    if (Option.isSome(unit)) return Effect.succeed({ _tag: "Unit", unit: unit.value })
    return Effect.succeed(inSqlTransaction(context) ? bareTransaction : none)
  }
)

/** What one unit collected while it ran. */
interface Collected {
  readonly afterCommit: Array<Effect.Effect<void>>
  readonly onRollback: Array<Effect.Effect<void>>
}

const unitOf = (collected: Collected): UnitOfWork.Unit => ({
  afterCommit: (action) => Effect.sync(() => void collected.afterCommit.push(action)),
  onRollback: (undo) => Effect.sync(() => void collected.onRollback.push(undo))
})

/** Each action runs on its own: one that fails or dies is logged, and the next ones still run. */
const runAll = (actions: ReadonlyArray<Effect.Effect<void>>, what: string) =>
  Effect.forEach(
    actions,
    (action) => Effect.catchCause(action, (cause) => Effect.logWarning(`UnitOfWork: an ${what} action failed`, cause)),
    { discard: true }
  )

/**
 * A unit around `effect`, inside `transact` (the identity for memory, `sql.withTransaction` for SQL, which
 * nests as a savepoint). On failure (or interruption) the unit's undo actions run, newest first, and its
 * after-commit actions are dropped. On success an outermost unit runs its after-commit actions; a nested one
 * hands both lists to the unit around it, whose own outcome decides. @internal
 */
export const runUnit = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  transact: <A1, E1, R1>(inner: Effect.Effect<A1, E1, R1>) => Effect.Effect<A1, E1 | E2, R1>,
  outer: Option.Option<UnitOfWork.Unit>
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) => {
    const collected: Collected = { afterCommit: [], onRollback: [] }
    return restore(transact(Effect.provideService(effect, CurrentUnit, unitOf(collected)))).pipe(
      Effect.exit,
      Effect.flatMap((exit): Effect.Effect<A, E | E2> => {
        if (Exit.isFailure(exit)) return Effect.andThen(runAll(collected.onRollback.reverse(), "undo"), exit)
        if (Option.isSome(outer)) {
          const unit = outer.value
          return Effect.andThen(
            Effect.andThen(
              Effect.forEach(collected.afterCommit, unit.afterCommit, { discard: true }),
              Effect.forEach(collected.onRollback, unit.onRollback, { discard: true })
            ),
            exit
          )
        }
        return Effect.andThen(runAll(collected.afterCommit, "after-commit"), exit)
      })
    )
  })

/** @internal */
export const makeMemory: UnitOfWork.UnitOfWorkService = {
  transaction: (effect) =>
    Effect.flatMap(Effect.serviceOption(CurrentUnit), (outer) => runUnit(effect, (inner) => inner, outer))
}

/** @internal */
export const layerMemory: Layer.Layer<UnitOfWork.UnitOfWork> = Layer.succeed(UnitOfWorkService, makeMemory)
