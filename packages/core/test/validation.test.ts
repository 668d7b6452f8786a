import { SnapshotStrategy as S } from "@effect-snapshots/core"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** The message of the ParseError a constructor throws; fails the test when it does not throw one. */
const constructionError = (build: () => unknown): string => {
  try {
    build()
  } catch (error) {
    assert.instanceOf(error, ParseResult.ParseError)
    return error.message
  }
  return assert.fail("expected the constructor to reject its argument")
}

const jsonError = (json: unknown): string =>
  Either.match(Schema.decodeUnknownEither(S.FromJson)(JSON.stringify(json)), {
    onLeft: (error) => error.message,
    onRight: (strategy) => assert.fail(`expected a ParseError, decoded ${S.format(strategy)}`)
  })

const configError = (value: string) =>
  S.config("SNAPSHOT_STRATEGY").pipe(
    Effect.flip,
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SNAPSHOT_STRATEGY", value]])))
  )

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
    build: () => S.afterDuration("1e400 hours" as never),
    json: { _tag: "AfterDuration", duration: "1e400 hours" },
    message: "a duration must be finite"
  },
  {
    name: "a malformed duration",
    build: () => S.afterDuration("soon" as never),
    json: { _tag: "AfterDuration", duration: "soon" },
    message: "expected a duration such as \"1 hour\", \"50 millis\" or a number of milliseconds, got \"soon\""
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
        assert.strictEqual(error._op, "InvalidData")
        assert.include(String(error), "Invalid data at SNAPSHOT_STRATEGY")
        assert.include(String(error), bad.message)
      }))
  }

  it("names the constructor of a bad duration", () => {
    assert.include(constructionError(() => S.loadTimeAtLeast("-3 seconds")), "loadTimeAtLeast: ")
    assert.include(constructionError(() => S.afterDuration([-1, 0])), "afterDuration: ")
    assert.include(constructionError(() => S.afterDuration(-1n)), "must not be negative")
  })

  it("the classes' own constructors validate too", () => {
    assert.include(constructionError(() => new S.Any({ strategies: [] })), "at least one strategy")
    assert.include(constructionError(() => new S.EveryNEvents({ n: 0 })), "expected a positive integer, got 0")
    assert.include(constructionError(() => S.not({ _tag: "Always" } as never)), "Expected Always")
  })

  it("in JSON: wrong shapes", () => {
    assert.include(jsonError({ _tag: "EveryNEvents", n: "100" }), "Expected number, actual \"100\"")
    assert.include(jsonError({ _tag: "EveryNEvents" }), "[\"n\"]\n")
    assert.include(jsonError({ _tag: "Sometimes" }), "actual \"Sometimes\"")
    assert.include(jsonError({ _tag: "Not", strategy: { _tag: "EveryNEvents", n: 0 } }), "positive integer")
    assert.include(
      jsonError({ _tag: "PerAggregateType", strategies: { Order: { _tag: "Custom", name: "" } }, fallback: NEVER }),
      "a custom strategy name must not be empty"
    )
    assert.include(
      Either.getLeft(
        Schema.decodeUnknownEither(S.FromJson)(
          "{\"_tag\":\"PerAggregateType\",\"strategies\":{\"__proto__\":{\"_tag\":\"Always\"}},\"fallback\":{\"_tag\":\"Never\"}}"
        )
      ).pipe(Option.map((e) => e.message), Option.getOrElse(() => "accepted")),
      "\"__proto__\" is not allowed"
    )
    const notJson = Schema.decodeUnknownEither(S.FromJson)("{\"_tag\": ")
    assert.isTrue(Either.isLeft(notJson))
  })

  it.prop(
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

  it.prop(
    "every negative duration, at construction and in JSON",
    [fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true })],
    ([millis]) => {
      assert.include(constructionError(() => S.afterDuration(millis)), "must not be negative")
      assert.include(jsonError({ _tag: "LoadTimeAtLeast", duration: millis }), "must not be negative")
      assert.include(
        jsonError({ _tag: "LoadTimeAtLeast", duration: `${-millis} seconds`.replace(/^/, "-") }),
        "negative"
      )
    }
  )
})
