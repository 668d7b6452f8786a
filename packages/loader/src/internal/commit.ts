/**
 * Commit awareness: where the current fiber runs (no transaction, a unit of work, a bare SQL transaction), and
 * what the repository may do there with what only becomes true once the transaction commits (its cache, its
 * "written" metrics, background snapshot requests).
 *
 * - `None`: nothing to wait for; everything happens now.
 * - `Unit`: deferred to `unit.afterCommit` (run once the outermost transaction committed, never after a rollback).
 * - `Transaction` (a bare `sql.withTransaction`): the cache is never written (its entry is deleted, as a load inside
 *   may see uncommitted events), and snapshots are written inside the transaction. `effect/sql` 4 does have an
 *   after-commit (`sql.afterCommit`), but per client: it defers to the outermost transaction of THAT client. The
 *   repository sees no client (its stores are services without one), so it cannot tell whose transaction is
 *   open. A snapshot store on
 *   another client refuses to write here (SqlSupport.TransactionSite "Other"): the snapshot is counted as failed.
 *
 * @internal
 */
import { UnitOfWork } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"

/** @internal */
export interface Route {
  readonly _tag: "None" | "Unit" | "Transaction"
  /** Run `effect` once the enclosing transaction committed: now (None, Transaction) or after the commit (Unit). */
  readonly afterCommit: (effect: Effect.Effect<void>) => Effect.Effect<void>
  /** Whether the cache may learn from what this fiber reads and writes (after the commit). */
  readonly cacheable: boolean
}

const now = (effect: Effect.Effect<void>) => effect

/** @internal */
export const none: Route = { _tag: "None", afterCommit: now, cacheable: true }

/** @internal */
export const transaction: Route = { _tag: "Transaction", afterCommit: now, cacheable: false }

/** @internal */
export const unit = (afterCommit: (effect: Effect.Effect<void>) => Effect.Effect<void>): Route => ({
  _tag: "Unit",
  afterCommit,
  cacheable: true
})

/**
 * The route of the current fiber, from `UnitOfWork.enclosing`.
 *
 * @internal
 */
export const current: Effect.Effect<Route> = Effect.map(UnitOfWork.enclosing, (enclosing): Route => {
  switch (enclosing._tag) {
    case "None":
      return none
    case "Unit":
      return unit(enclosing.unit.afterCommit)
    case "Transaction":
      return transaction
  }
})
