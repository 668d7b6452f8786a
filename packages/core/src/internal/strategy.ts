/**
 * @internal
 * The strategy classes, their Schema, the validating constructors and the text form.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { BadArgument } from "../BadArgument.js"
import type { Encoded } from "../SnapshotStrategy.js"
import { durationArgument, DurationField, formatDuration } from "./duration.js"
import { formatIssues } from "./issues.js"

const quote = (s: string): string => JSON.stringify(s)

const PROTO_KEY = "\"__proto__\" is not allowed as a key (nor as an aggregate type)"

const Count = Schema.Number.check(
  Schema.makeFilter((n: number) => (Number.isSafeInteger(n) && n > 0) || `expected a positive integer, got ${n}`, {
    expected: "a positive integer",
    arbitraryConstraint: { number: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER }
  })
)

const nonBlank = (what: string) =>
  Schema.String.check(
    Schema.makeFilter((s: string) => s.trim().length > 0 || `${what} must not be empty, got ${quote(s)}`, {
      expected: "a non-blank string",
      arbitraryConstraint: { minLength: 1 }
    })
  )

const EventType = nonBlank("an event type")
const CustomName = nonBlank("a custom strategy name")

const Strategy: Schema.Codec<SnapshotStrategy, Encoded> = Schema.suspend(
  (): Schema.Codec<SnapshotStrategy, Encoded> => SnapshotStrategy
)

const Strategies = Schema.Array(Strategy).check(
  Schema.isNonEmpty({ message: "a composite needs at least one strategy, got none" })
)

/**
 * Fires when the commit crosses a multiple of `n`: `previousVersion < k * n <= currentVersion` for some k.
 * A batch taking the version from 98 to 103 crosses 100, so `everyNEvents(100)` fires.
 */
export class EveryNEvents extends Schema.TaggedClass<EveryNEvents>()("EveryNEvents", {
  n: Count
}) {}

/**
 * Fires when at least `n` events were committed since the last snapshot (since version 0 when there is none).
 */
export class EventsSinceSnapshot extends Schema.TaggedClass<EventsSinceSnapshot>()("EventsSinceSnapshot", {
  n: Count
}) {}

/**
 * Fires when at least `duration` passed since the last snapshot was taken, and when there is none.
 */
export class AfterDuration extends Schema.TaggedClass<AfterDuration>()("AfterDuration", {
  duration: DurationField
}) {}

/**
 * Fires when the committed batch contains one of `types`.
 */
export class OnEventTypes extends Schema.TaggedClass<OnEventTypes>()("OnEventTypes", {
  types: Schema.Array(EventType).check(
    Schema.isNonEmpty({ message: "at least one event type is required, got none" })
  )
}) {}

/**
 * Fires when the last load of the aggregate replayed at least `n` events (unknown: does not fire).
 */
export class ReplayedAtLeast extends Schema.TaggedClass<ReplayedAtLeast>()("ReplayedAtLeast", {
  n: Count
}) {}

/**
 * Fires when the last load of the aggregate took at least `duration` (unknown: does not fire).
 */
export class LoadTimeAtLeast extends Schema.TaggedClass<LoadTimeAtLeast>()("LoadTimeAtLeast", {
  duration: DurationField
}) {}

/**
 * Fires when at least one of `strategies` fires.
 */
export class Any extends Schema.TaggedClass<Any>()("Any", {
  strategies: Strategies
}) {}

/**
 * Fires when every one of `strategies` fires.
 */
export class All extends Schema.TaggedClass<All>()("All", {
  strategies: Strategies
}) {}

/**
 * Fires when `strategy` does not.
 */
export class Not extends Schema.TaggedClass<Not>()("Not", {
  strategy: Strategy
}) {}

/**
 * Never fires.
 */
export class Never extends Schema.TaggedClass<Never>()("Never", {}) {}

/**
 * Always fires.
 */
export class Always extends Schema.TaggedClass<Always>()("Always", {}) {}

/**
 * Uses `strategies[aggregateType]`, or `fallback` for aggregate types without an entry.
 */
export class PerAggregateType extends Schema.TaggedClass<PerAggregateType>()("PerAggregateType", {
  strategies: Schema.Record(Schema.String, Strategy).check(
    Schema.makeFilter((strategies: { readonly [aggregateType: string]: SnapshotStrategy }) => {
      const types = Object.keys(strategies)
      const blank = types.find((type) => type.trim().length === 0)
      if (blank !== undefined) return `an aggregate type must not be empty, got ${quote(blank)}`
      // Refused as in JSON (see `FromJson`), so that every valid strategy encodes to JSON that decodes.
      return !types.includes("__proto__") || PROTO_KEY
    }, { expected: "non-blank aggregate types" })
  ),
  fallback: Strategy
}) {}

/**
 * A named, user-defined predicate. The data holds only the name; the predicate is supplied when deciding
 * (see `compile`), so strategies stay serializable.
 */
