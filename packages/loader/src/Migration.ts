/**
 * Typed snapshot migrations. A snapshot holds the JSON form of its state at the `schemaVersion` that wrote it;
 * when the state Schema changes, declare the Schema each old version had and how a state of one version becomes
 * a state of the next:
 *
 * ```ts
 * const migrations = Migration.from(1, CartStateV1).pipe(
 *   Migration.to(CartStateV2, (v1) => ({ ...v1, currency: "EUR" })),
 *   Migration.to(CartState, (v2) => ({ ...v2, discounts: [] }))
 * )
 * const Cart = Aggregate.make({ type: "Cart", state: CartState, migrations, ... }) // schemaVersion 3
 * ```
 *
 * Each function is type-checked at its definition (a state of the version before in, a state of the next out),
 * and the chain must end at the aggregate's state type. A snapshot of version `n` is decoded with the Schema of
 * version `n`, taken through the functions from `n` on, and encoded with the last Schema; a state that does not
 * decode or encode with its version's Schema is a failed migration (the snapshot is not used; the aggregate is
 * replayed).
 *
 * A migration is trusted only as far as it is checked: see `CheckOptions` (the repository compares a share of
 * migrated states with a full replay, and `rebuild` and `verify` compare every one).
 *
 * @since 1.1.0
 */
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type * as Schema from "effect/Schema"

const TypeId = "~@effect-snapshots/loader/Migration/Chain"

/**
 * A migration in its stored form: the encoded (JSON) state of one schema version in, the encoded state of the
 * next out. This is what an untyped migration is, and what a `Chain` compiles to.
 *
 * @since 1.1.0
 * @category models
 */
export type Encoded = (encoded: unknown) => unknown

/**
 * A chain of typed migrations from the state Schema of `fromVersion` to the one of `toVersion`, ending at
 * states of type `A`.
 *
 * @since 1.1.0
 * @category models
 */
export interface Chain<out A> extends Pipeable {
  readonly [TypeId]: { readonly _A: (_: never) => A }
  /** The schema version of the chain's first Schema. */
  readonly fromVersion: number
  /** The schema version the chain ends at (`fromVersion` + the number of steps): the aggregate's. */
  readonly toVersion: number
  /** The state Schema of each version, `schemas[i]` the one of `fromVersion + i`. */
  readonly schemas: ReadonlyArray<Schema.Codec<unknown, unknown>>
  /** `steps[i]` takes a state of version `fromVersion + i` to one of the next. */
  readonly steps: ReadonlyArray<(state: unknown) => unknown>
}

/**
 * How much a repository checks migrated snapshots. A load that restores a state through migrations compares it
 * with a full replay of the stream when the check is due; on a difference the migrated snapshot is discarded and
 * replaced by the replay's state, the fault is logged (one line) and counted
 * (`SnapshotMetrics.migrationMismatches`), and every later load through that migration in the repository is
 * checked. A migrated state that was not checked is used but never written back as a snapshot (the old snapshot
 * stays until a checked load replaces it), so an unchecked migration cannot become a current snapshot by itself.
 * `rebuild` and `verify` check every migrated snapshot.
 *
 * @since 1.1.0
 * @category models
 */
export interface CheckOptions {
  /**
   * The share of loads through a migration that are checked, after the first ones (default 0.01, one in a
   * hundred; 1 checks every one, 0 none).
   */
  readonly share?: number | undefined
  /**
   * The first loads through each migration (from each old schema version) in a repository are always checked
   * (default 100): a migration wrong for every state is caught on its first load after the deploy.
   */
  readonly firstLoads?: number | undefined
}

const proto = {
  pipe() {
    // Effect's own Pipeable implementations read `arguments` (pipeArguments takes an IArguments).
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

const makeChain = <A>(
  fromVersion: number,
  schemas: ReadonlyArray<Schema.Codec<unknown, unknown>>,
  steps: ReadonlyArray<(state: unknown) => unknown>
): Chain<A> =>
  Object.assign(Object.create(proto), {
    [TypeId]: { _A: (_: never) => _ },
    fromVersion,
    toVersion: fromVersion + steps.length,
    schemas,
    steps
  })

/**
 * Start a chain at the state Schema snapshots of `version` were written with.
 *
 * @since 1.1.0
 * @category constructors
 */
export const from = <A, I>(version: number, schema: Schema.Codec<A, I>): Chain<A> =>
  makeChain(version, [schema as Schema.Codec<unknown, unknown>], [])

/**
 * Add the next version: its state Schema, and how a state of the version before becomes one of it.
 *
 * @since 1.1.0
 * @category combinators
 */
export const to: {
  <A, B, I>(schema: Schema.Codec<B, I>, migrate: (state: A) => B): (self: Chain<A>) => Chain<B>
  <A, B, I>(self: Chain<A>, schema: Schema.Codec<B, I>, migrate: (state: A) => B): Chain<B>
} = dual(
  3,
  <A, B, I>(self: Chain<A>, schema: Schema.Codec<B, I>, migrate: (state: A) => B): Chain<B> =>
    makeChain(
      self.fromVersion,
      [...self.schemas, schema as Schema.Codec<unknown, unknown>],
      [...self.steps, migrate as (state: unknown) => unknown]
    )
)

/**
 * @since 1.1.0
 * @category guards
 */
export const isChain = (u: unknown): u is Chain<unknown> => typeof u === "object" && u !== null && TypeId in u
