/**
 * Effect 3's JSON put back where Effect 4's differs (`Schema.Uint8Array`, `Schema.Duration`): the AST rewrite
 * behind `jsonCodec` (see the top of `json.ts`).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as SchemaTransformation from "effect/SchemaTransformation"

const Byte = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))

/** Effect 3's `Schema.Uint8Array` (an array of bytes) first, so it is what encoding writes; then base64. */
const Uint8ArrayJson = Schema.Union([
  Schema.Array(Byte).pipe(Schema.decodeTo(
    Schema.Uint8Array,
    SchemaTransformation.transform({
      decode: (bytes: ReadonlyArray<number>): Uint8Array => globalThis.Uint8Array.from(bytes),
      encode: (bytes: Uint8Array): ReadonlyArray<number> => Array.from(bytes)
    })
  )),
  Schema.Uint8ArrayFromBase64
])

type DurationEffect3 =
  | { readonly _tag: "Millis"; readonly millis: number }
  | { readonly _tag: "Nanos"; readonly nanos: bigint }
  | { readonly _tag: "Infinity" }
  | { readonly _tag: "NegativeInfinity" }
  | readonly [number, number]

/**
 * Effect 3's `Schema.Duration` (`DurationValue`, and its `[seconds, nanos]` HRTime tuples, read only); a
 * negative infinity, which Effect 3 did not have, in Effect 4's form.
 */
const DurationEffect3 = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("Millis"), millis: Schema.Number }),
  Schema.Struct({ _tag: Schema.Literal("Nanos"), nanos: Schema.BigInt }),
  Schema.Struct({ _tag: Schema.Literal("Infinity") }),
  Schema.Struct({ _tag: Schema.Literal("NegativeInfinity") }),
  Schema.Tuple([Schema.Int, Schema.Int])
]).pipe(Schema.decodeTo(
  Schema.Duration,
  SchemaTransformation.transform({
    decode: (e: DurationEffect3): Duration.Duration => {
      if (Array.isArray(e)) {
        const [seconds, nanos] = e as readonly [number, number]
        return seconds === -1 ? Duration.infinity : Duration.nanos(BigInt(seconds) * 1_000_000_000n + BigInt(nanos))
      }
      const value = e as Exclude<DurationEffect3, ReadonlyArray<number>>
      switch (value._tag) {
        case "Millis":
          return Duration.millis(value.millis)
        case "Nanos":
          return Duration.nanos(value.nanos)
        case "Infinity":
          return Duration.infinity
        case "NegativeInfinity":
          return Duration.negativeInfinity
      }
    },
    encode: (duration: Duration.Duration): DurationEffect3 => {
      const value = duration.value
      switch (value._tag) {
        case "Millis":
          return { _tag: "Millis", millis: value.millis }
        case "Nanos":
          return { _tag: "Nanos", nanos: value.nanos }
        case "Infinity":
          return { _tag: "Infinity" }
        case "NegativeInfinity":
          return { _tag: "NegativeInfinity" }
      }
    }
  })
))

const DurationJson = Schema.Union([DurationEffect3, Schema.toCodecJson(Schema.Duration)])

interface Effect3Json {
  /** The JSON codec: writes Effect 3's form, reads both. */
  readonly link: AST.Link
  /** What the Effect 3 line's `fingerprint` described the type as (printed by that build). */
  readonly description: string
}

const effect3Json: ReadonlyMap<string, Effect3Json> = new Map([
  ["effect/schema/Uint8Array", {
    link: Schema.link<Uint8Array>()(Uint8ArrayJson, SchemaTransformation.passthrough()),
    description: "tuple(;NumberKeyword)"
  }],
  ["effect/schema/Duration", {
    link: Schema.link<Duration.Duration>()(DurationJson, SchemaTransformation.passthrough()),
    description: "union(union(tuple(NumberKeyword,NumberKeyword;)|tuple(lit(-1),lit(0);))|union(" +
      "{\"_tag\":lit(\"Infinity\");}|{\"_tag\":lit(\"Millis\"),\"millis\":NumberKeyword;}|" +
      "{\"_tag\":lit(\"Nanos\"),\"nanos\":StringKeyword;}))"
  }]
])

/** The Effect 3 JSON of a declaration that has no encoding of its own, when its JSON changed in Effect 4. */
const effect3JsonOf = (ast: AST.AST): Effect3Json | undefined => {
  if (ast._tag !== "Declaration" || ast.encoding !== undefined) return undefined
  const representation = ast.annotations?.representation as { readonly id?: unknown } | undefined
  return typeof representation?.id === "string" ? effect3Json.get(representation.id) : undefined
}

