/**
 * Snapshot strategies as data.
 *
 * A strategy is a value of a Schema-described union of tagged classes: it encodes to JSON, decodes from JSON
 * or from Effect `Config`, and is turned into a pure, allocation-light decision function by `compile`.
 * Core reads no clock and needs no services: everything a decision needs comes in its `DecisionContext`.
 *
 * @since 0.1.0
 */
import * as Arbitrary from "effect/Arbitrary"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// -------------------------------------------------------------------------------------
// field schemas
// -------------------------------------------------------------------------------------

const Count = Schema.Number.pipe(
  Schema.filter((n) => (Number.isSafeInteger(n) && n > 0) || `expected a positive integer, got ${n}`, {
    identifier: "PositiveInteger",
    arbitrary: () => (fc) => fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
  })
)

const nonBlank = (what: string) =>
  Schema.String.pipe(
    Schema.filter((s) => s.trim().length > 0 || `${what} must not be empty, got ${JSON.stringify(s)}`, {
      identifier: "NonEmptyString",
      arbitrary: () => (fc) => fc.string({ minLength: 1 }).map((s) => s.trim().length > 0 ? s : `x${s}`)
    })
  )

const EventType = nonBlank("an event type")
const CustomName = nonBlank("a custom strategy name")
const AggregateType = nonBlank("an aggregate type")

const FiniteDuration = Schema.DurationFromSelf.pipe(
  Schema.filter((d) => Duration.isFinite(d) || "a duration must be finite, got Infinity", {
    identifier: "FiniteDuration",
    arbitrary: () => (fc) =>
      fc.oneof(fc.maxSafeNat().map(Duration.millis), fc.bigInt({ min: 0n, max: 2n ** 64n }).map(Duration.nanos))
  })
)

const MILLIS_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["week", 604_800_000],
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1_000],
  ["milli", 1]
]

const unit = (value: number | bigint, name: string): string =>
  `${value} ${value === 1 || value === 1n ? name : `${name}s`}`

const formatMillis = (millis: number): string => {
  for (const [name, size] of MILLIS_UNITS) {
    const value = millis / size
    // A larger unit only when it is exact: decoding computes `value * size` again and must get `millis` back.
    if (Number.isInteger(value) && value * size === millis && (value > 0 || size === 1)) {
      return unit(value, name)
    }
  }
  return unit(millis, "milli")
}

/**
 * The canonical text of a finite duration, in the largest unit that represents it exactly ("1 hour",
 * "90 seconds", "1500 micros"). Decoding it gives back a duration equal to the original.
 */
const formatDuration = (self: Duration.Duration): string => {
  const value = self.value
  switch (value._tag) {
    case "Millis":
      return formatMillis(value.millis)
    case "Nanos": {
      const nanos = value.nanos
      if (nanos % 1_000_000n === 0n) {
        const millis = Number(nanos / 1_000_000n)
        // Duration equality compares a millis value with a nanos one as `round(millis * 1e6)`.
        if (BigInt(Math.round(millis * 1_000_000)) === nanos) return formatMillis(millis)
      }
      return nanos % 1_000n === 0n ? unit(nanos / 1_000n, "micro") : unit(nanos, "nano")
    }
    case "Infinity":
      return "Infinity"
  }
}

const DURATION_TEXT =
  /^(-?)(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)$/i

const MILLIS_PER: Readonly<Record<string, number>> = {
  milli: 1,
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000
}

const EXPECTED_DURATION = `expected a duration such as "1 hour", "50 millis" or a number of milliseconds`

