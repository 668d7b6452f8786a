/**
 * The decoders `Aggregate.make` builds from the state and event Schemas (their JSON codecs, `Schema.toCodecJson`,
 * with Effect's JIT compiler enabled, and one decoder per event `_tag`) must answer exactly what Schema's own
 * interpreter answers for that JSON codec, for every input: the same value when it decodes, a failure when it
 * does not. Checked on schemas with each kind of node (keywords, literals, checks, transformations,
 * declarations, classes, structs, arrays, unions, suspends, records, tuples, decoding defaults), with valid
 * encoded values from Schema's arbitraries, mutated ones, and arbitrary JSON-like junk.
 */
import { Aggregate } from "@effect-snapshots/loader"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

class Line extends Schema.Class<Line>("Line")({
  sku: Schema.String.check(Schema.isMinLength(1)),
  quantity: Schema.Int.check(Schema.isGreaterThan(0)),
  unitPrice: Schema.BigDecimal
}) {}

interface Tree {
  readonly label: string
  readonly children: ReadonlyArray<Tree>
}
const Tree: Schema.Codec<Tree> = Schema.Struct({
  label: Schema.String,
  children: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree))
})

const Shipped = Schema.TaggedStruct("Shipped", { at: Schema.Date, carrier: Schema.optional(Schema.String) })
const Cancelled = Schema.TaggedStruct("Cancelled", { reason: Schema.NullOr(Schema.String) })
const ItemAdded = Schema.TaggedStruct("ItemAdded", { line: Line, note: Schema.Trim })
const Events = Schema.Union([Shipped, Cancelled, ItemAdded])

/** Erases a schema's types, so schemas of different shapes share one list. */
const entry = <A, I>(name: string, schema: Schema.Codec<A, I>) =>
  [name, schema as unknown as Schema.Codec<unknown, unknown>] as const

const schemas: ReadonlyArray<readonly [string, Schema.Codec<unknown, unknown>]> = [
  entry(
    "keywords, literals and optional keys",
    Schema.Struct({
      s: Schema.String,
      n: Schema.Number,
      b: Schema.Boolean,
      l: Schema.NullOr(Schema.Literals(["open", "closed", 3, true])),
      o: Schema.optional(Schema.Number),
      e: Schema.optionalKey(Schema.String),
      u: Schema.UndefinedOr(Schema.String)
    })
  ),
  entry(
    "checks and transformations",
    Schema.Struct({
      int: Schema.Int,
      positive: Schema.Number.check(Schema.isGreaterThan(0)),
      fromString: Schema.NumberFromString,
      trimmed: Schema.Trim,
      name: Schema.String.check(Schema.isMaxLength(5)),
      date: Schema.Date,
      price: Schema.BigDecimal
    })
  ),
  entry(
    "classes, arrays and a union",
    Schema.Struct({
      lines: Schema.Array(Line),
      status: Schema.Union([Schema.Literals(["a", "b"]), Schema.Number, Schema.Struct({ code: Schema.String })]),
      maybe: Schema.NullOr(Line)
    })
  ),
  entry("a recursive schema", Tree),
  entry(
    "records, tuples, overlapping unions, decoding defaults",
    Schema.Struct({
      record: Schema.Record(Schema.String, Schema.NumberFromString),
      tuple: Schema.Tuple([Schema.String, Schema.Number]),
      overlapping: Schema.Union([
        Schema.Struct({ a: Schema.String }),
        Schema.Struct({ a: Schema.Number, b: Schema.String })
      ]),
      defaulted: Schema.Number.pipe(Schema.optional, Schema.withDecodingDefault(Effect.succeed(7)))
    })
  ),
  entry("an event union by _tag", Events)
]

/** A valid encoded value with one part replaced by junk, removed, or given an extra key. */
const mutate = (value: unknown, junk: unknown, pick: number): unknown => {
  if (typeof value !== "object" || value === null) return junk
  if (Array.isArray(value)) {
    if (value.length === 0) return [junk]
    const i = pick % value.length
    return value.map((v, k) => (k === i ? mutate(v, junk, pick >> 2) : v))
  }
  const keys = Object.keys(value)
  if (keys.length === 0) return { extra: junk }
  const key = keys[pick % keys.length]!
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  switch (pick % 3) {
    case 0:
      delete copy[key]
      return copy
    case 1:
      copy[key] = mutate(copy[key], junk, pick >> 2)
      return copy
    default:
      return { ...copy, extra: junk }
  }
}