export class Custom extends Schema.TaggedClass<Custom>()("Custom", {
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
 * The Schema of strategies: `Schema.decodeUnknownEffect(SnapshotStrategy)` validates an encoded (JSON) value,
 * `Schema.encodeEffect(SnapshotStrategy)` gives it back.
 */
export const SnapshotStrategy: Schema.Union<
  readonly [
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
  ]
> = Schema.Union([
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
]).annotate({
  // Effect 4 words a union's failure with this text alone (an identifier would replace it): name the "_tag"
  // that picks the member.
  expected: "SnapshotStrategy (an object whose \"_tag\" names a strategy, e.g. \"EveryNEvents\")"
})

class ProtoKey extends Error {}

// Decoding an object assigns its keys, and assigning "__proto__" would drop the entry silently.
const reviver = (key: string, value: unknown): unknown => {
  if (key === "__proto__") throw new ProtoKey(PROTO_KEY)
  return value
}

const parseJson = (text: string): Effect.Effect<Encoded, SchemaIssue.Issue> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(JSON.parse(text, reviver) as Encoded)
    } catch (error) {
      const message = error instanceof ProtoKey ? error.message : `expected a valid JSON string (${String(error)})`
      return Effect.fail(new SchemaIssue.InvalidValue({ message }, text))
    }
  })

/**
 * A strategy as a JSON string: `Schema.decodeUnknownEffect(FromJson)(text)`, `Schema.encodeEffect(FromJson)(strategy)`.
 * The text is `JSON.stringify` of the encoded strategy, as it was under Effect 3.
 */
export const FromJson: Schema.Codec<SnapshotStrategy, string> = Schema.String.pipe(
  Schema.decodeTo(
    SnapshotStrategy,
    SchemaTransformation.transformEffect<Encoded, string>({
      decode: parseJson,
      encode: (encoded) => Effect.succeed(JSON.stringify(encoded))
    })
  )
)

const TRUSTED: Schema.MakeOptions = { disableChecks: true }

/** A strategy's constructor is named after its tag in lower camel case: `EveryNEvents` by `everyNEvents`. */
const constructorName = (tag: string): string => tag[0]!.toLowerCase() + tag.slice(1)

/**
 * A validating constructor: `props` maps its arguments to the class's fields, which are checked once built; a
 * value that fails becomes a `BadArgument` listing every problem with its path. The constructors are
 * documented in `SnapshotStrategy.ts`.
 */
const validating = <
  Self,
  Fields extends Schema.Struct.Fields & { readonly _tag: { readonly ast: SchemaAST.Literal } },
  Args extends ReadonlyArray<unknown>
>(
  Class: { readonly fields: Fields; new(props: Schema.Struct.Type<Fields>, options: Schema.MakeOptions): Self },
  props: (...args: Args) => Omit<Schema.Struct.Type<Fields>, "_tag">
): (...args: Args) => Self => {
  const validate = Schema.decodeUnknownResult(Schema.toType(Schema.Struct(Class.fields)), {
    errors: "all",
    reportInput: true
  })
  const _tag = Class.fields._tag.ast.literal
  const module = `SnapshotStrategy.${constructorName(String(_tag))}`
  return (...args) =>
    new Class(
      Result.getOrThrowWith(
        validate({ _tag, ...props(...args) }),
        (error) => new BadArgument({ module, message: formatIssues(error) })
      ),
      TRUSTED
    )
}

export const everyNEvents = validating(EveryNEvents, (n: number) => ({ n }))
export const eventsSinceSnapshot = validating(EventsSinceSnapshot, (n: number) => ({ n }))
export const afterDuration = validating(AfterDuration, (duration: Duration.Input) => ({
  duration: durationArgument("afterDuration", duration)
}))
export const onEventTypes = validating(OnEventTypes, (...types: ReadonlyArray<string>) => ({ types }))
export const replayedAtLeast = validating(ReplayedAtLeast, (n: number) => ({ n }))
export const loadTimeAtLeast = validating(LoadTimeAtLeast, (duration: Duration.Input) => ({
  duration: durationArgument("loadTimeAtLeast", duration)
}))
export const any = validating(Any, (...strategies: ReadonlyArray<SnapshotStrategy>) => ({ strategies }))
export const all = validating(All, (...strategies: ReadonlyArray<SnapshotStrategy>) => ({ strategies }))
export const not = validating(Not, (strategy: SnapshotStrategy) => ({ strategy }))
export const never: Never = new Never()
export const always: Always = new Always()
export const perAggregateType = validating(
  PerAggregateType,
  (strategies: { readonly [aggregateType: string]: SnapshotStrategy }, fallback: SnapshotStrategy) => ({
    strategies,
    fallback
  })
)
export const custom = validating(Custom, (name: string) => ({ name }))

/**
 * A strategy written as the constructor calls that build it, e.g.
 * `any(everyNEvents(100), afterDuration("1 hour"))`. Decision reasons use the same text.
 */
export const format = (self: SnapshotStrategy): string => {
  const name = constructorName(self._tag)
  switch (self._tag) {
    case "EveryNEvents":
    case "EventsSinceSnapshot":
    case "ReplayedAtLeast":
      return `${name}(${self.n})`
    case "AfterDuration":
    case "LoadTimeAtLeast":
      return `${name}(${quote(formatDuration(self.duration))})`
    case "OnEventTypes":
      return `${name}(${self.types.map(quote).join(", ")})`
    case "Any":
    case "All":
      return `${name}(${self.strategies.map(format).join(", ")})`
    case "Not":
      return `${name}(${format(self.strategy)})`
    case "Never":
    case "Always":
      return name
    case "PerAggregateType": {
      const entries = Object.entries(self.strategies).map(([type, strategy]) => `${quote(type)}: ${format(strategy)}`)
      return `${name}({${entries.length === 0 ? "" : ` ${entries.join(", ")} `}}, ${format(self.fallback)})`
    }
    case "Custom":
      return `${name}(${quote(self.name)})`
  }
}
