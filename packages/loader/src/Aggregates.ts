/**
 * A registry of the application's aggregates: the one list that its repositories' per-type strategies (from
 * Config) and the operator tools (the admin CLI's `stats`, `verify`, `rebuild`) are built from.
 *
 * ```ts
 * export const registry = Aggregates.make(Cart, Customer)
 * // SNAPSHOT_STRATEGY (default) and SNAPSHOT_STRATEGY_Cart / SNAPSHOT_STRATEGY_Customer (overrides), as JSON
 * const strategy = Aggregates.strategy(registry, { fallback: SnapshotStrategy.everyNEvents(100) })
 * ```
 *
 * @since 0.3.0
 */
import { BadArgument, SnapshotStrategy } from "@effect-snapshots/core"
import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Aggregate from "./Aggregate.js"

/**
 * An aggregate of any state and events (the registry does not need their types).
 *
 * @since 0.3.0
 * @category models
 */
// State and event types are invariant in an Aggregate: only `any` admits every definition.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregate = Aggregate.Aggregate<any, any, any, any>

/**
 * @since 0.3.0
 * @category models
 */
export interface Registry {
  readonly _tag: "Aggregates"
  /** In the order given to `make`. */
  readonly aggregates: ReadonlyArray<AnyAggregate>
  /** Their aggregate types, in the same order. */
  readonly types: ReadonlyArray<string>
}

/**
 * @since 0.3.0
 * @category guards
 */
export const isRegistry = (u: unknown): u is Registry =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "Aggregates"

/**
 * The registry of these aggregates. Two definitions of one aggregate type are refused where the registry is used
 * (`strategy`, `check`, the admin CLI), with a `BadArgument`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (...aggregates: ReadonlyArray<AnyAggregate>): Registry => ({
  _tag: "Aggregates",
  aggregates,
  types: aggregates.map((aggregate) => aggregate.type)
})

/**
 * The registry when every aggregate type in it is distinct and there is at least one; else a `BadArgument`.
 *
 * @since 0.3.0
 * @category validation
 */
export const check = (registry: Registry): Effect.Effect<Registry, BadArgument.BadArgument> => {
  const seen = new Set<string>()
  const twice = registry.types.filter((type) => seen.size === seen.add(type).size)
  if (registry.aggregates.length === 0) {
    return Effect.fail(new BadArgument.BadArgument({ module: "Aggregates", message: "the registry is empty" }))
  }
  return twice.length === 0 ? Effect.succeed(registry) : Effect.fail(
    new BadArgument.BadArgument({
      module: "Aggregates",
      message: `aggregate types registered twice: ${[...new Set(twice)].map((t) => JSON.stringify(t)).join(", ")}`
    })
  )
}

/**
 * The aggregate of a type.
 *
 * @since 0.3.0
 * @category getters
 */
export const get = (registry: Registry, aggregateType: string): Option.Option<AnyAggregate> =>
  Option.fromUndefinedOr(registry.aggregates.find((aggregate) => aggregate.type === aggregateType))

/**
 * @since 0.3.0
 * @category configuration
 */
export interface StrategyOptions {
  /** The Config key of the default strategy; `${name}_${aggregateType}` overrides it per type (default `SNAPSHOT_STRATEGY`). */
  readonly name?: string | undefined
  /** Used when the key `name` is not set (without it, the key is required). */
  readonly fallback?: SnapshotStrategy.SnapshotStrategy | undefined
  /** A default per aggregate type, used when its own key is not set. */
  readonly defaults?: { readonly [aggregateType: string]: SnapshotStrategy.SnapshotStrategy } | undefined
}

/**
 * One strategy for every repository of the registry, from Config: `SnapshotStrategy.configPerAggregateType`
 * over the registry's types (a `perAggregateType` strategy, so each repository gets its type's).
 *
 * @since 0.3.0
 * @category configuration
 */
export const strategy = (
  registry: Registry,
  options: StrategyOptions = {}
): Effect.Effect<SnapshotStrategy.PerAggregateType, Config.ConfigError | BadArgument.BadArgument> =>
  Effect.flatMap(
    check(registry),
    (checked) =>
      SnapshotStrategy.configPerAggregateType(options.name ?? "SNAPSHOT_STRATEGY", checked.types, {
        fallback: options.fallback,
        defaults: options.defaults
      })
  )