const durationFromString = (text: string): Either.Either<Duration.Duration, string> => {
  const match = DURATION_TEXT.exec(text.trim())
  if (match === null) {
    return Either.left(
      /infinity/i.test(text) ?
        `a duration must be finite, got ${JSON.stringify(text)}` :
        `${EXPECTED_DURATION}, got ${JSON.stringify(text)}`
    )
  }
  const [, sign, digits, rawUnit] = match as unknown as [string, string, string, string]
  const value = Number(digits)
  if (sign === "-" && value !== 0) return Either.left(`a duration must not be negative, got ${JSON.stringify(text)}`)
  const name = rawUnit.toLowerCase().replace(/s$/, "")
  const integral = /^\d+$/.test(digits)
  const tooLarge = Either.left(`a duration must be finite, got ${JSON.stringify(text)}`)
  switch (name) {
    case "nano":
      if (integral) return Either.right(Duration.nanos(BigInt(digits)))
      return Number.isFinite(value) ? Either.right(Duration.nanos(BigInt(Math.round(value)))) : tooLarge
    case "micro":
      if (integral) return Either.right(Duration.nanos(BigInt(digits) * 1_000n))
      return Number.isFinite(value * 1_000) ? Either.right(Duration.nanos(BigInt(Math.round(value * 1_000)))) : tooLarge
    default: {
      const millis = value * MILLIS_PER[name]!
      return Number.isFinite(millis) ? Either.right(Duration.millis(millis)) : tooLarge
    }
  }
}

const durationFromMillis = (millis: number): Either.Either<Duration.Duration, string> =>
  Number.isNaN(millis) ?
    Either.left(`${EXPECTED_DURATION}, got NaN`) :
    !Number.isFinite(millis) && millis > 0 ?
    Either.left(`a duration must be finite, got ${millis}`) :
    millis < 0 ?
    Either.left(`a duration must not be negative, got ${millis}`) :
    Either.right(Duration.millis(millis))

/** Everything `Duration.DurationInput` allows, with negative, infinite and malformed values refused. */
const durationFromInput = (input: unknown): Either.Either<Duration.Duration, string> => {
  if (typeof input === "string") return durationFromString(input)
  if (typeof input === "number") return durationFromMillis(input)
  if (typeof input === "bigint") {
    return input < 0n ?
      Either.left(`a duration must not be negative, got ${input} nanos`) :
      Either.right(Duration.nanos(input))
  }
  if (Duration.isDuration(input)) {
    return Duration.isFinite(input) ? Either.right(input) : Either.left("a duration must be finite, got Infinity")
  }
  if (
    Array.isArray(input) && input.length === 2 && typeof input[0] === "number" && typeof input[1] === "number"
  ) {
    const [seconds, nanos] = input as [number, number]
    if (Number.isNaN(seconds) || Number.isNaN(nanos)) return Either.left(`${EXPECTED_DURATION}, got [${input}]`)
    if (seconds < 0 || nanos < 0) return Either.left(`a duration must not be negative, got [${input}]`)
    if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) {
      return Either.left(`a duration must be finite, got [${input}]`)
    }
    return Either.right(Duration.decode([seconds, nanos]))
  }
  return Either.left(`${EXPECTED_DURATION}, got ${String(input)}`)
}

/**
 * A finite, non-negative duration. Decodes from text ("1 hour", "90 seconds", "50 millis", "1500 micros")
 * or a number of milliseconds; encodes to the canonical text, losslessly.
 */
const DurationField = Schema.transformOrFail(
  Schema.Union(Schema.String, Schema.Number),
  FiniteDuration,
  {
    strict: true,
    decode: (input, _, ast) =>
      Either.mapLeft(durationFromInput(input), (message) => new ParseResult.Type(ast, input, message)),
    encode: (duration, _, ast) =>
      Duration.isFinite(duration) ?
        ParseResult.succeed(formatDuration(duration)) :
        ParseResult.fail(new ParseResult.Type(ast, duration, "a duration must be finite, got Infinity"))
  }
).annotations({ identifier: "Duration" })

const durationArgument = (constructor: string, input: Duration.DurationInput): Duration.Duration =>
  Either.getOrThrowWith(
    durationFromInput(input),
    (message) => ParseResult.parseError(new ParseResult.Type(FiniteDuration.ast, input, `${constructor}: ${message}`))
  )

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
  | Schema.Schema.Encoded<typeof EveryNEvents>
  | Schema.Schema.Encoded<typeof EventsSinceSnapshot>
  | Schema.Schema.Encoded<typeof AfterDuration>
  | Schema.Schema.Encoded<typeof OnEventTypes>
  | Schema.Schema.Encoded<typeof ReplayedAtLeast>
  | Schema.Schema.Encoded<typeof LoadTimeAtLeast>
  | AnyEncoded
  | AllEncoded
  | NotEncoded
  | Schema.Schema.Encoded<typeof Never>
  | Schema.Schema.Encoded<typeof Always>
  | PerAggregateTypeEncoded
  | Schema.Schema.Encoded<typeof Custom>

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

