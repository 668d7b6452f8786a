/**
 * @internal
 * Durations: read by `Duration.decodeUnknown` (what `Config.duration` accepts) plus the finite / non-negative checks, and written back losslessly in the largest exact unit.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { BadArgument } from "../BadArgument.js"

export const FiniteDuration = Schema.DurationFromSelf.pipe(
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
  // An integral number in plain digits, never in exponent notation ("1e+21"), which `Duration.decode` refuses.
  `${typeof value === "number" ? BigInt(value) : value} ${value === 1 || value === 1n ? name : `${name}s`}`

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
export const formatDuration = (self: Duration.Duration): string => {
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

const EXPECTED_DURATION = "expected a duration as Config.duration reads it (a number, a space and a unit, " +
  "e.g. \"1 hour\", \"90 seconds\", \"1.5 millis\", with the units nanos, micros, millis, seconds, minutes, " +
  "hours, days, weeks) or a number of milliseconds"

const show = (input: unknown): string =>
  typeof input === "string" ?
    JSON.stringify(input) :
    typeof input === "bigint" ?
    `${input} nanos` :
    Array.isArray(input) ?
    `[${input.join(", ")}]` :
    String(input)

const isNegative = (input: unknown): boolean =>
  typeof input === "number" || typeof input === "bigint" ?
    input < 0 :
    typeof input === "string" ?
    // Only text `Duration.decode` accepted gets here: an optional "-", digits, a space and a unit.
    Number.parseFloat(input) < 0 :
    Array.isArray(input) && input.some((part) => part < 0)

const isNaNInput = (input: unknown): boolean =>
  Number.isNaN(input) || (Array.isArray(input) && input.some(Number.isNaN))

/**
 * A duration as `Duration.decodeUnknown` reads it (the text `Config.duration` accepts, a number of milliseconds,
 * a bigint of nanoseconds, `[seconds, nanos]` or a `Duration`), refusing what it would turn silently into zero
 * (a negative value, NaN) and an infinite result.
 */
export const durationFromInput = (input: unknown): Either.Either<Duration.Duration, string> => {
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || isNaNInput(input)) {
    return Either.left(
      typeof input === "string" && /infinity/i.test(input) ?
        `a duration must be finite, got ${show(input)}` :
        `${EXPECTED_DURATION}, got ${show(input)}`
    )
  }
  if (isNegative(input)) return Either.left(`a duration must not be negative, got ${show(input)}`)
  if (!Duration.isFinite(decoded.value)) return Either.left(`a duration must be finite, got ${show(input)}`)
  return Either.right(decoded.value)
}

/**
 * A finite, non-negative duration. Decodes from text ("1 hour", "90 seconds", "50 millis", "1500 micros")
 * or a number of milliseconds; encodes to the canonical text, losslessly.
 */
export const DurationField = Schema.transformOrFail(
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

export const durationArgument = (constructor: string, input: Duration.DurationInput): Duration.Duration =>
  Either.getOrThrowWith(
    durationFromInput(input),
    (message) => new BadArgument({ module: `SnapshotStrategy.${constructor}`, message: `duration: ${message}` })
  )
