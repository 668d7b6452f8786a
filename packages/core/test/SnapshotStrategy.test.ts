import { SnapshotStrategy as S } from "@effect-snapshots/core"
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import {
  AGGREGATE_TYPES,
  context,
  contextArb,
  durationArb,
  leafArb,
  predicates,
  prop,
  strategyArb,
  treeArb,
  wideStrategyArb
} from "./utils/arbitraries.js"

const decideWith = (strategy: S.SnapshotStrategy, c: S.DecisionContext): S.Decision =>
  Result.getOrThrow(S.decide(strategy, c, predicates))

const takes = (strategy: S.SnapshotStrategy, c: S.DecisionContext): boolean => decideWith(strategy, c).take

/** Does some multiple of n lie in (previous, current]? Counted one version at a time. */
const crossesBoundary = (n: number, previous: number, current: number): boolean => {
  for (let v = previous + 1; v <= current; v++) if (v % n === 0) return true
  return false
}

const dedupe = (reasons: ReadonlyArray<string>): ReadonlyArray<string> => Array.from(new Set(reasons))

describe("SnapshotStrategy", () => {
  describe("everyNEvents", () => {
    it("fires when a multi-event commit steps over a multiple of n", () => {
      const strategy = S.everyNEvents(100)
      assert.deepStrictEqual(decideWith(strategy, context({ previousVersion: 98, currentVersion: 103 })), {
        take: true,
        reasons: ["everyNEvents(100)"]
      })
      assert.isTrue(takes(strategy, context({ previousVersion: 99, currentVersion: 100 })))
      assert.isTrue(takes(strategy, context({ previousVersion: 0, currentVersion: 250 })))
      assert.isFalse(takes(strategy, context({ previousVersion: 100, currentVersion: 199 })))
      assert.isFalse(takes(strategy, context({ previousVersion: 0, currentVersion: 99 })))
      assert.isFalse(takes(strategy, context({ previousVersion: 100, currentVersion: 100 })))
    })

    prop(
      "over any batch sizes, fires exactly on the commits that cross a boundary and never skips one",
      [
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 500 }),
        fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 40 })
      ],
      ([n, start, batches]) => {
        const strategy = S.everyNEvents(n)
        const fired: Array<readonly [number, number]> = []
        let previous = start
        for (const size of batches) {
          const current = previous + size
          const take = takes(strategy, context({ previousVersion: previous, currentVersion: current }))
          assert.strictEqual(take, crossesBoundary(n, previous, current), `${previous} -> ${current}, n = ${n}`)
          if (take) fired.push([previous, current])
          previous = current
        }
        for (let boundary = (Math.floor(start / n) + 1) * n; boundary <= previous; boundary += n) {
          assert.isTrue(
            fired.some(([from, to]) => from < boundary && boundary <= to),
            `boundary ${boundary} was stepped over without a snapshot`
          )
        }
      }
    )

    prop(
      "is exact up to Number.MAX_SAFE_INTEGER",
      [fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.maxSafeNat(), fc.maxSafeNat()],
      ([n, a, b]) => {
        const [previous, current] = a <= b ? [a, b] : [b, a]
        const expected = BigInt(current) / BigInt(n) > BigInt(previous) / BigInt(n)
        assert.strictEqual(
          takes(S.everyNEvents(n), context({ previousVersion: previous, currentVersion: current })),
          expected
        )
      }
    )
  })

  describe("the other leaves", () => {
    prop(
      "eventsSinceSnapshot counts from the last snapshot, or from version 0",
      [fc.integer({ min: 1, max: 50 }), contextArb],
      ([n, c]) => {
        const since = c.currentVersion - Option.getOrElse(c.lastSnapshotVersion, () => 0)
        assert.strictEqual(takes(S.eventsSinceSnapshot(n), c), since >= n)
      }
    )

    it("eventsSinceSnapshot", () => {
      const strategy = S.eventsSinceSnapshot(10)
      assert.isTrue(takes(strategy, context({ previousVersion: 5, currentVersion: 10 })))
      assert.isFalse(takes(strategy, context({ previousVersion: 5, currentVersion: 9 })))
      assert.isFalse(takes(strategy, context({ previousVersion: 12, currentVersion: 14, lastSnapshotVersion: 5 })))
      assert.isTrue(takes(strategy, context({ previousVersion: 12, currentVersion: 15, lastSnapshotVersion: 5 })))
    })

    it("afterDuration: since the last snapshot, and true when there is none", () => {
      const strategy = S.afterDuration("1 hour")
      assert.isTrue(takes(strategy, context({})))
      assert.isFalse(takes(strategy, context({ lastSnapshotMillisAgo: 3_600_000 - 1 })))
      assert.isTrue(takes(strategy, context({ lastSnapshotMillisAgo: 3_600_000 })))
      assert.isFalse(takes(strategy, context({ lastSnapshotMillisAgo: -5_000 })), "a snapshot from the future")
    })

    it("afterDuration: a snapshot stamped at least the duration in the future (a skewed clock) is due", () => {
      const strategy = S.afterDuration("1 hour")
      // Another instance's clock ran a day fast: its snapshot must not stop this instance's for a day.
      assert.isTrue(takes(strategy, context({ lastSnapshotMillisAgo: -24 * 3_600_000 })), "a day ahead")
      assert.isTrue(takes(strategy, context({ lastSnapshotMillisAgo: -3_600_000 })), "exactly the duration ahead")
      // Less than the duration ahead: counted as its distance, so it delays by at most the skew.
      assert.isFalse(takes(strategy, context({ lastSnapshotMillisAgo: -(3_600_000 - 1) })), "just under it ahead")
    })

    it("onEventTypes: the batch contains one of the types", () => {
      const strategy = S.onEventTypes("Submitted", "Cancelled")
      assert.isTrue(takes(strategy, context({ eventTypes: ["ItemAdded", "Cancelled"] })))
      assert.isFalse(takes(strategy, context({ eventTypes: ["ItemAdded", "ItemAdded"] })))
      assert.isFalse(takes(strategy, context({ eventTypes: [] })))
    })

    it("replayedAtLeast and loadTimeAtLeast: load-side triggers, silent when the last load is unknown", () => {
      assert.isFalse(takes(S.replayedAtLeast(500), context({})))
      assert.isFalse(takes(S.replayedAtLeast(500), context({ replayedEvents: 499 })))
      assert.isTrue(takes(S.replayedAtLeast(500), context({ replayedEvents: 500 })))

      const slow = S.loadTimeAtLeast("50 millis")
      assert.isFalse(takes(slow, context({})))
      assert.isFalse(takes(slow, context({ replayDuration: Duration.nanos(49_999_999n) })))
      assert.isTrue(takes(slow, context({ replayDuration: Duration.nanos(50_000_000n) })))
      assert.isTrue(takes(slow, context({ replayDuration: Duration.seconds(2) })))
      assert.isTrue(takes(S.loadTimeAtLeast("1500 micros"), context({ replayDuration: Duration.micros(1500n) })))
      assert.isFalse(takes(S.loadTimeAtLeast("1500 micros"), context({ replayDuration: Duration.micros(1499n) })))
    })

    it("never and always", () => {
      assert.deepStrictEqual(decideWith(S.never, context()), { take: false, reasons: [] })
      assert.deepStrictEqual(decideWith(S.always, context()), { take: true, reasons: ["always"] })
    })
  })

  describe("composition", () => {
    prop("any / all / not are or / and / negation", [strategyArb, strategyArb, contextArb], ([a, b, c]) => {
      const ta = takes(a, c)
      const tb = takes(b, c)
      assert.strictEqual(takes(S.any(a, b), c), ta || tb)
      assert.strictEqual(takes(S.all(a, b), c), ta && tb)
      assert.strictEqual(takes(S.not(a), c), !ta)
      assert.strictEqual(takes(S.any(a), c), ta)
      assert.strictEqual(takes(S.all(a), c), ta)
    })

    prop("boolean algebra laws", [strategyArb, strategyArb, strategyArb, contextArb], ([a, b, x, c]) => {
      const same = (l: S.SnapshotStrategy, r: S.SnapshotStrategy, law: string) =>
        assert.strictEqual(takes(l, c), takes(r, c), law)
      same(S.not(S.not(a)), a, "double negation")
      same(S.not(S.any(a, b)), S.all(S.not(a), S.not(b)), "De Morgan (any)")
      same(S.not(S.all(a, b)), S.any(S.not(a), S.not(b)), "De Morgan (all)")
      same(S.any(a, b), S.any(b, a), "any commutes")
      same(S.all(a, b), S.all(b, a), "all commutes")
      same(S.any(a, S.any(b, x)), S.any(S.any(a, b), x), "any associates")
      same(S.all(a, S.all(b, x)), S.all(S.all(a, b), x), "all associates")
      same(S.all(a, S.any(b, x)), S.any(S.all(a, b), S.all(a, x)), "all distributes over any")
      same(S.any(a, S.all(b, x)), S.all(S.any(a, b), S.any(a, x)), "any distributes over all")
      same(S.any(a, S.never), a, "never is the identity of any")
      same(S.all(a, S.always), a, "always is the identity of all")
      same(S.any(a, S.not(a)), S.always, "excluded middle")
      same(S.all(a, S.not(a)), S.never, "non-contradiction")
      same(S.not(S.never), S.always, "not(never)")
    })

    prop(
      "perAggregateType uses the aggregate type's entry and falls back to its default",
      [
        fc.dictionary(fc.constantFrom(...AGGREGATE_TYPES), strategyArb, { maxKeys: 3, noNullPrototype: true }),
        strategyArb,
        contextArb
      ],
      ([table, fallback, c]) => {
        const strategy = S.perAggregateType(table, fallback)
        const chosen = Object.hasOwn(table, c.aggregateType) ? table[c.aggregateType]! : fallback
        assert.deepStrictEqual(decideWith(strategy, c), decideWith(chosen, c))
        assert.deepStrictEqual(
          decideWith(strategy, { ...c, aggregateType: "NotInTheTable" }),
          decideWith(fallback, { ...c, aggregateType: "NotInTheTable" })
        )
      }
    )

    it("perAggregateType with an empty table is its fallback", () => {
      const strategy = S.perAggregateType({}, S.everyNEvents(10))
      assert.deepStrictEqual(decideWith(strategy, context({ previousVersion: 9, currentVersion: 10 })), {
        take: true,
        reasons: ["everyNEvents(10)"]
      })
    })
  })

  describe("reasons", () => {
    /** The reasons by the definition in `Decision`'s documentation, combinator by combinator. */
    const expectedReasons = (s: S.SnapshotStrategy, c: S.DecisionContext): ReadonlyArray<string> | undefined => {
      switch (s._tag) {
        case "Any": {
          const held = s.strategies.map((child) => expectedReasons(child, c)).filter((r) => r !== undefined)
          return held.length === 0 ? undefined : dedupe(held.flat())
        }
        case "All": {
          const all = s.strategies.map((child) => expectedReasons(child, c))
          return all.every((r) => r !== undefined) ? dedupe(all.flat()) : undefined
        }
        case "Not":
          return expectedReasons(s.strategy, c) === undefined ? [S.format(s)] : undefined
        case "PerAggregateType":
          return expectedReasons(
            Object.hasOwn(s.strategies, c.aggregateType) ? s.strategies[c.aggregateType]! : s.fallback,
            c
          )
        default:
          // A leaf: ask the implementation whether it fires on its own, and expect its name.
          return takes(s, c) ? [S.format(s)] : undefined
      }
    }

    const subterms = (s: S.SnapshotStrategy): ReadonlyArray<S.SnapshotStrategy> => {
      switch (s._tag) {
        case "Any":
        case "All":
          return [s, ...s.strategies.flatMap(subterms)]
        case "Not":
          return [s, ...subterms(s.strategy)]
        case "PerAggregateType":
          return [s, ...Object.values(s.strategies).flatMap(subterms), ...subterms(s.fallback)]
        default:
          return [s]
      }
    }

    prop("follow the documented definition, and are non-empty exactly when take", [strategyArb, contextArb], ([
      strategy,
      c
    ]) => {
      const decision = decideWith(strategy, c)
      assert.deepStrictEqual(decision.reasons, expectedReasons(strategy, c) ?? [])
      assert.strictEqual(decision.take, decision.reasons.length > 0)
    })

    prop(
      "name only conditions that held: firing leaves and holding nots",
      [strategyArb, contextArb],
      ([strategy, c]) => {
        const candidates = new Map(subterms(strategy).map((s) => [S.format(s), s]))
        for (const reason of decideWith(strategy, c).reasons) {
          const term = candidates.get(reason)
          assert.isDefined(term, `${reason} is not part of ${S.format(strategy)}`)
          assert.notInclude(["Any", "All", "PerAggregateType", "Never"], term!._tag)
          assert.isTrue(takes(term!, c), `${reason} did not hold`)
        }
      }
    )

    prop(
      "without not: exactly the firing leaves whose enclosing branches held",
      [treeArb(leafArb, { withNot: false }), contextArb],
      ([strategy, c]) => {
        // Walk the tree; a leaf counts when it fires and every enclosing any/all/perAggregateType branch holds.
        const expected = new Set<string>()
        const walk = (s: S.SnapshotStrategy): void => {
          if (!takes(s, c)) return
          switch (s._tag) {
            case "Any":
            case "All":
              return s.strategies.forEach(walk)
            case "PerAggregateType":
              return walk(Object.hasOwn(s.strategies, c.aggregateType) ? s.strategies[c.aggregateType]! : s.fallback)
            default:
              expected.add(S.format(s))
          }
        }
        walk(strategy)
        assert.deepStrictEqual(new Set(decideWith(strategy, c).reasons), expected)
      }
    )

    it("list every condition that held, in order, once; leaves under a not or a failed all are not reasons", () => {
      const c = context({ previousVersion: 98, currentVersion: 103, eventTypes: ["Submitted"] })
      const strategy = S.any(
        S.everyNEvents(100),
        S.not(S.onEventTypes("Cancelled")),
        S.all(S.everyNEvents(10), S.onEventTypes("Created")),
        S.not(S.everyNEvents(50)),
        S.everyNEvents(100)
      )
      assert.deepStrictEqual(decideWith(strategy, c), {
        take: true,
        reasons: ["everyNEvents(100)", "not(onEventTypes(\"Cancelled\"))"]
      })
      assert.deepStrictEqual(decideWith(S.not(S.everyNEvents(100)), c), { take: false, reasons: [] })
      assert.deepStrictEqual(
        decideWith(
          S.all(S.everyNEvents(100), S.not(S.custom("isOrder"))),
          context({ aggregateType: "Cart", currentVersion: 100 })
        ),
        { take: true, reasons: ["everyNEvents(100)", "not(custom(\"isOrder\"))"] }
      )
    })
  })

  describe("compiled deciders", () => {
    prop("agree with decide", [strategyArb, fc.array(contextArb, { maxLength: 10 })], ([strategy, contexts]) => {
      const decider = Result.getOrThrow(S.compile(strategy, predicates))
      for (const c of contexts) assert.deepStrictEqual(decider(c), decideWith(strategy, c))
    })

    it("allocate no decision when nothing fires, and share a lone leaf's reasons", () => {
      const decider = Result.getOrThrow(S.compile(S.any(S.everyNEvents(100), S.onEventTypes("Cancelled"))))
      const quiet1 = decider(context({ previousVersion: 1, currentVersion: 2 }))
      const quiet2 = decider(context({ previousVersion: 2, currentVersion: 3 }))
      assert.strictEqual(quiet1, quiet2)
      assert.isFalse(quiet1.take)
      const fired1 = decider(context({ previousVersion: 99, currentVersion: 100 }))
      const fired2 = decider(context({ previousVersion: 199, currentVersion: 200 }))
      assert.strictEqual(fired1.reasons, fired2.reasons)
      assert.isTrue(Object.isFrozen(fired1.reasons))
    })
  })

  describe("custom strategies", () => {
    it("use the supplied predicate", () => {
      const big: S.CustomPredicates = { bigOrder: (c) => c.eventTypes.length >= 3 }
      const strategy = S.custom("bigOrder")
      assert.deepStrictEqual(
        S.decide(strategy, context({ eventTypes: ["A", "B", "C"] }), big),
        Result.succeed({
          take: true,
          reasons: ["custom(\"bigOrder\")"]
        })
      )
      assert.deepStrictEqual(S.shouldSnapshot(strategy, context({ eventTypes: ["A"] }), big), Result.succeed(false))
    })

    it("an unknown name is one typed error listing every unknown name, found before any predicate runs", () => {
      let calls = 0
      const registry: S.CustomPredicates = {
        known: () => {
          calls++
          return true
        }
      }
      const strategy = S.any(
        S.custom("missing"),
        S.perAggregateType({ Order: S.custom("known") }, S.not(S.custom("alsoMissing"))),
        S.custom("missing")
      )
      const result = S.compile(strategy, registry)
      assert.isTrue(Result.isFailure(result))
      const error = Result.getFailure(result).pipe(Option.getOrThrow)
      assert.strictEqual(error._tag, "UnknownCustomStrategy")
      assert.deepStrictEqual(error.names, ["missing", "alsoMissing"])
      assert.deepStrictEqual(error.known, ["known"])
      assert.include(error.message, "\"missing\", \"alsoMissing\"")
      assert.strictEqual(calls, 0)

      assert.deepStrictEqual(S.decide(strategy, context(), registry), Result.fail(error))
      assert.deepStrictEqual(S.shouldSnapshot(strategy, context(), registry), Result.fail(error))
      assert.deepStrictEqual(S.customNames(strategy), ["missing", "known", "alsoMissing"])
    })

    it("names inherited from Object.prototype are not predicates", () => {
      const result = S.compile(S.any(S.custom("toString"), S.custom("constructor")))
      assert.deepStrictEqual(
        Result.getFailure(result).pipe(Option.map((e) => e.names)),
        Option.some(["toString", "constructor"])
      )
      assert.include(Result.getFailure(result).pipe(Option.getOrThrow).message, "none were supplied")
    })

    it.effect("the error is a failure when the Result is lifted with Effect.fromResult in Effect.gen", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Effect.fromResult(S.compile(S.custom("nope"))))
        assert.strictEqual(error._tag, "UnknownCustomStrategy")
        const decider = yield* Effect.fromResult(S.compile(S.custom("yes"), { yes: () => true }))
        assert.isTrue(decider(context()).take)
      }))
  })

  describe("JSON", () => {
    const equivalent = Schema.toEquivalence(S.SnapshotStrategy)
    const toJson = Schema.encodeSync(S.FromJson)
    const fromJson = Schema.decodeUnknownSync(S.FromJson)

    prop("every strategy round-trips", [wideStrategyArb], ([strategy]) => {
      const json = toJson(strategy)
      const back = fromJson(json)
      assert.isTrue(equivalent(strategy, back), `${S.format(strategy)} came back as ${S.format(back)}`)
      assert.strictEqual(toJson(back), json)
      assert.strictEqual(S.format(back), S.format(strategy))
    })

    prop("round-trips through Schema.encode / decode to plain data", [wideStrategyArb], ([strategy]) => {
      const encoded = Schema.encodeSync(S.SnapshotStrategy)(strategy)
      const back = Schema.decodeUnknownSync(S.SnapshotStrategy)(JSON.parse(JSON.stringify(encoded)))
      assert.isTrue(equivalent(strategy, back))
      // The encoded form is JSON already: Effect 4's JSON codec of the Schema gives the same value.
      assert.deepStrictEqual<unknown>(Schema.encodeSync(Schema.toCodecJson(S.SnapshotStrategy))(strategy), encoded)
    })

    it.prop(
      "the Schema's own arbitrary builds valid strategies that round-trip",
      [S.SnapshotStrategy],
      ([strategy]) => {
        assert.isTrue(Schema.is(S.SnapshotStrategy)(strategy))
        assert.isTrue(equivalent(fromJson(toJson(strategy)), strategy))
      },
      { arbitrary: { runs: 50 } }
    )

    it("reads JSON written by the Effect 3 versions and writes it back byte for byte", () => {
      // Strategies (durations up to 2^53 ms) encoded by 0.x on Effect 3.22 with its own generators, and its
      // README's example first.
      const texts: ReadonlyArray<string> = JSON.parse(
        readFileSync(new URL("./fixtures/effect3-strategies.json", import.meta.url), "utf8")
      )
      assert.isAbove(texts.length, 100)
      for (const text of texts) assert.strictEqual(toJson(fromJson(text)), text)
    })

    it("has a readable form", () => {
      const strategy = S.any(
        S.everyNEvents(100),
        S.afterDuration("1 hour"),
        S.perAggregateType({ Order: S.not(S.custom("bigOrder")) }, S.loadTimeAtLeast("50 millis"))
      )
      // Byte for byte the text Effect 3's `Schema.parseJson` wrote: strategies stored in configuration stay valid.
      assert.strictEqual(
        toJson(strategy),
        "{\"_tag\":\"Any\",\"strategies\":[{\"_tag\":\"EveryNEvents\",\"n\":100},{\"_tag\":\"AfterDuration\"," +
          "\"duration\":\"1 hour\"},{\"_tag\":\"PerAggregateType\",\"strategies\":{\"Order\":{\"_tag\":\"Not\"," +
          "\"strategy\":{\"_tag\":\"Custom\",\"name\":\"bigOrder\"}}},\"fallback\":{\"_tag\":\"LoadTimeAtLeast\"," +
          "\"duration\":\"50 millis\"}}]}"
      )
      assert.deepStrictEqual(JSON.parse(toJson(strategy)), {
        _tag: "Any",
        strategies: [
          { _tag: "EveryNEvents", n: 100 },
          { _tag: "AfterDuration", duration: "1 hour" },
          {
            _tag: "PerAggregateType",
            strategies: { Order: { _tag: "Not", strategy: { _tag: "Custom", name: "bigOrder" } } },
            fallback: { _tag: "LoadTimeAtLeast", duration: "50 millis" }
          }
        ]
      })
    })
  })

  describe("durations", () => {
    const encodedDuration = (input: Duration.Input): unknown =>
      (Schema.encodeSync(S.SnapshotStrategy)(S.afterDuration(input)) as { duration: unknown }).duration

    it("accept friendly inputs and encode to the largest exact unit", () => {
      const cases: ReadonlyArray<readonly [Duration.Input, Duration.Duration, string]> = [
        ["1 hour", Duration.hours(1), "1 hour"],
        ["90 minutes", Duration.minutes(90), "90 minutes"],
        ["120 minutes", Duration.hours(2), "2 hours"],
        ["50 millis", Duration.millis(50), "50 millis"],
        ["1.5 seconds", Duration.millis(1500), "1500 millis"],
        ["2  days", Duration.days(2), "2 days"],
        ["14 days", Duration.weeks(2), "2 weeks"],
        ["1500 micros", Duration.micros(1500n), "1500 micros"],
        ["0.5 millis", Duration.micros(500n), "500 micros"],
        ["7 nanos", Duration.nanos(7n), "7 nanos"],
        ["2000000 nanos", Duration.millis(2), "2 millis"],
        [3_600_000, Duration.hours(1), "1 hour"],
        [0, Duration.zero, "0 millis"],
        [12n, Duration.nanos(12n), "12 nanos"],
        [[1, 500], Duration.nanos(1_000_000_500n), "1000000500 nanos"],
        [Duration.seconds(30), Duration.seconds(30), "30 seconds"]
      ]
      for (const [input, duration, text] of cases) {
        assert.isTrue(Duration.equals(S.afterDuration(input).duration, duration), `${String(input)}`)
        assert.strictEqual(encodedDuration(input), text)
      }
      const decoded = Schema.decodeUnknownSync(S.SnapshotStrategy)({ _tag: "LoadTimeAtLeast", duration: 250 })
      assert.isTrue(decoded._tag === "LoadTimeAtLeast" && Duration.equals(decoded.duration, Duration.millis(250)))
    })

    /** What `Config.Duration` reads from the text: the duration, or undefined when it refuses it. */
    const configDuration = (text: string): Duration.Duration | undefined =>
      Effect.runSync(
        Config.Duration("D").pipe(
          Effect.option,
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown({ D: text })),
          Effect.map(Option.getOrUndefined)
        )
      )

    /** What a strategy reads from the text in JSON: the duration, or undefined when it refuses it. */
    const strategyDuration = (text: string): Duration.Duration | undefined =>
      Result.match(Schema.decodeUnknownResult(S.SnapshotStrategy)({ _tag: "AfterDuration", duration: text }), {
        onFailure: () => undefined,
        onSuccess: (strategy) =>
          strategy._tag === "AfterDuration" ? strategy.duration : assert.fail("decoded another tag")
      })

    it("text: what Config.Duration refuses is refused (no unit, no space, other case, blanks, exponents)", () => {
      for (
        const text of ["1hour", "1 Hour", "1 HOURS", " 2 days", "2 days ", "1e3 hours", "100", "1 hr", "one hour", ""]
      ) {
        assert.isUndefined(configDuration(text), `Config.Duration accepts ${JSON.stringify(text)}`)
        assert.isUndefined(strategyDuration(text), `a strategy accepts ${JSON.stringify(text)}`)
        assert.throws(() => S.afterDuration(text as Duration.Input))
      }
    })

    it("text: negative and infinite durations are refused although Config.Duration reads them", () => {
      // Config.Duration reads "-1 hours" as a negative duration and a number too large for a double as Infinity.
      for (const text of ["-1 hours", "-0.5 millis", `1${"0".repeat(400)} hours`]) {
        assert.isDefined(configDuration(text), text)
        assert.isUndefined(strategyDuration(text), text)
      }
      assert.isTrue(Duration.equals(strategyDuration("-0 seconds")!, Duration.zero), "minus zero is zero")
    })

    const unitArb = fc.constantFrom(
      ..."nano micro milli second minute hour day week".split(" ").flatMap((u) => [u, `${u}s`])
    )
    const numberArb = fc.oneof(
      fc.nat().map(String),
      fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}.${b}`),
      fc.double({ min: 0, max: 1e30, noNaN: true }).map(String),
      fc.constantFrom("1e3", ".5", "5.", "+1", "0x10", "1_000", "")
    )
    const textArb = fc.tuple(
      fc.constantFrom("", "-", " "),
      numberArb,
      fc.constantFrom(" ", "  ", "\t", "", "_"),
      fc.oneof(unitArb, unitArb.map((u) => u.toUpperCase()), unitArb.map((u) => u.slice(0, 3))),
      fc.constantFrom("", " ", "\n")
    ).map((parts) => parts.join(""))

    prop("text: a strategy reads exactly what Config.Duration reads, when it is finite and not negative", [
      textArb
    ], ([text]) => {
      const config = configDuration(text)
      const strategy = strategyDuration(text)
      if (config === undefined || !Duration.isFinite(config) || /^-[\d.]*[1-9]/.test(text)) {
        assert.isUndefined(strategy)
      } else {
        assert.isDefined(strategy)
        assert.isTrue(Duration.equals(strategy!, config))
      }
    })

    it("huge durations are encoded in plain digits, never in exponent notation", () => {
      for (const duration of [Duration.millis(2 ** 70), Duration.millis(1e300), Duration.millis(1.7e308)]) {
        const text = encodedDuration(duration)
        assert.match(String(text), /^\d+ [a-z]+$/)
        assert.isTrue(Duration.equals(strategyDuration(String(text))!, duration), String(text))
      }
    })

    prop("round-trip losslessly, below a millisecond and far above a year", [durationArb], ([duration]) => {
      const strategy = S.loadTimeAtLeast(duration)
      const back = Schema.decodeUnknownSync(S.FromJson)(Schema.encodeSync(S.FromJson)(strategy))
      assert.isTrue(
        back._tag === "LoadTimeAtLeast" && Duration.equals(back.duration, duration),
        Duration.format(duration)
      )
    })
  })
})
