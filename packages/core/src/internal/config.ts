/**
 * @internal
 * Strategies read from configuration.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type { PerAggregateType, PerAggregateTypeConfigOptions, SnapshotStrategy } from "../SnapshotStrategy.js"
import { formatIssues } from "./issues.js"
import { FromJson, perAggregateType, SnapshotStrategy as StrategySchema } from "./strategy.js"

const quote = (s: string): string => JSON.stringify(s)

const decodeJson = Schema.decodeUnknownResult(FromJson, { errors: "all", reportInput: true })
const encodeJson = Schema.encodeUnknownResult(FromJson)

/**
 * A strategy as JSON text, for `Config.schema`: a bad text fails with one issue whose message lists every
 * problem with its path (see `formatIssues`), so the `ConfigError` reads as one line at its key.
 */
const FromJsonText: Schema.Codec<SnapshotStrategy, string> = Schema.String.pipe(
  Schema.decodeTo(
    Schema.toType(StrategySchema),
    SchemaTransformation.transformEffect<SnapshotStrategy, string>({
      decode: (text) =>
        Result.match(decodeJson(text), {
          onFailure: (error) => Effect.fail(new SchemaIssue.InvalidValue({ message: formatIssues(error) }, text)),
          onSuccess: Effect.succeed
        }),
      encode: (strategy) =>
        Result.match(encodeJson(strategy), {
          onFailure: (error) => Effect.fail(error.issue),
          onSuccess: Effect.succeed
        })
    })
  )
)

/**
 * Reads one strategy, written as JSON, from the configuration key `name`, e.g.
 * `SNAPSHOT_STRATEGY='{"_tag":"EveryNEvents","n":100}'`. Bad JSON or a bad strategy is a `ConfigError`
 * (a `SchemaError` at `name`) whose message lists every problem with its path (see `formatIssues`).
 */
export const config = (name: string): Config.Config<SnapshotStrategy> => Config.schema(FromJsonText, name)

const invalid = (message: string): Config.ConfigError =>
  new Config.ConfigError(new Schema.SchemaError(new SchemaIssue.InvalidValue({ message })))

/**
 * The keys that differ from `${name}_${type}` only by case and that a configuration would plausibly hold:
 * all upper case (the environment's convention), all lower case, and the type alone in either case.
 */
const caseVariants = (name: string, type: string): ReadonlyArray<string> => {
  const exact = `${name}_${type}`
  const variants = new Set([
    `${name}_${type.toUpperCase()}`,
    `${name}_${type.toLowerCase()}`,
    `${name.toUpperCase()}_${type.toUpperCase()}`,
    `${name.toLowerCase()}_${type.toLowerCase()}`
  ])
  variants.delete(exact)
  return Array.from(variants)
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
 */
export const configPerAggregateType = (
  name: string,
  aggregateTypes: Iterable<string>,
  options?: PerAggregateTypeConfigOptions
): Effect.Effect<PerAggregateType, Config.ConfigError> => {
  const defaults = options?.defaults ?? {}
  const types = Array.from(new Set([...aggregateTypes, ...Object.keys(defaults)]))
  const blank = types.find((type) => type.trim().length === 0)
  if (blank !== undefined) {
    return Effect.fail(invalid(`an aggregate type must not be empty, got ${quote(blank)}`))
  }
  const fallback = options?.fallback === undefined ? config(name) : Config.withDefault(config(name), options.fallback)
  const overrides = Config.all(
    types.map((type) =>
      Config.map(Config.option(config(`${name}_${type}`)), (strategy) =>
        strategy.pipe(
          Option.orElse(() => Option.fromUndefinedOr(Object.hasOwn(defaults, type) ? defaults[type] : undefined)),
          Option.map((strategy) => [type, strategy] as const)
        ))
    )
  )
  const ignored = Config.all(
    types.flatMap((type) =>
      caseVariants(name, type).map((key) =>
        Config.map(Config.option(Config.String(key)), Option.map(() => ({ key, type })))
      )
    )
  )
  return Effect.gen(function*() {
    const found = yield* ignored
    for (const { key, type } of found.flatMap((entry) => Option.toArray(entry))) {
      yield* Effect.logWarning(
        `SnapshotStrategy.configPerAggregateType: ${key} is set but not used: keys are case-sensitive, ` +
          `the key for the aggregate type ${quote(type)} is ${name}_${type}`
      ).pipe(Effect.annotateLogs({ key, aggregateType: type }))
    }
    const [strategy, entries] = yield* Config.all([fallback, overrides])
    return perAggregateType(Object.fromEntries(entries.flatMap(Option.toArray)), strategy)
  })
}