/**
 * What the Effect 3 line's fingerprint described a declaration as, for the declarations whose JSON changed
 * in Effect 4 (undefined for any other node).
 *
 * @internal
 */
export const effect3Description = (ast: AST.AST): string | undefined => effect3JsonOf(ast)?.description

/** Whether the encoded side of `ast` holds a declaration whose JSON changed (each node visited once). */
const holdsEffect3Json = (root: AST.AST): boolean => {
  const seen = new Set<AST.AST>()
  const visit = (ast: AST.AST): boolean => {
    if (seen.has(ast)) return false
    seen.add(ast)
    if (ast.encoding !== undefined) return visit(ast.encoding[ast.encoding.length - 1]!.to)
    if (effect3JsonOf(ast) !== undefined) return true
    switch (ast._tag) {
      case "Declaration":
        return ast.typeParameters.some(visit)
      case "Objects":
        return ast.propertySignatures.some((ps) => visit(ps.type)) ||
          ast.indexSignatures.some((is) => visit(is.parameter) || visit(is.type))
      case "Arrays":
        return ast.elements.some(visit) || ast.rest.some(visit)
      case "Union":
        return ast.types.some(visit)
      case "Suspend":
        return visit(ast.thunk())
      default:
        return false
    }
  }
  return visit(root)
}

/** A copy of a node with another encoding (what Effect's own `replaceEncoding` does). */
const withEncoding = <A extends AST.AST>(ast: A, encoding: AST.Encoding): A =>
  Object.assign(Object.create(Object.getPrototypeOf(ast)), ast, { encoding }) as A

/**
 * The AST with every declaration whose JSON changed given Effect 3's JSON codec (its `toCodecJson`
 * annotation), along the path `Schema.toCodecJson` takes: the last link of an encoding, struct and record
 * values, array elements, union members, suspended schemas, type parameters. The AST itself when it holds none.
 */
const withEffect3Json = (root: AST.AST): AST.AST => {
  if (!holdsEffect3Json(root)) return root
  const done = new Map<AST.AST, AST.AST>()
  const go = (ast: AST.AST): AST.AST => {
    const known = done.get(ast)
    if (known !== undefined) return known
    if (ast._tag === "Suspend" && ast.encoding === undefined) {
      const out = new AST.Suspend(() => go(ast.thunk()), ast.annotations, ast.checks, undefined, ast.context)
      done.set(ast, out)
      return out
    }
    const out = rebuild(ast, go)
    done.set(ast, out)
    return out
  }
  return go(root)
}

const rebuild = (ast: AST.AST, go: (ast: AST.AST) => AST.AST): AST.AST => {
  if (ast.encoding !== undefined) {
    const links = ast.encoding
    const last = links[links.length - 1]!
    const to = go(last.to)
    if (to === last.to) return ast
    const [first, ...rest] = links
    const link = new AST.Link(to, last.transformation)
    return withEncoding(ast, rest.length === 0 ? [link] : [first, ...rest.slice(0, -1), link])
  }
  const json = effect3JsonOf(ast)
  switch (ast._tag) {
    case "Declaration":
      return new AST.Declaration(
        ast.typeParameters.map(go),
        ast.run,
        json === undefined ? ast.annotations : { ...ast.annotations, toCodecJson: () => json.link },
        ast.checks,
        undefined,
        ast.context,
        ast.encodingChecks,
        ast.encodingRun
      )
    case "Objects":
      return new AST.Objects(
        ast.propertySignatures.map((ps) => new AST.PropertySignature(ps.name, go(ps.type))),
        ast.indexSignatures.map((is) => new AST.IndexSignature(go(is.parameter), go(is.type))),
        ast.annotations,
        ast.checks,
        undefined,
        ast.context,
        ast.encodingChecks
      )
    case "Arrays":
      return new AST.Arrays(
        ast.isMutable,
        ast.elements.map(go),
        ast.rest.map(go),
        ast.annotations,
        ast.checks,
        undefined,
        ast.context,
        ast.encodingChecks
      )
    case "Union":
      return new AST.Union(
        ast.types.map(go),
        ast.options,
        ast.annotations,
        ast.checks,
        undefined,
        ast.context,
        ast.encodingChecks
      )
    default:
      return ast
  }
}

/**
 * The JSON codec of a Schema, as the library stores it (see the top of this module).
 *
 * @internal
 */
export const jsonCodec = <S, SI>(schema: Schema.Codec<S, SI>): Schema.Codec<S, unknown> => {
  const ast = withEffect3Json(schema.ast)
  return Schema.toCodecJson(ast === schema.ast ? schema : Schema.make<Schema.Codec<S, SI>>(ast)) as Schema.Codec<
    S,
    unknown
  >
}
