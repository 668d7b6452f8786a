import { SnapshotStrategy as S } from "@effect-snapshots/core"
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { context } from "./utils/arbitraries.js"

const withProvider = (provider: ConfigProvider.ConfigProvider) =>
  Effect.provideService(ConfigProvider.ConfigProvider, provider)

const withConfig = (entries: Record<string, unknown>) => withProvider(ConfigProvider.fromUnknown(entries))

/** A ConfigError for a value that is there but invalid: a SchemaError (not a SourceError), at its key. */
const assertInvalidAt = (error: Config.ConfigError, ...path: ReadonlyArray<string>): void => {
  assert.isTrue(Schema.isSchemaError(error.cause))
  assert.include(String(error), `at ${path.map((key) => `["${key}"]`).join("")}`)
}

/** A ConfigError for a key that is not set: Effect 4 reports it as the value missing at the key. */
const assertMissingAt = (error: Config.ConfigError, key: string): void => {
  assert.isTrue(Schema.isSchemaError(error.cause))
  assert.include(String(error), `Expected string\n  at ["${key}"]`)
}

/** Runs the effect and gives back what it logged at Warning, as `message` (and the annotations). */
const warnings = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const logged: Array<{ readonly message: string; readonly annotations: Record<string, unknown> }> = []
    const logger = Logger.make(({ fiber, logLevel, message }) => {
      if (LogLevel.isGreaterThanOrEqualTo(logLevel, "Warn")) {
        logged.push({
          message: (Array.isArray(message) ? message : [message]).join(" "),
          annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
        })
      }
    })
    const result = yield* effect.pipe(Effect.provide(Logger.layer([logger])))
    return [result, logged] as const
  })

const EVERY_100 = "{\"_tag\":\"EveryNEvents\",\"n\":100}"
const EVERY_20 = "{\"_tag\":\"EveryNEvents\",\"n\":20}"

