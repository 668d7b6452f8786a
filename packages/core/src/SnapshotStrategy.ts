/**
 * Snapshot strategies as data.
 *
 * A strategy is a value of a Schema-described union of tagged classes: it encodes to JSON, decodes from JSON
 * or from Effect `Config`, and is turned into a pure, allocation-light decision function by `compile`.
 * Core reads no clock and needs no services: everything a decision needs comes in its `DecisionContext`.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import type * as SchemaIssue from "effect/SchemaIssue"
import * as config_ from "./internal/config.js"
import * as decision from "./internal/decision.js"
import * as issues from "./internal/issues.js"
import * as strategy from "./internal/strategy.js"
import * as SnapshotStrategyError from "./SnapshotStrategyError.js"

// -------------------------------------------------------------------------------------
// models
// -------------------------------------------------------------------------------------

/**
 * The JSON form of a strategy.
 *
 * @since 0.1.0
 * @category models
 */
export type Encoded =
  | (typeof EveryNEvents)["Encoded"]
  | (typeof EventsSinceSnapshot)["Encoded"]
  | (typeof AfterDuration)["Encoded"]
  | (typeof OnEventTypes)["Encoded"]
  | (typeof ReplayedAtLeast)["Encoded"]
  | (typeof LoadTimeAtLeast)["Encoded"]
  | AnyEncoded
  | AllEncoded
  | NotEncoded
  | (typeof Never)["Encoded"]
  | (typeof Always)["Encoded"]
  | PerAggregateTypeEncoded
  | (typeof Custom)["Encoded"]

/**
 * @since 0.1.0
 * @category models
 */