const Strategy: Schema.Schema<SnapshotStrategy, Encoded> = Schema.suspend(
  (): Schema.Schema<SnapshotStrategy, Encoded> => SnapshotStrategy
)

const Strategies = Schema.Array(Strategy).pipe(
  Schema.filter((strategies) => strategies.length > 0 || "a composite needs at least one strategy, got none", {
    identifier: "NonEmptyStrategies"
  })
)

/**
 * Fires when the commit crosses a multiple of `n`: `previousVersion < k * n <= currentVersion` for some k.
 * A batch taking the version from 98 to 103 crosses 100, so `everyNEvents(100)` fires.
 *
 * @since 0.1.0
 * @category models
 */
export class EveryNEvents extends Schema.Class<EveryNEvents>("EveryNEvents")({
  _tag: Schema.tag("EveryNEvents"),
  n: Count
}) {}

/**
 * Fires when at least `n` events were committed since the last snapshot (since version 0 when there is none).
 *
 * @since 0.1.0
 * @category models
 */
export class EventsSinceSnapshot extends Schema.Class<EventsSinceSnapshot>("EventsSinceSnapshot")({
  _tag: Schema.tag("EventsSinceSnapshot"),
  n: Count
}) {}

/**
 * Fires when at least `duration` passed since the last snapshot was taken, and when there is none.
 *
 * @since 0.1.0
 * @category models
 */
export class AfterDuration extends Schema.Class<AfterDuration>("AfterDuration")({
  _tag: Schema.tag("AfterDuration"),
  duration: DurationField
}) {}

/**
 * Fires when the committed batch contains one of `types`.
 *
 * @since 0.1.0
 * @category models
 */
export class OnEventTypes extends Schema.Class<OnEventTypes>("OnEventTypes")({
  _tag: Schema.tag("OnEventTypes"),
  types: Schema.Array(EventType).pipe(
    Schema.filter((types) => types.length > 0 || "at least one event type is required, got none", {
      identifier: "NonEmptyEventTypes"
    })
  )
}) {}

/**
 * Fires when the last load of the aggregate replayed at least `n` events (unknown: does not fire).
 *
 * @since 0.1.0
 * @category models
 */
export class ReplayedAtLeast extends Schema.Class<ReplayedAtLeast>("ReplayedAtLeast")({
  _tag: Schema.tag("ReplayedAtLeast"),
  n: Count
}) {}

/**
 * Fires when the last load of the aggregate took at least `duration` (unknown: does not fire).
 *
 * @since 0.1.0
 * @category models
 */
export class LoadTimeAtLeast extends Schema.Class<LoadTimeAtLeast>("LoadTimeAtLeast")({
  _tag: Schema.tag("LoadTimeAtLeast"),
  duration: DurationField
}) {}

/**
 * Fires when at least one of `strategies` fires.
 *
 * @since 0.1.0
 * @category models
 */
export class Any extends Schema.Class<Any>("Any")({
  _tag: Schema.tag("Any"),
  strategies: Strategies
}) {}

/**
 * Fires when every one of `strategies` fires.
 *
 * @since 0.1.0
 * @category models
 */
export class All extends Schema.Class<All>("All")({
  _tag: Schema.tag("All"),
  strategies: Strategies
}) {}

/**
 * Fires when `strategy` does not.
 *
 * @since 0.1.0
 * @category models
 */
export class Not extends Schema.Class<Not>("Not")({
  _tag: Schema.tag("Not"),
  strategy: Strategy
}) {}

/**
 * Never fires.
 *
 * @since 0.1.0
 * @category models
 */
export class Never extends Schema.Class<Never>("Never")({
  _tag: Schema.tag("Never")
}) {}

/**
 * Always fires.
 *
 * @since 0.1.0
 * @category models
 */
