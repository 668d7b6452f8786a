import { BadArgument, SnapshotStrategy as S } from "@effect-snapshots/core"
import { assert, describe, it } from "@effect/vitest"
import type * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as fc from "fast-check"
import { prop } from "./utils/arbitraries.js"

/** The message of the BadArgument a constructor throws; fails the test when it does not throw one. */
const constructionError = (build: () => unknown): string => {
  try {
    build()
  } catch (error) {
    assert.instanceOf(error, BadArgument.BadArgument)
    assert.match(error.module, /^SnapshotStrategy\.[a-zA-Z]+$/)
    return error.message
  }
  return assert.fail("expected the constructor to reject its argument")
}

/** The problems a Schema class constructor (`new S.Any(...)`) throws: an Error whose cause is the SchemaIssue. */
const classConstructionError = (build: () => unknown): string => {
  try {
    build()
  } catch (error) {
    assert.instanceOf(error, Error)
    assert.isTrue(SchemaIssue.isIssue(error.cause))
    return S.formatIssues(error.cause as SchemaIssue.Issue)
  }
  return assert.fail("expected the constructor to reject its argument")
}

/** Effect 4 leaves the rejected input out of its messages unless asked (`reportInput`). */
const decodeJson = (text: string) => Schema.decodeUnknownResult(S.FromJson)(text, { reportInput: true })

const jsonError = (json: unknown): string =>
  Result.match(decodeJson(JSON.stringify(json)), {
    onFailure: (error) => error.message,
    onSuccess: (strategy) => assert.fail(`expected a SchemaError, decoded ${S.format(strategy)}`)
  })

const configError = (value: string) =>
  S.config("SNAPSHOT_STRATEGY").pipe(
    Effect.flip,
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown({ SNAPSHOT_STRATEGY: value }))
  )

/** A ConfigError for a value that is there but invalid: a SchemaError (not a SourceError), at its key. */
const assertInvalidAt = (error: Config.ConfigError, key: string): void => {
  assert.isTrue(Schema.isSchemaError(error.cause))
  assert.include(String(error), `at ["${key}"]`)
}

interface BadValue {
  readonly name: string
  readonly build: () => unknown
  readonly json: unknown
  readonly message: string
}

const NEVER = { _tag: "Never" }

