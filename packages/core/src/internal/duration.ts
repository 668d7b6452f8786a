/**
 * @internal
 * Durations: read as `Duration.fromInput` reads them (the text `Config.Duration` accepts) plus the finite /
 * non-negative checks, and written back losslessly in the largest exact unit.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { BadArgument } from "../BadArgument.js"

const NOT_FINITE = "a duration must be finite, got Infinity"

/**
 * A finite, non-negative `Duration` (the decoded side of `DurationField`). Its arbitrary draws whole
 * milliseconds and nanoseconds up to 2^64.
 */
export const FiniteDuration = Schema.Duration.check(
  Schema.makeFilter((d: Duration.Duration) => Duration.isFinite(d) || NOT_FINITE, {
    expected: "a finite duration"
  }),
  Schema.makeFilter(
    (d: Duration.Duration) => !Duration.isNegative(d) || `a duration must not be negative, got ${String(d)}`,
    { expected: "a non-negative duration" }
  )
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
  // An integral number in plain digits, never in exponent notation ("1e+21"), which `Duration.fromInput` refuses.
  `${typeof value === "number" ? BigInt(value) : value} ${value === 1 || value === 1n ? name : `${name}s`}`

/**
 * Whole milliseconds (an integral number) in the largest unit that represents them exactly. The unit is the one
 * the Effect 3 versions chose, so the same strategy encodes to the same text, except where that text would not
 * read back exactly: `Duration.fromInput` reads "2740790534147356 seconds" as exactly that many nanoseconds, while
 * `2740790534147356 * 1000` rounds as a double, so the check is made on exact integers too.
 */
const formatMillis = (millis: number): string => {
  for (const [name, size] of MILLIS_UNITS) {
    const value = millis / size
    if (
      Number.isInteger(value) && value * size === millis && (value > 0 || size === 1) &&
      BigInt(value) * BigInt(size) === BigInt(millis)
    ) {
      return unit(value, name)
    }
  }
  return unit(millis, "milli")
}

/**
 * The canonical text of a finite duration, in the largest unit that represents it exactly ("1 hour",
 * "90 seconds", "1500 micros"). Decoding it gives back a duration equal to the original.
 */
export const formatDuration = (self: Duration.Duration): string => {
  const value = self.value
  switch (value._tag) {
    case "Millis":
      // A Millis duration holds an integral number (Effect 4 holds a fractional one as Nanos).
      return formatMillis(value.millis)
    case "Nanos": {
      const nanos = value.nanos
      if (nanos % 1_000_000n === 0n) {
        const millis = Number(nanos / 1_000_000n)
        // The Effect 3 versions' test (which refuses some exact values above 2^53 ms), and exactness.
        if (BigInt(Math.round(millis * 1_000_000)) === nanos && BigInt(millis) * 1_000_000n === nanos) {
          return formatMillis(millis)
        }
      }
      return nanos % 1_000n === 0n ? unit(nanos / 1_000n, "micro") : unit(nanos, "nano")
    }
    case "Infinity":
      return "Infinity"
    case "NegativeInfinity":
      return "-Infinity"
  }
}

const EXPECTED_DURATION = "expected a duration as Config.Duration reads it (a number, a space and a unit, " +
  "e.g. \"1 hour\", \"90 seconds\", \"1.5 millis\", with the units nanos, micros, millis, seconds, minutes, " +
  "hours, days, weeks) or a number of milliseconds"

const show = (input: unknown): string =>
  typeof input === "string" ?
    JSON.stringify(input) :
    typeof input === "bigint" ?
    `${input} nanos` :
    Array.isArray(input) ?
    `[${input.join(", ")}]` :
    Duration.isDuration(input) ?
    String(input) :
    typeof input === "object" && input !== null ?
    JSON.stringify(input) :
    String(input)

const isNegativeInput = (input: unknown): boolean =>
  typeof input === "number" || typeof input === "bigint" ?
    input < 0 :
    typeof input === "string" ?
    // Only text `Duration.fromInput` accepted gets here: an optional "-", digits, a space and a unit. "-0.1 nanos"
    // rounds to zero, so the text is looked at, not only the duration.
    Number.parseFloat(input) < 0 :
    Array.isArray(input) && input.some((part) => part < 0)

const isNaNInput = (input: unknown): boolean =>
  Number.isNaN(input) ||
  (Array.isArray(input) && input.some(Number.isNaN)) ||
  (typeof input === "object" && input !== null && !Duration.isDuration(input) &&
    Object.values(input).some(Number.isNaN))

const isDurationObject = (input: object): boolean =>
  Duration.isDuration(input) || Array.isArray(input) || Object.getPrototypeOf(input) === Object.prototype

/**
 * A duration as `Duration.fromInput` reads it (the text `Config.Duration` accepts, a number of milliseconds,
 * a bigint of nanoseconds, `[seconds, nanos]`, a duration object or a `Duration`), refusing what it would turn
 * silently into zero (NaN), a negative duration and an infinite one.
 */
export const durationFromInput = (input: unknown): Result.Result<Duration.Duration, string> => {
  const decoded = (typeof input === "object" && input !== null && !isDurationObject(input)) ?
    Option.none() :
    Duration.fromInput(input as Duration.Input)
  if (Option.isNone(decoded) || isNaNInput(input)) {
    return Result.fail(
      typeof input === "string" && /infinity/i.test(input) && !input.startsWith("-") ?
        `a duration must be finite, got ${show(input)}` :
        `${EXPECTED_DURATION}, got ${show(input)}`
    )
  }
  if (isNegativeInput(input) || Duration.isNegative(decoded.value)) {
    return Result.fail(`a duration must not be negative, got ${show(input)}`)
  }
  if (!Duration.isFinite(decoded.value)) return Result.fail(`a duration must be finite, got ${show(input)}`)
  return Result.succeed(decoded.value)
}

/**
 * A finite, non-negative duration. Decodes from text ("1 hour", "90 seconds", "50 millis", "1500 micros")
 * or a number of milliseconds; encodes to the canonical text, losslessly.
 */
export const DurationField = Schema.Union([Schema.String, Schema.Number]).pipe(
  Schema.decodeTo(
    FiniteDuration,
    SchemaTransformation.transformEffect<Duration.Duration, string | number>({
      decode: (input) =>
        Result.match(durationFromInput(input), {
          onFailure: (message) => Effect.fail(new SchemaIssue.InvalidValue({ message }, input)),
          onSuccess: Effect.succeed
        }),
      encode: (duration) =>
        Duration.isFinite(duration) ?
          Effect.succeed(formatDuration(duration)) :
          Effect.fail(new SchemaIssue.InvalidValue({ message: NOT_FINITE }, duration))
    })
  )
).annotate({ identifier: "Duration" })

export const durationArgument = (constructor: string, input: Duration.Input): Duration.Duration =>
  Result.getOrThrowWith(
    durationFromInput(input),
    (message) => new BadArgument({ module: `SnapshotStrategy.${constructor}`, message: `duration: ${message}` })
  )