export class Always extends Schema.Class<Always>("Always")({
  _tag: Schema.tag("Always")
}) {}

/**
 * Uses `strategies[aggregateType]`, or `fallback` for aggregate types without an entry.
 *
 * @since 0.1.0
 * @category models
 */
export class PerAggregateType extends Schema.Class<PerAggregateType>("PerAggregateType")({
  _tag: Schema.tag("PerAggregateType"),
  strategies: Schema.Record({ key: Schema.String, value: Strategy }).pipe(
    Schema.filter((strategies) => {
      const blank = Object.keys(strategies).find((type) => type.trim().length === 0)
      return blank === undefined || `an aggregate type must not be empty, got ${JSON.stringify(blank)}`
    }, { identifier: "StrategiesByAggregateType" })
  ),
  fallback: Strategy
}) {}

/**
 * A named, user-defined predicate. The data holds only the name; the predicate is supplied when deciding
 * (see `compile`), so strategies stay serializable.
 *
 * @since 0.1.0
 * @category models
 */
export class Custom extends Schema.Class<Custom>("Custom")({
  _tag: Schema.tag("Custom"),
  name: CustomName
}) {}

/**
 * A snapshot strategy.
 *
 * @since 0.1.0
 * @category models
 */
export type SnapshotStrategy =
  | EveryNEvents
  | EventsSinceSnapshot
  | AfterDuration
  | OnEventTypes
  | ReplayedAtLeast
  | LoadTimeAtLeast
  | Any
  | All
  | Not
  | Never
  | Always
  | PerAggregateType
  | Custom

/**
 * The Schema of strategies: `Schema.decodeUnknown(SnapshotStrategy)` validates an encoded (JSON) value,
 * `Schema.encode(SnapshotStrategy)` gives it back.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SnapshotStrategy: Schema.Union<[
  typeof EveryNEvents,
  typeof EventsSinceSnapshot,
  typeof AfterDuration,
  typeof OnEventTypes,
  typeof ReplayedAtLeast,
  typeof LoadTimeAtLeast,
  typeof Any,
  typeof All,
  typeof Not,
  typeof Never,
  typeof Always,
  typeof PerAggregateType,
  typeof Custom
]> = Schema.Union(
  EveryNEvents,
  EventsSinceSnapshot,
  AfterDuration,
  OnEventTypes,
  ReplayedAtLeast,
  LoadTimeAtLeast,
  Any,
  All,
  Not,
  Never,
  Always,
  PerAggregateType,
  Custom
).annotations({
  identifier: "SnapshotStrategy",
  // The derived arbitrary would recurse without bound (through `not` and `fallback`) and keep drawing empty
  // composites at its depth limit; this one builds trees of at most a few levels.
  arbitrary: () => (fc) => {
    const leaf: FastCheck.Arbitrary<SnapshotStrategy> = fc.oneof(
      Arbitrary.makeLazy(EveryNEvents)(fc),
      Arbitrary.makeLazy(EventsSinceSnapshot)(fc),
      Arbitrary.makeLazy(AfterDuration)(fc),
      Arbitrary.makeLazy(OnEventTypes)(fc),
      Arbitrary.makeLazy(ReplayedAtLeast)(fc),
      Arbitrary.makeLazy(LoadTimeAtLeast)(fc),
      Arbitrary.makeLazy(Custom)(fc),
      fc.constant(never),
      fc.constant(always)
    )
    const aggregateType = Arbitrary.makeLazy(AggregateType)(fc).filter((type) => type !== "__proto__")
    return fc.letrec<{ strategy: SnapshotStrategy }>((tie) => ({
      strategy: fc.oneof(
        { maxDepth: 3, depthIdentifier: "SnapshotStrategy" },
        leaf,
        fc.array(tie("strategy"), { minLength: 1, maxLength: 3 }).map((strategies) => new Any({ strategies })),
        fc.array(tie("strategy"), { minLength: 1, maxLength: 3 }).map((strategies) => new All({ strategies })),
        tie("strategy").map((strategy) => new Not({ strategy })),
        fc.tuple(fc.dictionary(aggregateType, tie("strategy"), { maxKeys: 3 }), tie("strategy")).map(
          ([strategies, fallback]) => new PerAggregateType({ strategies, fallback })
        )
      )
    })).strategy
  }
})

/**
 * A strategy as a JSON string: `Schema.decode(FromJson)(text)`, `Schema.encode(FromJson)(strategy)`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FromJson: Schema.Schema<SnapshotStrategy, string> = Schema.parseJson(SnapshotStrategy, {
  // Decoding an object assigns its keys, and assigning "__proto__" would drop the entry silently.
  reviver: (key, value) => {
    if (key === "__proto__") throw new Error("\"__proto__\" is not allowed as a key (nor as an aggregate type)")
    return value
  }
})

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * A class constructor validates through `typeAST`, which rebuilds its parser on every call when a field holds a
 * suspended or transformed schema (a fifth of a millisecond per composite); this validator is built once and gives
 * the same errors.
 */
