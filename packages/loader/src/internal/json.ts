/**
 * The JSON form of events, states and metadata, as the library stores it: `Schema.toCodecJson` of the user's
 * Schema, with the few places where Effect 4's JSON differs from what the Effect 3 line wrote put back:
 *
 * - `Schema.Uint8Array` is written as an array of bytes (`[1,2,255]`, Effect 3's form; Effect 4's own is
 *   base64) and read in both forms;
 * - `Schema.Duration` is written as `{"_tag":"Millis","millis":1500}`, `{"_tag":"Nanos","nanos":"1500"}` or
 *   `{"_tag":"Infinity"}` (Effect 3's forms; Effect 4's own use a `value` key) and read in both forms (and as
 *   Effect 3's `[seconds, nanos]` tuples);
 * - a key whose value is `undefined` is left out, as Effect 3's `JSON.stringify` left it out, and a missing
 *   required key whose type admits `undefined` reads as `undefined`, as Effect 3 read it.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { SchemaJITCompiler } from "effect/schema"
import * as AST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"

// -----------------------------------------------------------------------------------------------------------
// Effect 3's JSON for Uint8Array and Duration
// -----------------------------------------------------------------------------------------------------------

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

// -----------------------------------------------------------------------------------------------------------
// decoder and encoder
// -----------------------------------------------------------------------------------------------------------

const formatter = SchemaIssue.makeFormatterDefault()

/** An issue's message, with the rejected values (parsed with `reportInput`) and cut to 1,000 characters. @internal */
export const formatIssue = (issue: SchemaIssue.Issue): string => {
  const message = formatter(issue)
  return message.length <= 1000 ? message : `${message.slice(0, 1000)}… (${message.length} characters)`
}

/** Parse options of the aggregate's codecs: failures name the rejected value, as Effect 3's did. @internal */
export const parseOptions = { reportInput: true } as const

/**
 * The JSON decoder of a codec, with Effect's JIT compiler enabled for its AST (it falls back to the
 * interpreter where `new Function` is not allowed).
 *
 * @internal
 */
export const jsonDecoder = <A>(
  codec: Schema.Codec<A, unknown>
): (u: unknown) => Result.Result<A, SchemaIssue.Issue> => {
  SchemaJITCompiler.enable(codec.ast)
  const decode = Schema.decodeUnknownResult(codec, parseOptions)
  const decodeAll = Schema.decodeUnknownResult(codec, { errors: "all" })
  return (u) => {
    const decoded = decode(u)
    if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
    // Effect 3 read a required key whose type admits undefined, when missing, as undefined (and wrote it
    // missing); Effect 4 refuses it. Such keys are filled with the JSON of undefined (null) and decoded again.
    const all = decodeAll(u)
    const missing = Result.isFailure(all) ? missingUndefinedKeys(all.failure.issue) : []
    if (missing.length === 0) return Result.fail(decoded.failure.issue)
    const again = decode(missing.reduce(fillNull, u))
    return Result.isSuccess(again) ? Result.succeed(again.success) : Result.fail(decoded.failure.issue)
  }
}

const admitsUndefined = (ast: AST.AST): boolean =>
  ast._tag === "Undefined" || (ast._tag === "Union" && ast.types.some(admitsUndefined))

/** The paths of the keys reported missing whose type admits undefined. */
const missingUndefinedKeys = (issue: SchemaIssue.Issue): Array<ReadonlyArray<PropertyKey>> => {
  const out: Array<ReadonlyArray<PropertyKey>> = []
  const walk = (node: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>, objects: AST.Objects | undefined) => {
    switch (node._tag) {
      case "Pointer":
        return walk(node.issue, [...path, ...node.path], objects)
      case "MissingKey": {
        const key = path[path.length - 1]
        const signature = objects?.propertySignatures.find((ps) => ps.name === key)
        if (signature !== undefined && admitsUndefined(signature.type)) out.push(path)
        return
      }
      default: {
        const ast = "ast" in node ? node.ast : undefined
        const next = ast !== undefined && (ast as AST.AST)._tag === "Objects" ? ast as AST.Objects : objects
        if ("issues" in node && Array.isArray(node.issues)) {
          for (const child of node.issues as ReadonlyArray<SchemaIssue.Issue>) walk(child, path, next)
        } else if ("issue" in node && node.issue !== undefined) {
          walk(node.issue as SchemaIssue.Issue, path, next)
        }
      }
    }
  }
  walk(issue, [], undefined)
  return out
}

