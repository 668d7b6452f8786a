/**
 * @internal
 * The strategy classes, their Schema, the validating constructors and the text form.
 */
import * as Arbitrary from "effect/Arbitrary"
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { BadArgument } from "../BadArgument.js"
import type { Encoded } from "../SnapshotStrategy.js"
import { durationArgument, DurationField, formatDuration } from "./duration.js"
import { formatIssues } from "./issues.js"

const quote = (s: string): string => JSON.stringify(s)

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
 */
export class EveryNEvents extends Schema.Class<EveryNEvents>("EveryNEvents")({
  _tag: Schema.tag("EveryNEvents"),
  n: Count
}) {}

/**
 * Fires when at least `n` events were committed since the last snapshot (since version 0 when there is none).
 */
export class EventsSinceSnapshot extends Schema.Class<EventsSinceSnapshot>("EventsSinceSnapshot")({
  _tag: Schema.tag("EventsSinceSnapshot"),
  n: Count
}) {}

/**
 * Fires when at least `duration` passed since the last snapshot was taken, and when there is none.
 */
export class AfterDuration extends Schema.Class<AfterDuration>("AfterDuration")({
  _tag: Schema.tag("AfterDuration"),
  duration: DurationField
}) {}

/**
 * Fires when the committed batch contains one of `types`.
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
 */
export class ReplayedAtLeast extends Schema.Class<ReplayedAtLeast>("ReplayedAtLeast")({
  _tag: Schema.tag("ReplayedAtLeast"),
  n: Count
}) {}

/**
 * Fires when the last load of the aggregate took at least `duration` (unknown: does not fire).
 */
export class LoadTimeAtLeast extends Schema.Class<LoadTimeAtLeast>("LoadTimeAtLeast")({
  _tag: Schema.tag("LoadTimeAtLeast"),
  duration: DurationField
}) {}

/**
 * Fires when at least one of `strategies` fires.
 */
export class Any extends Schema.Class<Any>("Any")({
  _tag: Schema.tag("Any"),
  strategies: Strategies
}) {}

/**
 * Fires when every one of `strategies` fires.
 */
export class All extends Schema.Class<All>("All")({
  _tag: Schema.tag("All"),
  strategies: Strategies
}) {}

/**
 * Fires when `strategy` does not.
 */
export class Not extends Schema.Class<Not>("Not")({
  _tag: Schema.tag("Not"),
  strategy: Strategy
}) {}

/**
 * Never fires.
 */
export class Never extends Schema.Class<Never>("Never")({
  _tag: Schema.tag("Never")
}) {}

/**
 * Always fires.
 */
export class Always extends Schema.Class<Always>("Always")({
  _tag: Schema.tag("Always")
}) {}

/**
 * Uses `strategies[aggregateType]`, or `fallback` for aggregate types without an entry.
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
 */
export class Custom extends Schema.Class<Custom>("Custom")({
  _tag: Schema.tag("Custom"),
  name: CustomName
}) {}

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
 */
export const FromJson: Schema.Schema<SnapshotStrategy, string> = Schema.parseJson(SnapshotStrategy, {
  // Decoding an object assigns its keys, and assigning "__proto__" would drop the entry silently.
  reviver: (key, value) => {
    if (key === "__proto__") throw new Error("\"__proto__\" is not allowed as a key (nor as an aggregate type)")
    return value
  }
})

/**
 * A class constructor validates through `typeAST`, which rebuilds its parser on every call when a field holds a
 * suspended or transformed schema (a fifth of a millisecond per composite); this validator is built once. A bad
 * argument is thrown as a `BadArgument` listing every problem with its path.
 */
const validator = <Fields extends Schema.Struct.Fields>(constructor: string, fields: Fields) => {
  const validate = ParseResult.validateEither(Schema.Struct(fields), { errors: "all" })
  return (props: unknown) =>
    Either.getOrThrowWith(
      validate(props),
      (error) => new BadArgument({ module: `SnapshotStrategy.${constructor}`, message: formatIssues(error) })
    )
}

