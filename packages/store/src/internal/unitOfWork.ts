import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as UnitOfWork from "../UnitOfWork.js"

/** @internal */
export const CurrentUnit: Context.Service<UnitOfWork.CurrentUnit, UnitOfWork.Unit> = Context.Service(
  "@effect-snapshots/store/UnitOfWork/CurrentUnit"
)

/** @internal */
export const UnitOfWorkService: Context.Service<UnitOfWork.UnitOfWork, UnitOfWork.UnitOfWorkService> = Context
  .Service("@effect-snapshots/store/UnitOfWork")

// `effect/sql`'s services, read by their keys so that this package needs no SQL: the `SqlClient` in context, and
// its record of the innermost transaction any client opened with `withTransaction` (the key of that client's
// `transactionService`, internal to effect 4.1.5), which also finds a transaction opened on a client the
// fiber's context does not hold.
const SqlClient: Context.Service<never, { readonly transactionService: Context.Key<unknown, unknown> }> = Context
  .Service("effect/sql/SqlClient")
const CurrentTransactionService: Context.Service<never, Context.Key<unknown, unknown>> = Context.Service(
  "effect/sql/CurrentTransactionService"
)

/**
 * Whether the fiber runs inside a SQL transaction: the transaction of the `SqlClient` in context, or the
 * innermost one any client opened. @internal
 */
export const inSqlTransaction = (context: Context.Context<never>): boolean => {
  const client = Context.getOrUndefined(context, SqlClient)
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

/** @internal */
export class Deadlock extends Schema.TaggedError<Deadlock>("@effect-snapshots/store/UnitOfWork/Deadlock")(
  "Deadlock",
  { message: Schema.String }
) {}

/**
 * The transaction of an outermost unit, shared by the units nested in it: its end actions, its end, and the
 * transaction it waits for (the edges of the wait-for graph `awaitEnd` checks for cycles).
 */
class TransactionImpl implements UnitOfWork.Transaction {
  readonly endActions: Array<(outcome: UnitOfWork.Outcome) => Effect.Effect<void>> = []
  readonly done = Deferred.makeUnsafe<UnitOfWork.Outcome>()
  /** The transactions its fibers wait for (one entry per waiting fiber). */
  readonly waitingFor: Array<UnitOfWork.Transaction> = []
  readonly onEnd = (action: (outcome: UnitOfWork.Outcome) => Effect.Effect<void>): Effect.Effect<void> =>
    Effect.sync(() => void this.endActions.push(action))
  readonly ended: Effect.Effect<UnitOfWork.Outcome> = Deferred.await(this.done)
}

/** Whether `from` waits, directly or through other transactions, for `target`. */
const waitsFor = (from: UnitOfWork.Transaction, target: UnitOfWork.Transaction): boolean => {
  const seen = new Set<UnitOfWork.Transaction>()
  const pending = [from]
  for (let t = pending.pop(); t !== undefined; t = pending.pop()) {
    if (t === target) return true
    if (seen.has(t)) continue
    seen.add(t)
    if (t instanceof TransactionImpl) pending.push(...t.waitingFor)
  }
  return false
}

/**
 * Wait until `holder` ended. A `waiter` transaction is recorded as waiting meanwhile; when `holder` already
 * waits for it (a cycle), the waiter fails at once with `Deadlock` instead (PostgreSQL fails one of them
 * too, after `deadlock_timeout`).
 *
 * @internal
 */
export const awaitEnd = (
  holder: UnitOfWork.Transaction,
  waiter: UnitOfWork.Transaction | undefined
): Effect.Effect<UnitOfWork.Outcome, Deadlock> => {
  if (!(waiter instanceof TransactionImpl)) return holder.ended
  return Effect.suspend(() => {
    if (waitsFor(holder, waiter)) {
      return Effect.fail(
        new Deadlock({
          message: "deadlock: this unit waits for another one that waits for it; this unit is failed to break it"
        })
      )
    }
    waiter.waitingFor.push(holder)
    return Effect.ensuring(
      holder.ended,
      Effect.sync(() => void waiter.waitingFor.splice(waiter.waitingFor.indexOf(holder), 1))
    )
  })
}

/** What one unit collected while it ran. */
interface Collected {
  readonly afterCommit: Array<Effect.Effect<void>>
  readonly onRollback: Array<Effect.Effect<void>>
}

const unitOf = (collected: Collected, transaction: UnitOfWork.Transaction): UnitOfWork.Unit => ({
  afterCommit: (action) => Effect.sync(() => void collected.afterCommit.push(action)),
  onRollback: (undo) => Effect.sync(() => void collected.onRollback.push(undo)),
  transaction
})

/** Each action runs on its own: one that fails or dies is logged, and the next ones still run. */
const runAll = (actions: ReadonlyArray<Effect.Effect<void>>, what: string) =>
  Effect.forEach(
    actions,
    (action) => Effect.catchCause(action, (cause) => Effect.logWarning(`UnitOfWork: an ${what} action failed`, cause)),
    { discard: true }
  )

/** The transaction's end actions with its outcome, then its end (what waiting writers wait for). */
const end = (transaction: TransactionImpl, outcome: UnitOfWork.Outcome) =>
  Effect.andThen(
    runAll(transaction.endActions.map((action) => Effect.suspend(() => action(outcome))), "end"),
    Deferred.succeed(transaction.done, outcome)
  )

/**
 * A unit around `effect`, inside `transact` (the identity for memory, `sql.withTransaction` for SQL, which
 * nests as a savepoint). On failure (or interruption) the unit's undo actions run, newest first, and its
 * after-commit actions are dropped. On success an outermost unit runs its after-commit actions; a nested one
 * hands both lists to the unit around it, whose own outcome decides. An outermost unit's transaction ends
 * (its end actions run, then waiters resume) after the undo actions on failure, before the after-commit
 * actions on success. @internal
 */
export const runUnit = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  transact: <A1, E1, R1>(inner: Effect.Effect<A1, E1, R1>) => Effect.Effect<A1, E1 | E2, R1>,
  outer: Option.Option<UnitOfWork.Unit>
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) => {
    const collected: Collected = { afterCommit: [], onRollback: [] }
    // An outermost unit opens a transaction; a nested one belongs to the transaction around it.
    const own = Option.isNone(outer) ? new TransactionImpl() : undefined
    const transaction = Option.isSome(outer) ? outer.value.transaction : own!
    return restore(transact(Effect.provideService(effect, CurrentUnit, unitOf(collected, transaction)))).pipe(
      Effect.exit,
      Effect.flatMap((exit): Effect.Effect<A, E | E2> => {
        if (Exit.isFailure(exit)) {
          const undo = runAll(collected.onRollback.reverse(), "undo")
          return Effect.andThen(own === undefined ? undo : Effect.andThen(undo, end(own, "RolledBack")), exit)
        }
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
        return Effect.andThen(
          Effect.andThen(end(own!, "Committed"), runAll(collected.afterCommit, "after-commit")),
          exit
        )
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