/** A copy of `json` with `null` at `path` (only plain objects and arrays along it are copied). */
const fillNull = (json: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  if (path.length === 0) return null
  const [head, ...rest] = path
  if (Array.isArray(json) && typeof head === "number") {
    const copy = json.slice()
    copy[head] = fillNull(json[head], rest)
    return copy
  }
  if (isPlainObject(json) && typeof head === "string") return { ...json, [head]: fillNull(json[head], rest) }
  return json
}

const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/**
 * The JSON `json` without the keys whose value the Schema's own encoding (`plain`, walked alongside) left
 * `undefined` and the JSON codec wrote as `null`: what `JSON.stringify` made of the Effect 3 line's encoding.
 * Arrays keep their `null`s (`JSON.stringify` writes an `undefined` element as `null` too). Answers `json`
 * itself when nothing was removed.
 */
const pruneUndefined = (plain: unknown, json: unknown): unknown => {
  if (Array.isArray(plain) && Array.isArray(json)) {
    let out: Array<unknown> | undefined
    for (let i = 0; i < json.length; i++) {
      const pruned = pruneUndefined(plain[i], json[i])
      if (pruned !== json[i]) (out ??= json.slice())[i] = pruned
    }
    return out ?? json
  }
  if (Option.isOption(plain)) {
    return Option.isSome(plain) && isPlainObject(json) && json._tag === "Some" && "value" in json
      ? replaceKey(json, "value", pruneUndefined(plain.value, json.value))
      : json
  }
  if (!isPlainObject(plain) || !isPlainObject(json)) return json
  let out: Record<string, unknown> | undefined
  for (const key of Object.keys(json)) {
    const value = json[key]
    if (value === null && Object.prototype.hasOwnProperty.call(plain, key) && plain[key] === undefined) {
      out ??= { ...json }
      delete out[key]
    } else {
      const pruned = pruneUndefined(plain[key], value)
      if (pruned !== value) (out ??= { ...json })[key] = pruned
    }
  }
  return out ?? json
}

const replaceKey = (json: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> =>
  value === json[key] ? json : { ...json, [key]: value }

const containsNull = (json: unknown): boolean => {
  if (json === null) return true
  if (Array.isArray(json)) return json.some(containsNull)
  if (typeof json === "object") {
    for (const key in json) if (containsNull((json as Record<string, unknown>)[key])) return true
  }
  return false
}

/**
 * The JSON encoder of a Schema, writing what the Effect 3 line wrote: `Schema.toCodecJson`'s output, except
 * that a key whose value is `undefined` is left out (Effect 4's JSON codec writes it as `null`; the Effect 3
 * line's `JSON.stringify` dropped it), whenever the JSON without the key still decodes with the aggregate's
 * decoders (which read a missing required key whose type admits `undefined` as Effect 3 did).
 *
 * @internal
 */
export const jsonEncoder = <A, I>(
  schema: Schema.Codec<A, I>
): (a: A) => Result.Result<unknown, SchemaIssue.Issue> => {
  const codec = jsonCodec(schema)
  const encodeJson = Schema.encodeUnknownResult(codec, parseOptions)
  const encodePlain = Schema.encodeUnknownResult(schema)
  const decodeJson = jsonDecoder(codec)
  return (a) => {
    const json = encodeJson(a)
    if (Result.isFailure(json)) return Result.fail(json.failure.issue)
    if (!containsNull(json.success)) return Result.succeed(json.success)
    const plain = encodePlain(a)
    if (Result.isFailure(plain)) return Result.succeed(json.success)
    const pruned = pruneUndefined(plain.success, json.success)
    return Result.succeed(
      pruned !== json.success && Result.isSuccess(decodeJson(pruned)) ? pruned : json.success
    )
  }
}