const validator = <Fields extends Schema.Struct.Fields>(identifier: string, fields: Fields) =>
  ParseResult.validateSync(Schema.Struct(fields).annotations({ title: `${identifier} (Constructor)` }))

const everyNEventsProps = validator("EveryNEvents", EveryNEvents.fields)
const eventsSinceSnapshotProps = validator("EventsSinceSnapshot", EventsSinceSnapshot.fields)
const afterDurationProps = validator("AfterDuration", AfterDuration.fields)
const onEventTypesProps = validator("OnEventTypes", OnEventTypes.fields)
const replayedAtLeastProps = validator("ReplayedAtLeast", ReplayedAtLeast.fields)
const loadTimeAtLeastProps = validator("LoadTimeAtLeast", LoadTimeAtLeast.fields)
const anyProps = validator("Any", Any.fields)
const allProps = validator("All", All.fields)
const notProps = validator("Not", Not.fields)
const perAggregateTypeProps = validator("PerAggregateType", PerAggregateType.fields)
const customProps = validator("Custom", Custom.fields)

/**
 * The commit crosses a multiple of `n`. Throws a `ParseError` unless `n` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const everyNEvents = (n: number): EveryNEvents =>
  new EveryNEvents(everyNEventsProps({ _tag: "EveryNEvents", n }), true)

/**
 * At least `n` events since the last snapshot. Throws a `ParseError` unless `n` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const eventsSinceSnapshot = (n: number): EventsSinceSnapshot =>
  new EventsSinceSnapshot(eventsSinceSnapshotProps({ _tag: "EventsSinceSnapshot", n }), true)

/**
 * At least `duration` since the last snapshot; fires when there is none. Throws a `ParseError` for a
 * negative, infinite or malformed duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const afterDuration = (duration: Duration.DurationInput): AfterDuration =>
  new AfterDuration(
    afterDurationProps({ _tag: "AfterDuration", duration: durationArgument("afterDuration", duration) }),
    true
  )

/**
 * The committed batch contains one of `types`. Throws a `ParseError` for no types or an empty type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const onEventTypes = (...types: ReadonlyArray<string>): OnEventTypes =>
  new OnEventTypes(onEventTypesProps({ _tag: "OnEventTypes", types }), true)

/**
 * The last load replayed at least `n` events. Throws a `ParseError` unless `n` is a positive integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const replayedAtLeast = (n: number): ReplayedAtLeast =>
  new ReplayedAtLeast(replayedAtLeastProps({ _tag: "ReplayedAtLeast", n }), true)

/**
 * The last load took at least `duration`. Throws a `ParseError` for a negative, infinite or malformed
 * duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadTimeAtLeast = (duration: Duration.DurationInput): LoadTimeAtLeast =>
  new LoadTimeAtLeast(
    loadTimeAtLeastProps({ _tag: "LoadTimeAtLeast", duration: durationArgument("loadTimeAtLeast", duration) }),
    true
  )

/**
 * At least one of `strategies` fires. Throws a `ParseError` when given none.
 *
 * @since 0.1.0
 * @category constructors
 */