const jsonLeaf = Schema.Union([Schema.Null, Schema.Boolean, Schema.Number, Schema.String])
const jsonLevel = (inner: Schema.Codec<unknown>): Schema.Codec<unknown> =>
  Schema.Union([jsonLeaf, Schema.Array(inner), Schema.Record(Schema.String, inner)])
const constants: ReadonlyArray<unknown> = [
  undefined,
  "",
  " x ",
  "1.5",
  "abc",
  -0,
  0.5,
  1e21,
  Number.NaN,
  "2026-12-02T00:00:00Z",
  [],
  {}
]
const junk: Arbitrary.Arbitrary<unknown> = Arbitrary.schema(
  Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2 * constants.length }))
).pipe(
  Arbitrary.flatMap((i) =>
    i < constants.length ? Arbitrary.Constant(constants[i]) : Arbitrary.schema(jsonLevel(jsonLevel(jsonLeaf)))
  )
)
const pick = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 })))

const same = (
  label: string,
  built: Result.Result<unknown, unknown>,
  interpreted: Result.Result<unknown, unknown>
) => {
  assert.strictEqual(Result.isSuccess(built), Result.isSuccess(interpreted), `${label}: decodes on one side only`)
  if (Result.isSuccess(built) && Result.isSuccess(interpreted)) {
    assert.deepStrictEqual(built.success, interpreted.success, label)
  }
}

/**
 * Schema's interpreter for a JSON codec: a decoder captured (by a first call) before `Aggregate.make` enables
 * the JIT compiler for that codec, so it keeps the interpreted parser.
 */
const interpreted = <A>(codec: Schema.Codec<A, unknown>) => {
  const decode = Schema.decodeUnknownResult(codec)
  decode(undefined)
  return (u: unknown) => {
    const decoded = decode(u)
    // Effect 3 read a missing required key whose type admits undefined (`u` below) as undefined: so do the
    // aggregate's decoders.
    if (Result.isFailure(decoded) && typeof u === "object" && u !== null && !Array.isArray(u) && !("u" in u)) {
      const filled = decode({ ...u, u: null })
      if (Result.isSuccess(filled)) return filled
    }
    return Result.mapError(decoded, (error) => error.issue)
  }
}

describe("Aggregate's decoders", () => {
  for (const [name, schema] of schemas) {
    const codec = Aggregate.jsonCodec(schema)
    const decode = interpreted(codec)
    const encode = Schema.encodeSync(codec)
    const aggregate = Aggregate.make({
      type: "Probe",
      state: schema,
      events: Events,
      initial: () => undefined,
      evolve: (state) => state
    })
    it.prop(`answer what Schema answers: ${name}`, [Arbitrary.schema(schema), junk, pick], ([value, noise, n]) => {
      const encoded = encode(value)
      for (const input of [encoded, mutate(encoded, noise, n), noise]) {
        const label = JSON.stringify(input) ?? String(input)
        same(label, aggregate.codec.decodeState(input), decode(input))
        if (name === "an event union by _tag") same(label, aggregate.codec.decodeEvent(input), decode(input))
      }
    }, { arbitrary: { runs: 400, seed: 42 } })
  }

  const eventsCodec = Aggregate.jsonCodec(Events)
  const decodeEvents = interpreted(eventsCodec)
  const encodeEvents = Schema.encodeSync(eventsCodec)
  const aggregate = Aggregate.make({
    type: "Probe",
    state: Schema.Unknown,
    events: Events,
    initial: () => undefined,
    evolve: (state) => state
  })
  it.prop(
    "the event decoder of one _tag answers what the union answers for payloads of that tag",
    [Arbitrary.schema(Events), junk, pick],
    ([value, noise, n]) => {
      const encoded = encodeEvents(value) as { readonly _tag: string }
      const ofType = aggregate.codec.decodeEventOfType(encoded._tag)
      assert.isDefined(ofType)
      const mutated = mutate(encoded, noise, n)
      for (const input of [encoded, mutated]) {
        const tagged = typeof input === "object" && input !== null &&
          (input as { _tag?: unknown })._tag === encoded._tag
        // Only payloads that still carry the tag are that type's: for them both must agree.
        if (tagged) same(JSON.stringify(input), ofType!(input), decodeEvents(input))
      }
    },
    { arbitrary: { runs: 400, seed: 7 } }
  )
})
