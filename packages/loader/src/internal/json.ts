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
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { SchemaJITCompiler } from "effect/schema"
import type * as AST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"
import { jsonCodec } from "./effect3Json.js"

export { effect3Description, jsonCodec } from "./effect3Json.js"

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
    // A success is answered as it is (no second object per decoded event); only its failure type differs.
    if (Result.isSuccess(decoded)) return decoded as Result.Result<A, never>
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