const everyNEventsProps = validator("everyNEvents", EveryNEvents.fields)
const eventsSinceSnapshotProps = validator("eventsSinceSnapshot", EventsSinceSnapshot.fields)
const afterDurationProps = validator("afterDuration", AfterDuration.fields)
const onEventTypesProps = validator("onEventTypes", OnEventTypes.fields)
const replayedAtLeastProps = validator("replayedAtLeast", ReplayedAtLeast.fields)
const loadTimeAtLeastProps = validator("loadTimeAtLeast", LoadTimeAtLeast.fields)
const anyProps = validator("any", Any.fields)
const allProps = validator("all", All.fields)
const notProps = validator("not", Not.fields)
const perAggregateTypeProps = validator("perAggregateType", PerAggregateType.fields)
const customProps = validator("custom", Custom.fields)

/**
 * The commit crosses a multiple of `n`. Throws a `BadArgument` unless `n` is a positive integer.
 */
export const everyNEvents = (n: number): EveryNEvents =>
  new EveryNEvents(everyNEventsProps({ _tag: "EveryNEvents", n }), true)

/**
 * At least `n` events since the last snapshot. Throws a `BadArgument` unless `n` is a positive integer.
 */
export const eventsSinceSnapshot = (n: number): EventsSinceSnapshot =>
  new EventsSinceSnapshot(eventsSinceSnapshotProps({ _tag: "EventsSinceSnapshot", n }), true)

/**
 * At least `duration` since the last snapshot; fires when there is none. Throws a `BadArgument` for a
 * negative, infinite or malformed duration.
 */
export const afterDuration = (duration: Duration.DurationInput): AfterDuration =>
  new AfterDuration(
    afterDurationProps({ _tag: "AfterDuration", duration: durationArgument("afterDuration", duration) }),
    true
  )

/**
 * The committed batch contains one of `types`. Throws a `BadArgument` for no types or an empty type.
 */
export const onEventTypes = (...types: ReadonlyArray<string>): OnEventTypes =>
  new OnEventTypes(onEventTypesProps({ _tag: "OnEventTypes", types }), true)

/**
 * The last load replayed at least `n` events. Throws a `BadArgument` unless `n` is a positive integer.
 */
export const replayedAtLeast = (n: number): ReplayedAtLeast =>
  new ReplayedAtLeast(replayedAtLeastProps({ _tag: "ReplayedAtLeast", n }), true)

/**
 * The last load took at least `duration`. Throws a `BadArgument` for a negative, infinite or malformed
 * duration.
 */
export const loadTimeAtLeast = (duration: Duration.DurationInput): LoadTimeAtLeast =>
  new LoadTimeAtLeast(
    loadTimeAtLeastProps({ _tag: "LoadTimeAtLeast", duration: durationArgument("loadTimeAtLeast", duration) }),
    true
  )

/**
 * At least one of `strategies` fires. Throws a `BadArgument` when given none.
 */
export const any = (...strategies: ReadonlyArray<SnapshotStrategy>): Any =>
  new Any(anyProps({ _tag: "Any", strategies }), true)

/**
 * Every one of `strategies` fires. Throws a `BadArgument` when given none.
 */
export const all = (...strategies: ReadonlyArray<SnapshotStrategy>): All =>
  new All(allProps({ _tag: "All", strategies }), true)

/**
 * `strategy` does not fire.
 */
export const not = (strategy: SnapshotStrategy): Not => new Not(notProps({ _tag: "Not", strategy }), true)

export const never: Never = new Never()

export const always: Always = new Always()

/**
 * One strategy per aggregate type, and `fallback` for the others. Throws a `BadArgument` for an empty
 * aggregate type name.
 */
export const perAggregateType = (
  strategies: { readonly [aggregateType: string]: SnapshotStrategy },
  fallback: SnapshotStrategy
): PerAggregateType =>
  new PerAggregateType(perAggregateTypeProps({ _tag: "PerAggregateType", strategies, fallback }), true)

/**
 * A named user predicate, supplied to `compile` / `decide`. Throws a `BadArgument` for an empty name.
 */
export const custom = (name: string): Custom => new Custom(customProps({ _tag: "Custom", name }), true)

/**
 * A strategy written as the constructor calls that build it, e.g.
 * `any(everyNEvents(100), afterDuration("1 hour"))`. Decision reasons use the same text.
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