export interface AnyEncoded {
  readonly _tag: "Any"
  readonly strategies: ReadonlyArray<Encoded>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AllEncoded {
  readonly _tag: "All"
  readonly strategies: ReadonlyArray<Encoded>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface NotEncoded {
  readonly _tag: "Not"
  readonly strategy: Encoded
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PerAggregateTypeEncoded {
  readonly _tag: "PerAggregateType"
  readonly strategies: { readonly [aggregateType: string]: Encoded }
  readonly fallback: Encoded
}

/**
 * Fires when the commit crosses a multiple of `n`: `previousVersion < k * n <= currentVersion` for some k.
 * A batch taking the version from 98 to 103 crosses 100, so `everyNEvents(100)` fires.
 *
 * @since 0.1.0
 * @category models
 */
export const EveryNEvents: typeof strategy.EveryNEvents = strategy.EveryNEvents

/**
 * @since 0.1.0
 * @category models
 */
export type EveryNEvents = strategy.EveryNEvents

/**
 * Fires when at least `n` events were committed since the last snapshot (since version 0 when there is none).
 *
 * @since 0.1.0
 * @category models
 */
export const EventsSinceSnapshot: typeof strategy.EventsSinceSnapshot = strategy.EventsSinceSnapshot

/**
 * @since 0.1.0
 * @category models
 */
export type EventsSinceSnapshot = strategy.EventsSinceSnapshot

/**
 * Fires when at least `duration` passed since the last snapshot was taken, and when there is none.
 *
 * @since 0.1.0
 * @category models
 */
export const AfterDuration: typeof strategy.AfterDuration = strategy.AfterDuration

/**
 * @since 0.1.0
 * @category models
 */
export type AfterDuration = strategy.AfterDuration

/**
 * Fires when the committed batch contains one of `types`.
 *
 * @since 0.1.0
 * @category models
 */
export const OnEventTypes: typeof strategy.OnEventTypes = strategy.OnEventTypes

/**
 * @since 0.1.0
 * @category models
 */
export type OnEventTypes = strategy.OnEventTypes

/**
 * Fires when the last load of the aggregate replayed at least `n` events (unknown: does not fire).
 *
 * @since 0.1.0
 * @category models
 */
export const ReplayedAtLeast: typeof strategy.ReplayedAtLeast = strategy.ReplayedAtLeast

/**
 * @since 0.1.0
 * @category models
 */
export type ReplayedAtLeast = strategy.ReplayedAtLeast

/**
 * Fires when the last load of the aggregate took at least `duration` (unknown: does not fire).
 *
 * @since 0.1.0
 * @category models
 */
export const LoadTimeAtLeast: typeof strategy.LoadTimeAtLeast = strategy.LoadTimeAtLeast

/**
 * @since 0.1.0
 * @category models
 */
export type LoadTimeAtLeast = strategy.LoadTimeAtLeast

/**
 * Fires when at least one of `strategies` fires.
 *
 * @since 0.1.0
 * @category models
 */
export const Any: typeof strategy.Any = strategy.Any

/**
 * @since 0.1.0
 * @category models
 */
export type Any = strategy.Any

/**
 * Fires when every one of `strategies` fires.
 *
 * @since 0.1.0
 * @category models
 */
export const All: typeof strategy.All = strategy.All

/**
 * @since 0.1.0
 * @category models
 */
export type All = strategy.All

/**
 * Fires when `strategy` does not.
 *
 * @since 0.1.0
 * @category models
 */
export const Not: typeof strategy.Not = strategy.Not

/**
 * @since 0.1.0
 * @category models
 */
export type Not = strategy.Not

/**
 * Never fires.
 *
 * @since 0.1.0
 * @category models
 */
export const Never: typeof strategy.Never = strategy.Never

/**
 * @since 0.1.0
 * @category models
 */
export type Never = strategy.Never

/**
 * Always fires.
 *
 * @since 0.1.0
 * @category models
 */
export const Always: typeof strategy.Always = strategy.Always

/**
 * @since 0.1.0
 * @category models
 */
export type Always = strategy.Always

/**
 * Uses `strategies[aggregateType]`, or `fallback` for aggregate types without an entry.
 *
 * @since 0.1.0
 * @category models
 */
export const PerAggregateType: typeof strategy.PerAggregateType = strategy.PerAggregateType

/**
 * @since 0.1.0
 * @category models
 */
export type PerAggregateType = strategy.PerAggregateType

/**
 * A named, user-defined predicate. The data holds only the name; the predicate is supplied when deciding
 * (see `compile`), so strategies stay serializable.
 *
 * @since 0.1.0
 * @category models
 */
export const Custom: typeof strategy.Custom = strategy.Custom

/**
 * @since 0.1.0
 * @category models
 */
export type Custom = strategy.Custom

/**
 * A snapshot strategy.
 *
 * @since 0.1.0
 * @category models
 */
export type SnapshotStrategy = strategy.SnapshotStrategy

// -------------------------------------------------------------------------------------
// schemas
// -------------------------------------------------------------------------------------

/**
 * The Schema of strategies: `Schema.decodeUnknownEffect(SnapshotStrategy)` validates an encoded (JSON) value,
 * `Schema.encodeEffect(SnapshotStrategy)` gives it back, and `Schema.toCodecJson(SnapshotStrategy)` is the same
 * codec (its encoded form is JSON already). `Arbitrary.schema(SnapshotStrategy)` builds valid strategies.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SnapshotStrategy: typeof strategy.SnapshotStrategy = strategy.SnapshotStrategy

/**
 * A strategy as a JSON string: `Schema.decodeUnknownEffect(FromJson)(text)`, `Schema.encodeEffect(FromJson)(strategy)`.
 * A `"__proto__"` key is refused (assigning it would drop the entry silently).
 *
 * @since 0.1.0
 * @category schemas
 */
export const FromJson: Schema.Codec<SnapshotStrategy, string> = strategy.FromJson

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * The commit crosses a multiple of `n`. Throws a `BadArgument` unless `n` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const everyNEvents: (n: number) => EveryNEvents = strategy.everyNEvents

/**
 * At least `n` events since the last snapshot. Throws a `BadArgument` unless `n` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const eventsSinceSnapshot: (n: number) => EventsSinceSnapshot = strategy.eventsSinceSnapshot

/**
 * At least `duration` since the last snapshot; fires when there is none. Takes what `Duration.fromInput`
 * takes (text as `Config.Duration` reads it, e.g. `"1 hour"`). Throws a `BadArgument` for a negative, infinite
 * or malformed duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const afterDuration: (duration: Duration.Input) => AfterDuration = strategy.afterDuration

/**
 * The committed batch contains one of `types`. Throws a `BadArgument` for no types or an empty type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const onEventTypes: (...types: ReadonlyArray<string>) => OnEventTypes = strategy.onEventTypes

/**
 * The last load replayed at least `n` events. Throws a `BadArgument` unless `n` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const replayedAtLeast: (n: number) => ReplayedAtLeast = strategy.replayedAtLeast

/**
 * The last load took at least `duration` (read as by `afterDuration`). Throws a `BadArgument` for a negative,
 * infinite or malformed duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadTimeAtLeast: (duration: Duration.Input) => LoadTimeAtLeast = strategy.loadTimeAtLeast

/**
 * At least one of `strategies` fires. Throws a `BadArgument` when given none.
 *
 * @since 0.1.0
 * @category constructors
 */
export const any: (...strategies: ReadonlyArray<SnapshotStrategy>) => Any = strategy.any

/**
 * Every one of `strategies` fires. Throws a `BadArgument` when given none.
 *
 * @since 0.1.0
 * @category constructors
 */
export const all: (...strategies: ReadonlyArray<SnapshotStrategy>) => All = strategy.all

/**
 * `strategy` does not fire.
 *
 * @since 0.1.0
 * @category constructors
 */
export const not: (strategy: SnapshotStrategy) => Not = strategy.not

/**
 * @since 0.1.0
 * @category constructors
 */
export const never: Never = strategy.never

/**
 * @since 0.1.0
 * @category constructors
 */
export const always: Always = strategy.always

/**
 * One strategy per aggregate type, and `fallback` for the others. Throws a `BadArgument` for an empty
 * aggregate type name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const perAggregateType: (
  strategies: { readonly [aggregateType: string]: SnapshotStrategy },
  fallback: SnapshotStrategy
) => PerAggregateType = strategy.perAggregateType

/**
 * A named user predicate, supplied to `compile` / `decide`. Throws a `BadArgument` for an empty name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const custom: (name: string) => Custom = strategy.custom

// -------------------------------------------------------------------------------------
// rendering
// -------------------------------------------------------------------------------------

/**
 * A strategy written as the constructor calls that build it, e.g.
 * `any(everyNEvents(100), afterDuration("1 hour"))`. Decision reasons use the same text.
 *
 * @since 0.1.0
 * @category rendering
 */
export const format: (self: SnapshotStrategy) => string = strategy.format

/**
 * Every problem of a `SchemaError` (or of a `SchemaIssue`), each with the path where the Schema found it, in one line and without the
 * Schema's type tree: `strategies[0].n: expected a positive integer, got 0` for one problem,
 * `2 problems: strategies[0].n: ...; strategies[1].duration: ...` for more. Decode with `{ errors: "all" }` to
 * get every problem rather than the first.
 *
 * @since 0.1.0
 * @category rendering
 */
export const formatIssues: (error: Schema.SchemaError | SchemaIssue.Issue) => string = issues.formatIssues

// -------------------------------------------------------------------------------------
// configuration
// -------------------------------------------------------------------------------------

/**
 * Reads one strategy, written as JSON, from the configuration key `name`, e.g.
 * `SNAPSHOT_STRATEGY='{"_tag":"EveryNEvents","n":100}'`. Bad JSON or a bad strategy is a `ConfigError`
 * (a `SchemaError` at `name`) whose message lists every problem with its path (see `formatIssues`).
 *
 * @since 0.1.0
 * @category configuration
 */
export const config: (name: string) => Config.Config<SnapshotStrategy> = config_.config

/**
 * @since 0.1.0
 * @category configuration
 */
export interface PerAggregateTypeConfigOptions {
  /** Used when the key `name` itself is not set; without it, `name` is required. */
  readonly fallback?: SnapshotStrategy | undefined
  /**
   * A default per aggregate type, used when `${name}_${aggregateType}` is not set. Its aggregate types are read
   * too, as if they were listed in `aggregateTypes`.
   */
  readonly defaults?: { readonly [aggregateType: string]: SnapshotStrategy } | undefined
}

/**
 * One strategy per aggregate type, from configuration: the key `name` holds the default strategy and
 * `${name}_${aggregateType}` (for each of `aggregateTypes`) an optional override, each as JSON:
 *
 * ```sh
 * SNAPSHOT_STRATEGY='{"_tag":"EveryNEvents","n":100}'
 * SNAPSHOT_STRATEGY_Order='{"_tag":"EveryNEvents","n":20}'
 * ```
 *
 * gives `perAggregateType({ Order: everyNEvents(20) }, everyNEvents(100))`. The aggregate types are listed by
 * the application (configuration providers cannot enumerate environment variables without changing their
 * case). An aggregate type without its key uses `options.defaults[aggregateType]` when there is one, else the
 * default strategy. Each key is validated on its own; a bad one fails with a `ConfigError` at that key.
 *
 * Keys are case-sensitive: for the type `Cart` the key is `SNAPSHOT_STRATEGY_Cart`. A key that matches a type
 * only case-insensitively (`SNAPSHOT_STRATEGY_CART`, `SNAPSHOT_STRATEGY_cart`) is not used, and is reported
 * with `Effect.logWarning`, so a strategy an operator set is never ignored silently. This is why the result is
 * an Effect (reading from the current `ConfigProvider`) rather than a `Config`.
 *
 * @since 0.1.0
 * @category configuration
 */
export const configPerAggregateType: (
  name: string,
  aggregateTypes: Iterable<string>,
  options?: PerAggregateTypeConfigOptions
) => Effect.Effect<PerAggregateType, Config.ConfigError> = config_.configPerAggregateType

// -------------------------------------------------------------------------------------
// decisions
// -------------------------------------------------------------------------------------

/**
 * Everything a decision may look at, supplied by the caller after a commit. Core never reads a clock.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecisionContext {
  readonly aggregateType: string
  readonly aggregateId: string
  /** The stream version before the committed batch; 0 for a new aggregate. */
  readonly previousVersion: number
  /** The stream version after the committed batch. */
  readonly currentVersion: number
  /** The event types of the committed batch. */
  readonly eventTypes: ReadonlyArray<string>
  readonly lastSnapshotVersion: Option.Option<number>
  readonly lastSnapshotAt: Option.Option<DateTime.Utc>
  readonly now: DateTime.Utc
  /** How many events the last load of this aggregate replayed, when known. */
  readonly replayedEvents: Option.Option<number>
  /** How long the last load of this aggregate took, when known. */
  readonly replayDuration: Option.Option<Duration.Duration>
}

/**
 * The outcome of a decision. `take` is whether to snapshot. `reasons` explains a `true`: it lists, in the
 * order they appear in the strategy and without duplicates, the conditions that made the result true —
 * each leaf that fired (`everyNEvents(100)`, `custom("bigOrder")`, ...) under branches that held, and for a
 * `not(s)` that held, `not(s)` itself (nothing inside `s` fired, so that is the condition). Leaves that fired
 * without making the result true (inside a `not`, or inside an `all` that failed) are not listed.
 * `take` is true exactly when `reasons` is non-empty.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision {
  readonly take: boolean
  readonly reasons: ReadonlyArray<string>
}

/**
 * A compiled strategy: decides one context.
 *
 * @since 0.1.0
 * @category models
 */
export type Decider = (context: DecisionContext) => Decision

/**
 * The predicates behind `custom(name)` strategies, by name. Predicates must be pure and must not throw.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomPredicates = Readonly<Record<string, (context: DecisionContext) => boolean>>

/**
 * A strategy names custom predicates that were not supplied (also `SnapshotStrategyError.UnknownCustomStrategy`).
 *
 * @since 0.1.0
 * @category errors
 */
export const UnknownCustomStrategy: typeof SnapshotStrategyError.UnknownCustomStrategy =
  SnapshotStrategyError.UnknownCustomStrategy

/**
 * @since 0.1.0
 * @category errors
 */
export type UnknownCustomStrategy = SnapshotStrategyError.UnknownCustomStrategy

/**
 * The custom predicate names a strategy uses, in order of first appearance.
 *
 * @since 0.1.0
 * @category getters
 */
export const customNames: (self: SnapshotStrategy) => ReadonlyArray<string> = decision.customNames

/**
 * Turns a strategy into a decision function. Every `custom(name)` is checked against `predicates` here,
 * once: an unknown name is an `UnknownCustomStrategy` listing all of them. Compile once (e.g. when a
 * repository is built) and call the decider on every commit: it does no allocation when nothing fires.
 *
 * @since 0.1.0
 * @category decisions
 */
export const compile: (
  self: SnapshotStrategy,
  predicates?: CustomPredicates
) => Result.Result<Decider, UnknownCustomStrategy> = decision.compile

/**
 * Decides one context. For repeated decisions, `compile` once instead.
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide: (
  self: SnapshotStrategy,
  context: DecisionContext,
  predicates?: CustomPredicates
) => Result.Result<Decision, UnknownCustomStrategy> = decision.decide

/**
 * Whether to snapshot: `decide(...).take`.
 *
 * @since 0.1.0
 * @category decisions
 */
export const shouldSnapshot: (
  self: SnapshotStrategy,
  context: DecisionContext,
  predicates?: CustomPredicates
) => Result.Result<boolean, UnknownCustomStrategy> = decision.shouldSnapshot