export const any = (...strategies: ReadonlyArray<SnapshotStrategy>): Any =>
  new Any(anyProps({ _tag: "Any", strategies }), true)

/**
 * Every one of `strategies` fires. Throws a `ParseError` when given none.
 *
 * @since 0.1.0
 * @category constructors
 */
export const all = (...strategies: ReadonlyArray<SnapshotStrategy>): All =>
  new All(allProps({ _tag: "All", strategies }), true)

/**
 * `strategy` does not fire.
 *
 * @since 0.1.0
 * @category constructors
 */
export const not = (strategy: SnapshotStrategy): Not => new Not(notProps({ _tag: "Not", strategy }), true)

/**
 * @since 0.1.0
 * @category constructors
 */
export const never: Never = new Never()

/**
 * @since 0.1.0
 * @category constructors
 */
export const always: Always = new Always()

/**
 * One strategy per aggregate type, and `fallback` for the others. Throws a `ParseError` for an empty
 * aggregate type name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const perAggregateType = (
  strategies: { readonly [aggregateType: string]: SnapshotStrategy },
  fallback: SnapshotStrategy
): PerAggregateType =>
  new PerAggregateType(perAggregateTypeProps({ _tag: "PerAggregateType", strategies, fallback }), true)

/**
 * A named user predicate, supplied to `compile` / `decide`. Throws a `ParseError` for an empty name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const custom = (name: string): Custom => new Custom(customProps({ _tag: "Custom", name }), true)

// -------------------------------------------------------------------------------------
// rendering
// -------------------------------------------------------------------------------------

const quote = (s: string): string => JSON.stringify(s)

/**
 * A strategy written as the constructor calls that build it, e.g.
 * `any(everyNEvents(100), afterDuration("1 hour"))`. Decision reasons use the same text.
 *
 * @since 0.1.0
 * @category rendering
 */
export const format = (self: SnapshotStrategy): string => {
  switch (self._tag) {
    case "EveryNEvents":
      return `everyNEvents(${self.n})`
    case "EventsSinceSnapshot":
      return `eventsSinceSnapshot(${self.n})`
    case "AfterDuration":
      return `afterDuration(${quote(formatDuration(self.duration))})`
    case "OnEventTypes":
      return `onEventTypes(${self.types.map(quote).join(", ")})`
    case "ReplayedAtLeast":
      return `replayedAtLeast(${self.n})`
    case "LoadTimeAtLeast":
      return `loadTimeAtLeast(${quote(formatDuration(self.duration))})`
    case "Any":
      return `any(${self.strategies.map(format).join(", ")})`
    case "All":
      return `all(${self.strategies.map(format).join(", ")})`
    case "Not":
      return `not(${format(self.strategy)})`
    case "Never":
      return "never"
    case "Always":
      return "always"
    case "PerAggregateType": {
      const entries = Object.entries(self.strategies).map(([type, strategy]) => `${quote(type)}: ${format(strategy)}`)
      return `perAggregateType({${entries.length === 0 ? "" : ` ${entries.join(", ")} `}}, ${format(self.fallback)})`
    }
    case "Custom":
      return `custom(${quote(self.name)})`
  }
}

// -------------------------------------------------------------------------------------
// configuration
// -------------------------------------------------------------------------------------

const decodeJson = Schema.decodeEither(FromJson)

/**
 * Reads one strategy, written as JSON, from the configuration key `name`, e.g.
 * `SNAPSHOT_STRATEGY='{"_tag":"EveryNEvents","n":100}'`. Bad JSON or a bad strategy is a `ConfigError`
 * (InvalidData at `name`) whose message is the parse error.
 *
 * @since 0.1.0
 * @category configuration
 */
export const config = (name: string): Config.Config<SnapshotStrategy> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => Either.mapLeft(decodeJson(text), (error) => ConfigError.InvalidData([], error.message)))
  )

/**
 * @since 0.1.0
 * @category configuration
 */
export interface PerAggregateTypeConfigOptions {
  /** Used when the key `name` itself is not set; without it, `name` is required. */
  readonly fallback?: SnapshotStrategy | undefined
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
 * case). Each key is validated on its own; a bad one fails the whole Config with an InvalidData at that key.
 *
 * @since 0.1.0
 * @category configuration
 */
