/**
 * A unit of work: what an application runs as one transaction (its events, its read-model rows, the
 * snapshots a repository writes along), and what must wait until that transaction has committed (a
 * repository's cache of known states, background snapshot requests).
 *
 * ```ts
 * yield* UnitOfWork.transaction(Effect.gen(function*() {
 *   yield* carts.update(id, addItem(item))            // events appended in the unit
 *   yield* sql`UPDATE cart_totals SET ...`              // the read model, same transaction
 * }))
 * // committed: the repository's cache and background snapshots see it only now; on failure, nothing of it
 * ```
 *
 * - `SqlUnitOfWork.layer`: the unit is `sql.withTransaction` on the application's `SqlClient`; after-commit
 *   actions run once the outermost unit has committed.
 * - `UnitOfWork.layerMemory`: the same semantics for the in-memory stores (tests), with PostgreSQL's outcomes
 *   for overlapping units: a unit's writes are visible to it alone until it commits (read committed), a
 *   failed unit's writes are undone and never another unit's, and a writer to a stream another open unit has
 *   written waits for that unit to end (as on the row lock), then meets its outcome (a conflict if it
 *   committed). Two units waiting on each other: the one that would close the cycle fails at once with a
 *   `Deadlock` (PostgreSQL fails one of them after `deadlock_timeout`).
 *
 * Nested units are savepoints: a failed inner unit undoes only its own writes and drops its after-commit
 * actions; a succeeded one hands them to the unit around it. Inside a transaction the application opened
 * itself (`sql.withTransaction` without a unit), a SQL unit is a savepoint and nothing can be deferred to the
 * commit: `enclosing` then answers `Transaction`, and the stores and repositories act accordingly.
 *
 * Note: in `effect/sql` each client has a transaction of its own (`sql.transactionService`): build the SQL
 * stores and `SqlUnitOfWork.layer` on the same `SqlClient` (a client and its `withoutTransforms()` copy share
 * it), or a store's statements run outside the unit's transaction. A bare transaction is recognized on any
 * client, see `enclosing`.
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as internal from "./internal/unitOfWork.js"
import type { UnitOfWorkError } from "./UnitOfWorkError.js"

/**
 * The unit the current fiber runs in, as seen by the stores and repositories.
 *
 * @since 0.2.0
 * @category models
 */
export interface Unit {
  /**
   * Run `action` once the outermost unit has committed (in registration order); never after a rollback. A
   * failure or defect of the action is logged, never raised.
   */
  readonly afterCommit: (action: Effect.Effect<void>) => Effect.Effect<void>
  /**
   * Register the undo of a write (memory backends), run newest first if the unit fails. SQL backends need
   * none: the database rolls back.
   */
  readonly onRollback: (undo: Effect.Effect<void>) => Effect.Effect<void>
  /** The transaction the unit belongs to: its own when outermost, the outermost unit's when nested. */
  readonly transaction: Transaction
}

/**
 * How a transaction ended.
 *
 * @since 1.1.0
 * @category models
 */
export type Outcome = "Committed" | "RolledBack"

/**
 * The transaction of an outermost unit, shared by the units nested in it. The memory stores keep its writes
 * private to it and publish or discard them when it ends; a writer that needs what it holds waits for its end
 * (`awaitEnd`).
 *
 * @since 1.1.0
 * @category models
 */
export interface Transaction {
  /**
   * Run `action` with the outcome when the outermost unit ends (in registration order): on commit before its
   * after-commit actions, on rollback after its undo actions; always before `ended` completes. A failure or
   * defect of the action is logged, never raised.
   */
  readonly onEnd: (action: (outcome: Outcome) => Effect.Effect<void>) => Effect.Effect<void>
  /** Completes with the outcome once the end actions ran. */
  readonly ended: Effect.Effect<Outcome>
}

/**
 * A unit would wait for a transaction that waits (directly or through others) for it: it is failed instead.
 *
 * @since 1.1.0
 * @category errors
 */
export const Deadlock: typeof internal.Deadlock = internal.Deadlock

/**
 * @since 1.1.0
 * @category errors
 */