const badValues: ReadonlyArray<BadValue> = [
  {
    name: "everyNEvents(0)",
    build: () => S.everyNEvents(0),
    json: { _tag: "EveryNEvents", n: 0 },
    message: "expected a positive integer, got 0"
  },
  {
    name: "everyNEvents(-5)",
    build: () => S.everyNEvents(-5),
    json: { _tag: "EveryNEvents", n: -5 },
    message: "expected a positive integer, got -5"
  },
  {
    name: "everyNEvents(2.5)",
    build: () => S.everyNEvents(2.5),
    json: { _tag: "EveryNEvents", n: 2.5 },
    message: "expected a positive integer, got 2.5"
  },
  {
    name: "eventsSinceSnapshot(0)",
    build: () => S.eventsSinceSnapshot(0),
    json: { _tag: "EventsSinceSnapshot", n: 0 },
    message: "expected a positive integer, got 0"
  },
  {
    name: "replayedAtLeast(1.5)",
    build: () => S.replayedAtLeast(1.5),
    json: { _tag: "ReplayedAtLeast", n: 1.5 },
    message: "expected a positive integer, got 1.5"
  },
  {
    name: "a negative duration (text)",
    build: () => S.afterDuration("-1 hours"),
    json: { _tag: "AfterDuration", duration: "-1 hours" },
    message: "a duration must not be negative, got \"-1 hours\""
  },
  {
    name: "a negative duration (millis)",
    build: () => S.loadTimeAtLeast(-50),
    json: { _tag: "LoadTimeAtLeast", duration: -50 },
    message: "a duration must not be negative, got -50"
  },
  {
    name: "an infinite duration",
    build: () => S.afterDuration("Infinity" as never),
    json: { _tag: "AfterDuration", duration: "Infinity" },
    message: "a duration must be finite"
  },
  {
    name: "a duration too large to be finite",
    build: () => S.afterDuration(`1${"0".repeat(400)} hours` as never),
    json: { _tag: "AfterDuration", duration: `1${"0".repeat(400)} hours` },
    message: "a duration must be finite"
  },
  {
    name: "a malformed duration",
    build: () => S.afterDuration("soon" as never),
    json: { _tag: "AfterDuration", duration: "soon" },
    message: "expected a duration as Config.Duration reads it (a number, a space and a unit, e.g. \"1 hour\", " +
      "\"90 seconds\", \"1.5 millis\", with the units nanos, micros, millis, seconds, minutes, hours, days, " +
      "weeks) or a number of milliseconds, got \"soon\""
  },
  {
    name: "a duration without a space before its unit",
    build: () => S.afterDuration("1hour" as never),
    json: { _tag: "AfterDuration", duration: "1hour" },
    message: "expected a duration as Config.Duration reads it"
  },
  {
    name: "no event types",
    build: () => S.onEventTypes(),
    json: { _tag: "OnEventTypes", types: [] },
    message: "at least one event type is required"
  },
  {
    name: "an empty event type",
    build: () => S.onEventTypes("Submitted", " "),
    json: { _tag: "OnEventTypes", types: ["Submitted", " "] },
    message: "an event type must not be empty"
  },
  {
    name: "an empty any",
    build: () => S.any(),
    json: { _tag: "Any", strategies: [] },
    message: "a composite needs at least one strategy, got none"
  },
  {
    name: "an empty all",
    build: () => S.all(),
    json: { _tag: "All", strategies: [] },
    message: "a composite needs at least one strategy, got none"
  },
  {
    name: "an empty all nested in a valid any",
    build: () => S.any(S.never, S.all()),
    json: { _tag: "Any", strategies: [NEVER, { _tag: "All", strategies: [] }] },
    message: "a composite needs at least one strategy, got none"
  },
  {
    name: "perAggregateType with an empty type name",
    build: () => S.perAggregateType({ Order: S.always, "": S.never }, S.never),
    json: { _tag: "PerAggregateType", strategies: { Order: NEVER, "": NEVER }, fallback: NEVER },
    message: "an aggregate type must not be empty, got \"\""
  },
  {
    name: "perAggregateType with \"__proto__\" as an aggregate type (an own key)",
    build: () =>
      S.perAggregateType(
        Object.defineProperty({}, "__proto__", { value: S.always, enumerable: true }) as Record<
          string,
          S.SnapshotStrategy
        >,
        S.never
      ),
    json: {
      _tag: "PerAggregateType",
      strategies: JSON.parse("{\"__proto__\":{\"_tag\":\"Always\"}}"),
      fallback: NEVER
    },
    message: "\"__proto__\" is not allowed as a key"
  },
  {
    name: "an empty custom name",
    build: () => S.custom(""),
    json: { _tag: "Custom", name: "" },
    message: "a custom strategy name must not be empty"
  }
]

describe("bad values are rejected", () => {
  for (const bad of badValues) {
    it(`at construction: ${bad.name}`, () => {
      assert.include(constructionError(bad.build), bad.message)
    })

    it(`in JSON: ${bad.name}`, () => {
      assert.include(jsonError(bad.json), bad.message)
    })

    it.effect(`in Config: ${bad.name}`, () =>
      Effect.gen(function*() {
        const error = yield* configError(JSON.stringify(bad.json))
        assertInvalidAt(error, "SNAPSHOT_STRATEGY")
        assert.include(String(error), bad.message)
      }))
  }

  it("names the constructor of a bad duration", () => {
    assert.include(constructionError(() => S.loadTimeAtLeast("-3 seconds")), "SnapshotStrategy.loadTimeAtLeast: ")
    assert.include(constructionError(() => S.afterDuration([-1, 0])), "SnapshotStrategy.afterDuration: duration: ")
    assert.include(constructionError(() => S.afterDuration(-1n)), "must not be negative")
  })

  it("the classes' own constructors validate too", () => {
    assert.include(classConstructionError(() => new S.Any({ strategies: [] })), "at least one strategy")
    assert.include(classConstructionError(() => new S.EveryNEvents({ n: 0 })), "expected a positive integer, got 0")
    assert.include(
      constructionError(() => S.not({ _tag: "Always" } as never)),
      "Expected Always, got {\"_tag\":\"Always\"}"
    )
  })

  it("in JSON: wrong shapes", () => {
    assert.include(jsonError({ _tag: "EveryNEvents", n: "100" }), "Expected number, got \"100\"")
    assert.include(jsonError({ _tag: "EveryNEvents" }), "Missing key\n  at [\"n\"]")
    assert.include(jsonError({ _tag: "Sometimes" }), "got {\"_tag\":\"Sometimes\"}")
    assert.include(jsonError({ _tag: "Not", strategy: { _tag: "EveryNEvents", n: 0 } }), "positive integer")
    assert.include(
      jsonError({ _tag: "PerAggregateType", strategies: { Order: { _tag: "Custom", name: "" } }, fallback: NEVER }),
      "a custom strategy name must not be empty"
    )
    assert.include(
      Result.getFailure(
        decodeJson(
          "{\"_tag\":\"PerAggregateType\",\"strategies\":{\"__proto__\":{\"_tag\":\"Always\"}},\"fallback\":{\"_tag\":\"Never\"}}"
        )
      ).pipe(Option.map((e) => e.message), Option.getOrElse(() => "accepted")),
      "\"__proto__\" is not allowed"
    )
    const notJson = decodeJson("{\"_tag\": ")
    assert.isTrue(Result.isFailure(notJson))
  })

  prop(
    "every non-positive or fractional count, at construction and in JSON",
    [fc.oneof(fc.integer({ max: 0 }), fc.double({ noNaN: true }).filter((n) => !Number.isInteger(n)))],
    ([n]) => {
      assert.include(constructionError(() => S.everyNEvents(n)), "expected a positive integer")
      assert.include(constructionError(() => S.replayedAtLeast(n)), "expected a positive integer")
      if (Number.isFinite(n)) {
        assert.include(jsonError({ _tag: "EventsSinceSnapshot", n }), "expected a positive integer")
      }
    }
  )

  prop(
    "every negative duration, at construction and in JSON",
    [fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true })],
    ([millis]) => {
      assert.include(constructionError(() => S.afterDuration(millis)), "must not be negative")
      assert.include(jsonError({ _tag: "LoadTimeAtLeast", duration: millis }), "must not be negative")
    }
  )

  prop(
    "every negative duration written as text, at construction and in JSON",
    [fc.tuple(fc.nat(), fc.nat()).filter(([a, b]) => a + b > 0), fc.constantFrom("nanos", "seconds", "weeks")],
    ([[whole, fraction], unit]) => {
      const text = `-${whole}.${fraction} ${unit}`
      assert.include(constructionError(() => S.afterDuration(text as never)), "must not be negative")
      assert.include(jsonError({ _tag: "LoadTimeAtLeast", duration: text }), "must not be negative")
    }
  )
})