export const configPerAggregateType = (
  name: string,
  aggregateTypes: Iterable<string>,
  options?: PerAggregateTypeConfigOptions
): Config.Config<PerAggregateType> => {
  const types = Array.from(new Set(aggregateTypes))
  const blank = types.find((type) => type.trim().length === 0)
  if (blank !== undefined) {
    return Config.succeed(undefined).pipe(
      Config.mapOrFail(() =>
        Either.left(ConfigError.InvalidData([], `an aggregate type must not be empty, got ${quote(blank)}`))
      )
    )
  }
  const fallback = options?.fallback === undefined ? config(name) : Config.withDefault(config(name), options.fallback)
  const overrides = Config.all(
    types.map((type) => Config.map(Config.option(config(`${name}_${type}`)), Option.map((s) => [type, s] as const)))
  )
  return Config.map(
    Config.all([fallback, overrides]),
    ([fallback, entries]) => perAggregateType(Object.fromEntries(entries.flatMap(Option.toArray)), fallback)
  )
}

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
 * A strategy names custom predicates that were not supplied.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownCustomStrategy extends Schema.TaggedError<UnknownCustomStrategy>(
  "@effect-snapshots/core/UnknownCustomStrategy"
)("UnknownCustomStrategy", {
  /** The names the strategy uses that have no predicate. */
  names: Schema.Array(Schema.String),
  /** The names that have a predicate. */
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const known = this.known.length === 0 ? "none were supplied" : `known: ${this.known.map(quote).join(", ")}`
    return `unknown custom snapshot strategy ${this.names.map(quote).join(", ")} (${known})`
  }
}

/** The reasons when the strategy holds, `undefined` when it does not. */
type Node = (context: DecisionContext) => ReadonlyArray<string> | undefined

const NOT_TAKEN: Decision = Object.freeze({ take: false, reasons: Object.freeze([]) })

const holds = (self: SnapshotStrategy): ReadonlyArray<string> => Object.freeze([format(self)])

/** `a` followed by the entries of `b` not already in it; allocates only when something is added. */
const merge = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): ReadonlyArray<string> => {
  let out: Array<string> | undefined
  for (let i = 0; i < b.length; i++) {
    const reason = b[i]!
    if (!(out ?? a).includes(reason)) {
      out ??= a.slice()
      out.push(reason)
    }
  }
  return out ?? a
}