export type Deadlock = internal.Deadlock

/**
 * Wait until `holder` has ended, as the caller's transaction `waiter` (none outside a unit). While it waits,
 * `waiter` is recorded as waiting for `holder`; if `holder` already waits for `waiter`, directly or through
 * other transactions, it fails at once with `Deadlock` (PostgreSQL reports a deadlock there too, failing one
 * of the transactions after `deadlock_timeout`). For memory backends that lock what an open unit wrote.
 *
 * @since 1.1.0
 * @category combinators
 */
export const awaitEnd = (
  holder: Transaction,
  waiter: Option.Option<Transaction>
): Effect.Effect<Outcome, Deadlock> => internal.awaitEnd(holder, Option.getOrUndefined(waiter))

/**
 * @since 0.2.0
 * @category services
 */
export interface CurrentUnit {
  readonly _: unique symbol
}

/**
 * Provided by `transaction` to the effect it runs.
 *
 * @since 0.2.0
 * @category services
 */
export const CurrentUnit: Context.Service<CurrentUnit, Unit> = internal.CurrentUnit

/**
 * Where the current fiber runs: in no transaction, in a unit (after-commit actions available), or in a
 * transaction the application opened itself with `sql.withTransaction` (nothing can wait for its commit).
 *
 * @since 0.2.0
 * @category models
 */
export type Enclosing =
  | { readonly _tag: "None" }
  | { readonly _tag: "Unit"; readonly unit: Unit }
  | { readonly _tag: "Transaction" }

/**
 * Where the current fiber runs (context lookups, no I/O). A transaction the application opened itself is
 * recognized on the `SqlClient` in context, or on any client through `effect/sql`'s record of the innermost
 * transaction (so also on a client the fiber's context does not hold).
 *
 * @since 0.2.0
 * @category accessors
 */
export const enclosing: Effect.Effect<Enclosing> = internal.enclosing

/**
 * @since 0.2.0
 * @category models
 */
export interface UnitOfWorkService {
  /**
   * Run `effect` as one unit: all of its writes, or none of them. Nested units are savepoints. What `effect`
   * fails with passes through; the unit's own failures (its transaction could not begin, was lost before
   * COMMIT, or COMMIT's outcome is unknown) are a `UnitOfWorkError`, never a defect.
   */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | UnitOfWorkError, R>
}

/**
 * @since 0.2.0
 * @category services
 */
export interface UnitOfWork {
  readonly _: unique symbol
}

/**
 * @since 0.2.0
 * @category services
 */
export const UnitOfWork: Context.Service<UnitOfWork, UnitOfWorkService> = internal.UnitOfWorkService

/**
 * Run `effect` as one unit of the `UnitOfWork` in context.
 *
 * @since 0.2.0
 * @category combinators
 */
export const transaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | UnitOfWorkError, R | UnitOfWork> =>
  Effect.flatMap(UnitOfWork, (unitOfWork) => unitOfWork.transaction(effect))

/**
 * The in-memory unit of work: for the memory stores, a unit's writes are its own until it commits and undone if
 * it fails, overlapping units see PostgreSQL's outcomes (see the module's notes); after-commit actions run once
 * the outermost unit succeeded.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<UnitOfWork> = internal.layerMemory

/**
 * The in-memory unit of work as a plain service.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeMemory: UnitOfWorkService = internal.makeMemory

/**
 * Runs `effect` as one unit inside `transact` (the identity for memory, `sql.withTransaction` for SQL, which
 * nests as a savepoint), nested in `outer` when given: on failure or interruption the unit's undo actions run,
 * newest first, and its after-commit actions are dropped; on success an outermost unit runs its after-commit
 * actions, a nested one hands both lists to `outer`. For a unit of work of one's own (`SqlUnitOfWork` is one).
 *
 * @since 1.1.0
 * @category constructors
 */
export const runUnit: <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  transact: <A1, E1, R1>(inner: Effect.Effect<A1, E1, R1>) => Effect.Effect<A1, E1 | E2, R1>,
  outer: Option.Option<Unit>
) => Effect.Effect<A, E | E2, R> = internal.runUnit