describe("Config", () => {
  describe("config", () => {
    it.effect("reads a strategy written as JSON", () =>
      Effect.gen(function*() {
        const strategy = yield* S.config("SNAPSHOT_STRATEGY").pipe(
          withConfig({
            SNAPSHOT_STRATEGY:
              "{\"_tag\":\"Any\",\"strategies\":[{\"_tag\":\"EveryNEvents\",\"n\":100},{\"_tag\":\"AfterDuration\",\"duration\":\"1 hour\"}]}"
          })
        )
        assert.strictEqual(S.format(strategy), "any(everyNEvents(100), afterDuration(\"1 hour\"))")
      }))

    it.effect("a missing key is MissingData, and can be defaulted", () =>
      Effect.gen(function*() {
        const error = yield* S.config("SNAPSHOT_STRATEGY").pipe(Effect.flip, withConfig({}))
        assertMissingAt(error, "SNAPSHOT_STRATEGY")
        const strategy = yield* Config.withDefault(S.config("SNAPSHOT_STRATEGY"), S.everyNEvents(100)).pipe(
          withConfig({})
        )
        assert.strictEqual(S.format(strategy), "everyNEvents(100)")
      }))

    it.effect("bad JSON is InvalidData at the key", () =>
      Effect.gen(function*() {
        const error = yield* S.config("SNAPSHOT_STRATEGY").pipe(Effect.flip, withConfig({ SNAPSHOT_STRATEGY: "{oops" }))
        assertInvalidAt(error, "SNAPSHOT_STRATEGY")
        assert.include(String(error), "JSON")
      }))

    it.effect("keeps the path under Config.nested", () =>
      Effect.gen(function*() {
        const error = yield* Config.nested(S.config("STRATEGY"), "SNAPSHOTS").pipe(
          Effect.flip,
          withConfig({ SNAPSHOTS: { STRATEGY: "{\"_tag\":\"Any\",\"strategies\":[]}" } })
        )
        assertInvalidAt(error, "SNAPSHOTS", "STRATEGY")
        assert.include(String(error), "a composite needs at least one strategy")
      }))
  })

  describe("configPerAggregateType", () => {
    const perType = S.configPerAggregateType("SNAPSHOT_STRATEGY", ["Order", "Invoice"])

    it.effect("one strategy per aggregate type, and the default for the others", () =>
      Effect.gen(function*() {
        const strategy = yield* perType.pipe(
          withConfig({ SNAPSHOT_STRATEGY: EVERY_100, SNAPSHOT_STRATEGY_Order: EVERY_20 })
        )
        assert.strictEqual(S.format(strategy), "perAggregateType({ \"Order\": everyNEvents(20) }, everyNEvents(100))")
        const crosses20 = { previousVersion: 19, currentVersion: 20 }
        assert.isTrue(Result.getOrThrow(S.shouldSnapshot(strategy, context({ aggregateType: "Order", ...crosses20 }))))
        assert.isFalse(
          Result.getOrThrow(S.shouldSnapshot(strategy, context({ aggregateType: "Invoice", ...crosses20 })))
        )
      }))

    it.effect("only the default set", () =>
      Effect.gen(function*() {
        const strategy = yield* perType.pipe(withConfig({ SNAPSHOT_STRATEGY: EVERY_100 }))
        assert.strictEqual(S.format(strategy), "perAggregateType({}, everyNEvents(100))")
      }))

    it.effect("the default is required unless a fallback is given", () =>
      Effect.gen(function*() {
        const error = yield* perType.pipe(Effect.flip, withConfig({ SNAPSHOT_STRATEGY_Order: EVERY_20 }))
        assertMissingAt(error, "SNAPSHOT_STRATEGY")
        const strategy = yield* S.configPerAggregateType("SNAPSHOT_STRATEGY", ["Order"], { fallback: S.never }).pipe(
          withConfig({ SNAPSHOT_STRATEGY_Order: EVERY_20 })
        )
        assert.strictEqual(S.format(strategy), "perAggregateType({ \"Order\": everyNEvents(20) }, never)")
      }))

    it.effect("a bad override is InvalidData at its own key, never skipped", () =>
      Effect.gen(function*() {
        const error = yield* perType.pipe(
          Effect.flip,
          withConfig({ SNAPSHOT_STRATEGY: EVERY_100, SNAPSHOT_STRATEGY_Invoice: "{\"_tag\":\"EveryNEvents\",\"n\":0}" })
        )
        assertInvalidAt(error, "SNAPSHOT_STRATEGY_Invoice")
        assert.include(String(error), "expected a positive integer, got 0")
      }))

    it.effect("an empty aggregate type name is InvalidData", () =>
      Effect.gen(function*() {
        const error = yield* S.configPerAggregateType("SNAPSHOT_STRATEGY", ["Order", ""]).pipe(
          Effect.flip,
          withConfig({ SNAPSHOT_STRATEGY: EVERY_100 })
        )
        assert.isTrue(Schema.isSchemaError(error.cause))
        assert.include(String(error), "an aggregate type must not be empty")
      }))

    it.effect("per-type defaults, used when the type's own key is not set", () =>
      Effect.gen(function*() {
        const strategy = yield* S.configPerAggregateType("SNAPSHOT_STRATEGY", ["Order"], {
          defaults: { Order: S.everyNEvents(50), AuditLog: S.never, Invoice: S.always }
        }).pipe(withConfig({ SNAPSHOT_STRATEGY: EVERY_100, SNAPSHOT_STRATEGY_Invoice: EVERY_20 }))
        assert.strictEqual(
          S.format(strategy),
          "perAggregateType({ \"Order\": everyNEvents(50), \"AuditLog\": never, \"Invoice\": everyNEvents(20) }, " +
            "everyNEvents(100))"
        )
      }))

    it.effect("a bad key fails even when the type has a default", () =>
      Effect.gen(function*() {
        const error = yield* S.configPerAggregateType("SNAPSHOT_STRATEGY", [], { defaults: { Order: S.never } }).pipe(
          Effect.flip,
          withConfig({ SNAPSHOT_STRATEGY: EVERY_100, SNAPSHOT_STRATEGY_Order: "{\"_tag\":\"Nope\"}" })
        )
        assertInvalidAt(error, "SNAPSHOT_STRATEGY_Order")
      }))

    it.effect("warns about a key that matches a type only case-insensitively, and does not use it", () =>
      Effect.gen(function*() {
        const [strategy, logged] = yield* warnings(
          S.configPerAggregateType("SNAPSHOT_STRATEGY", ["Cart", "Order"]).pipe(
            withConfig({
              SNAPSHOT_STRATEGY: EVERY_100,
              SNAPSHOT_STRATEGY_CART: EVERY_20,
              snapshot_strategy_order: EVERY_20
            })
          )
        )
        assert.strictEqual(S.format(strategy), "perAggregateType({}, everyNEvents(100))")
        assert.deepStrictEqual(logged.map((l) => l.annotations), [
          { key: "SNAPSHOT_STRATEGY_CART", aggregateType: "Cart" },
          { key: "snapshot_strategy_order", aggregateType: "Order" }
        ])
        assert.include(logged[0]!.message, "SNAPSHOT_STRATEGY_CART is set but not used")
        assert.include(logged[0]!.message, "the key for the aggregate type \"Cart\" is SNAPSHOT_STRATEGY_Cart")
      }))

    it.effect("no warning when the keys match the types exactly, or are unrelated", () =>
      Effect.gen(function*() {
        const [strategy, logged] = yield* warnings(
          perType.pipe(
            withConfig({
              SNAPSHOT_STRATEGY: EVERY_100,
              SNAPSHOT_STRATEGY_Order: EVERY_20,
              SNAPSHOT_STRATEGY_CARTS: EVERY_20
            })
          )
        )
        assert.strictEqual(S.format(strategy), "perAggregateType({ \"Order\": everyNEvents(20) }, everyNEvents(100))")
        assert.deepStrictEqual(logged, [])
      }))

    it.effect("warns about an upper-case environment variable", () =>
      Effect.gen(function*() {
        const prefix = "EFFECT_SNAPSHOTS_CORE_TEST_WARN"
        const variables = { [prefix]: EVERY_100, [`${prefix}_ORDER`]: EVERY_20 }
        const [strategy, logged] = yield* Effect.acquireUseRelease(
          Effect.sync(() => Object.assign(process.env, variables)),
          () =>
            warnings(
              S.configPerAggregateType(prefix, ["Order"]).pipe(withProvider(ConfigProvider.fromEnv()))
            ),
          () =>
            Effect.sync(() => {
              for (const key of Object.keys(variables)) delete process.env[key]
            })
        )
        assert.strictEqual(S.format(strategy), "perAggregateType({}, everyNEvents(100))")
        assert.strictEqual(logged.length, 1)
        assert.include(logged[0]!.message, `${prefix}_ORDER is set but not used`)
      }))

    it.effect("works with environment variables, keeping the aggregate type's case", () =>
      Effect.gen(function*() {
        const prefix = "EFFECT_SNAPSHOTS_CORE_TEST_STRATEGY"
        const variables = { [prefix]: EVERY_100, [`${prefix}_Order`]: EVERY_20 }
        const strategy = yield* Effect.acquireUseRelease(
          Effect.sync(() => Object.assign(process.env, variables)),
          () =>
            S.configPerAggregateType(prefix, ["Order", "Invoice"]).pipe(
              withProvider(ConfigProvider.fromEnv())
            ),
          () =>
            Effect.sync(() => {
              for (const key of Object.keys(variables)) delete process.env[key]
            })
        )
        assert.strictEqual(S.format(strategy), "perAggregateType({ \"Order\": everyNEvents(20) }, everyNEvents(100))")
      }))
  })
})