const compileNode = (self: SnapshotStrategy, predicates: CustomPredicates): Node => {
  switch (self._tag) {
    case "EveryNEvents": {
      const n = self.n
      const reasons = holds(self)
      // The highest multiple of n at or below the new version lies above the old one.
      return (c) => c.currentVersion - (c.currentVersion % n) > c.previousVersion ? reasons : undefined
    }
    case "EventsSinceSnapshot": {
      const n = self.n
      const reasons = holds(self)
      return (c) =>
        c.currentVersion - (Option.isSome(c.lastSnapshotVersion) ? c.lastSnapshotVersion.value : 0) >= n ?
          reasons :
          undefined
    }
    case "AfterDuration": {
      const millis = Duration.toMillis(self.duration)
      const reasons = holds(self)
      return (c) =>
        Option.isNone(c.lastSnapshotAt) || c.now.epochMillis - c.lastSnapshotAt.value.epochMillis >= millis ?
          reasons :
          undefined
    }
    case "OnEventTypes": {
      const types = new Set(self.types)
      const reasons = holds(self)
      return (c) => {
        const batch = c.eventTypes
        for (let i = 0; i < batch.length; i++) {
          if (types.has(batch[i]!)) return reasons
        }
        return undefined
      }
    }
    case "ReplayedAtLeast": {
      const n = self.n
      const reasons = holds(self)
      return (c) => Option.isSome(c.replayedEvents) && c.replayedEvents.value >= n ? reasons : undefined
    }
    case "LoadTimeAtLeast": {
      const duration = self.duration
      const reasons = holds(self)
      return (c) =>
        Option.isSome(c.replayDuration) && Duration.greaterThanOrEqualTo(c.replayDuration.value, duration) ?
          reasons :
          undefined
    }
    case "Any": {
      const children = self.strategies.map((s) => compileNode(s, predicates))
      // Every child is asked, so that the reasons name every condition that held.
      return (c) => {
        let reasons: ReadonlyArray<string> | undefined
        for (let i = 0; i < children.length; i++) {
          const r = children[i]!(c)
          if (r !== undefined) reasons = reasons === undefined ? r : merge(reasons, r)
        }
        return reasons
      }
    }
    case "All": {
      const children = self.strategies.map((s) => compileNode(s, predicates))
      return (c) => {
        let reasons: ReadonlyArray<string> | undefined
        for (let i = 0; i < children.length; i++) {
          const r = children[i]!(c)
          if (r === undefined) return undefined
          reasons = reasons === undefined ? r : merge(reasons, r)
        }
        return reasons
      }
    }
    case "Not": {
      const inner = compileNode(self.strategy, predicates)
      const reasons = holds(self)
      return (c) => inner(c) === undefined ? reasons : undefined
    }
    case "Never":
      return () => undefined
    case "Always": {
      const reasons = holds(self)
      return () => reasons
    }
    case "PerAggregateType": {
      const table = new Map(
        Object.entries(self.strategies).map(([type, strategy]) => [type, compileNode(strategy, predicates)] as const)
      )
      const fallback = compileNode(self.fallback, predicates)
      return (c) => (table.get(c.aggregateType) ?? fallback)(c)
    }
    case "Custom": {
      const predicate = predicates[self.name]!
      const reasons = holds(self)
      return (c) => predicate(c) ? reasons : undefined
    }
  }
}

const collectCustomNames = (self: SnapshotStrategy, into: Set<string>): Set<string> => {
  switch (self._tag) {
    case "Custom":
      into.add(self.name)
      break
    case "Any":
    case "All":
      for (const s of self.strategies) collectCustomNames(s, into)
      break
    case "Not":
      collectCustomNames(self.strategy, into)
      break
    case "PerAggregateType":
      for (const s of Object.values(self.strategies)) collectCustomNames(s, into)
      collectCustomNames(self.fallback, into)
      break
  }
  return into
}

/**
 * The custom predicate names a strategy uses, in order of first appearance.
 *
 * @since 0.1.0
 * @category getters
 */
export const customNames = (self: SnapshotStrategy): ReadonlyArray<string> =>
  Array.from(collectCustomNames(self, new Set()))

/**
 * Turns a strategy into a decision function. Every `custom(name)` is checked against `predicates` here,
 * once: an unknown name is an `UnknownCustomStrategy` listing all of them. Compile once (e.g. when a
 * repository is built) and call the decider on every commit: it does no allocation when nothing fires.
 *
 * @since 0.1.0
 * @category decisions
 */
export const compile = (
  self: SnapshotStrategy,
  predicates: CustomPredicates = {}
): Either.Either<Decider, UnknownCustomStrategy> => {
  const unknown = customNames(self).filter((name) => !Object.hasOwn(predicates, name))
  if (unknown.length > 0) {
    return Either.left(new UnknownCustomStrategy({ names: unknown, known: Object.keys(predicates) }))
  }
  const node = compileNode(self, predicates)
  return Either.right((context) => {
    const reasons = node(context)
    return reasons === undefined ? NOT_TAKEN : { take: true, reasons }
  })
}

/**
 * Decides one context. For repeated decisions, `compile` once instead.
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide = (
  self: SnapshotStrategy,
  context: DecisionContext,
  predicates?: CustomPredicates
): Either.Either<Decision, UnknownCustomStrategy> =>
  Either.map(compile(self, predicates), (decider) => decider(context))

/**
 * Whether to snapshot: `decide(...).take`.
 *
 * @since 0.1.0
 * @category decisions
 */
export const shouldSnapshot = (
  self: SnapshotStrategy,
  context: DecisionContext,
  predicates?: CustomPredicates
): Either.Either<boolean, UnknownCustomStrategy> => Either.map(decide(self, context, predicates), (d) => d.take)
