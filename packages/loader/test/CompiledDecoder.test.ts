/**
 * The decoders `Aggregate.make` compiles from the state and event Schemas must answer exactly what Schema's own
 * `decodeUnknownEither` answers, for every input: the same value when it decodes, a failure when it does not.
 * Checked on schemas that use each kind of node the compiler handles itself (keywords, literals, refinements,
 * transformations, declarations, structs, arrays, disjoint unions, suspends) and some it hands back to
 * Schema (records, tuples, overlapping unions, property-signature transformations), with valid encoded values
 * from Schema's arbitraries, mutated ones, and arbitrary JSON-like junk.
 */
import { Aggregate } from "@effect-snapshots/loader"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

class Line extends Schema.Class<Line>("Line")({
  sku: Schema.String.pipe(Schema.minLength(1)),
  quantity: Schema.Int.pipe(Schema.positive()),
  unitPrice: Schema.BigDecimal
}) {}

interface Tree {
  readonly label: string
  readonly children: ReadonlyArray<Tree>
}
const Tree: Schema.Schema<Tree> = Schema.Struct({
  label: Schema.String,
  children: Schema.Array(Schema.suspend(() => Tree))
})

const Shipped = Schema.TaggedStruct("Shipped", { at: Schema.Date, carrier: Schema.optional(Schema.String) })
const Cancelled = Schema.TaggedStruct("Cancelled", { reason: Schema.NullOr(Schema.String) })
const ItemAdded = Schema.TaggedStruct("ItemAdded", { line: Line, note: Schema.Trim })

/** Erases a schema's types, so schemas of different shapes share one list. */
const entry = <A, I>(name: string, schema: Schema.Schema<A, I>) =>
  [name, schema as unknown as Schema.Schema<unknown, unknown>] as const

const schemas: ReadonlyArray<readonly [string, Schema.Schema<unknown, unknown>]> = [
  entry(
    "keywords, literals and optional keys",
    Schema.Struct({
      s: Schema.String,
      n: Schema.Number,
      b: Schema.Boolean,
      l: Schema.Literal("open", "closed", 3, true, null),
      o: Schema.optional(Schema.Number),
      e: Schema.optionalWith(Schema.String, { exact: true }),
      u: Schema.UndefinedOr(Schema.String)
    })
  ),
  entry(
    "refinements and transformations",
    Schema.Struct({
      int: Schema.Int,
      positive: Schema.Number.pipe(Schema.positive()),
      fromString: Schema.NumberFromString,
      trimmed: Schema.Trim,
      name: Schema.String.pipe(Schema.maxLength(5)),
      date: Schema.Date,
      price: Schema.BigDecimal
    })
  ),
  entry(
    "classes, arrays and a disjoint union",
    Schema.Struct({
      lines: Schema.Array(Line),
      status: Schema.Union(Schema.Literal("a", "b"), Schema.Number, Schema.Struct({ code: Schema.String })),
      maybe: Schema.NullOr(Line)
    })
  ),
  entry("a recursive schema", Tree),
  entry(
    "nodes handed back to Schema",
    Schema.Struct({
      record: Schema.Record({ key: Schema.String, value: Schema.NumberFromString }),
      tuple: Schema.Tuple(Schema.String, Schema.Number),
      overlapping: Schema.Union(
        Schema.Struct({ a: Schema.String }),
        Schema.Struct({ a: Schema.Number, b: Schema.String })
      ),
      defaulted: Schema.optionalWith(Schema.Number, { default: () => 7 })
    })
  ),
  entry("an event union by _tag", Schema.Union(Shipped, Cancelled, ItemAdded))
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

const junk = FastCheck.oneof(
  FastCheck.jsonValue(),
  FastCheck.constantFrom(undefined, "", " x ", "1.5", "abc", -0, 0.5, 1e21, NaN, "2026-12-02T00:00:00Z", [], {})
)

const same = (label: string, compiled: Either.Either<unknown, unknown>, bySchema: Either.Either<unknown, unknown>) => {
  assert.strictEqual(Either.isRight(compiled), Either.isRight(bySchema), `${label}: decodes on one side only`)
  if (Either.isRight(compiled) && Either.isRight(bySchema)) {
    assert.deepStrictEqual(compiled.right, bySchema.right, label)
  }
}

describe("Aggregate's compiled decoders", () => {
  for (const [name, schema] of schemas) {
    it(`answer what Schema answers: ${name}`, () => {
      const aggregate = Aggregate.make({
        type: "Probe",
        state: schema,
        events: Schema.Union(Shipped, Cancelled, ItemAdded),
        initial: () => undefined,
        evolve: (state) => state
      })
      const decode = ParseResult.decodeUnknownEither(schema)
      const encode = Schema.encodeSync(schema)
      FastCheck.assert(
        FastCheck.property(Arbitrary.make(schema), junk, FastCheck.nat(), (value, noise, pick) => {
          const encoded = encode(value)
          for (const input of [encoded, mutate(encoded, noise, pick), noise]) {
            const label = JSON.stringify(input)
            same(label, aggregate.codec.decodeState(input), decode(input))
            if (name === "an event union by _tag") same(label, aggregate.codec.decodeEvent(input), decode(input))
          }
        }),
        { numRuns: 400, seed: 42 }
      )
    })
  }

  it("the event decoder of one _tag answers what the union answers for payloads of that tag", () => {
    const events = Schema.Union(Shipped, Cancelled, ItemAdded)
    const aggregate = Aggregate.make({
      type: "Probe",
      state: Schema.Unknown,
      events,
      initial: () => undefined,
      evolve: (state) => state
    })
    const decode = ParseResult.decodeUnknownEither(events)
    const encode = Schema.encodeSync(events)
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(events), junk, FastCheck.nat(), (value, noise, pick) => {
        const encoded = encode(value) as { readonly _tag: string }
        const ofType = aggregate.codec.decodeEventOfType(encoded._tag)
        assert.isDefined(ofType)
        const mutated = mutate(encoded, noise, pick)
        for (const input of [encoded, mutated]) {
          const tagged = typeof input === "object" && input !== null && (input as { _tag?: unknown })._tag ===
              encoded._tag
          // Only payloads that still carry the tag are that type's: for them both must agree.
          if (tagged) same(JSON.stringify(input), ofType!(input), decode(input))
        }
      }),
      { numRuns: 400, seed: 7 }
    )
  })
})