describe("messages", () => {
  const twoProblems = {
    _tag: "Any",
    strategies: [
      { _tag: "EveryNEvents", n: 0 },
      { _tag: "PerAggregateType", strategies: { Order: { _tag: "AfterDuration", duration: "1hour" } }, fallback: NEVER }
    ]
  }

  it.effect("Config lists every problem with its path, without the Schema's type tree", () =>
    Effect.gen(function*() {
      const error = yield* configError(JSON.stringify(twoProblems))
      const message = String(error)
      assert.include(message, "2 problems: strategies[0].n: expected a positive integer, got 0; ")
      assert.include(
        message,
        "strategies[1].strategies.Order.duration: expected a duration as Config.Duration reads it"
      )
      for (const dump of ["{ readonly", "Encoded side", "└─", "SnapshotStrategy ("]) assert.notInclude(message, dump)
    }))

  it("formatIssues: one problem is one line with its path; a problem at the root has no path", () => {
    const decode = Schema.decodeUnknownResult(S.FromJson, { errors: "all", reportInput: true })
    const format = (text: string) =>
      Result.match(decode(text), { onFailure: S.formatIssues, onSuccess: () => assert.fail("decoded") })
    assert.strictEqual(format(JSON.stringify(twoProblems)).split("; ").length, 2)
    assert.strictEqual(
      format("{\"_tag\":\"Not\",\"strategy\":5}"),
      "strategy: Expected SnapshotStrategy (an object whose \"_tag\" names a strategy, e.g. \"EveryNEvents\"), got 5"
    )
    assert.strictEqual(
      format(
        "{\"_tag\":\"PerAggregateType\",\"strategies\":{\"Order Line\":{\"_tag\":\"Custom\",\"name\":\"\"}},\"fallback\":{\"_tag\":\"Never\"}}"
      ),
      "strategies[\"Order Line\"].name: a custom strategy name must not be empty, got \"\""
    )
    assert.strictEqual(format("{\"_tag\":\"PerAggregateType\",\"strategies\":{}}"), "fallback: Missing key")
    assert.strictEqual(
      format("5"),
      "Expected SnapshotStrategy (an object whose \"_tag\" names a strategy, e.g. \"EveryNEvents\"), got 5"
    )
  })

  it("constructors list every problem too, in a BadArgument naming the constructor", () => {
    const message = constructionError(() => S.onEventTypes("Submitted", "", " "))
    assert.strictEqual(
      message,
      "SnapshotStrategy.onEventTypes: 2 problems: types[1]: an event type must not be empty, got \"\"; " +
        "types[2]: an event type must not be empty, got \" \""
    )
  })
})
