/**
 * The fingerprint of a state Schema's encoded (JSON) shape, as `Aggregate.fingerprint` documents it: a canonical
 * description of that shape (format 1) and its hash, and the fingerprints the Effect 3 line wrote for the
 * nullable shapes it described differently.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { createHash } from "node:crypto"
import * as Json from "./json.js"

/** `Aggregate.fingerprint`: the first 16 hex digits of the SHA-256 of `describeShape`. @internal */
export const fingerprint = (schema: { readonly ast: AST.AST }): string =>
  createHash("sha256").update(describeShape(schema)).digest("hex").slice(0, 16)

/** `Aggregate.describeShape`: the canonical description (format 1). @internal */
export const describeShape = (schema: { readonly ast: AST.AST }): string => describe(schema.ast, new Map(), noRules)

/**
 * How the Effect 3 line described the nullable shapes Effect 4 nests: `optional` flattens
 * `optionalWith(X, { nullable: true })`, `literal` flattens `Literal(..., null)`.
 */
interface Effect3Rules {
  readonly optional: boolean
  readonly literal: boolean
}

const noRules: Effect3Rules = { optional: false, literal: false }

const effect3Rules: ReadonlyArray<Effect3Rules> = [
  { optional: true, literal: false },
  { optional: false, literal: true },
  { optional: true, literal: true }
]

/**
 * The fingerprints the Effect 3 line may have written for this encoded shape (the current one included).
 *
 * @internal
 */
export const effect3Fingerprints = (schema: { readonly ast: AST.AST }): ReadonlyArray<string> =>
  effect3Rules.map((rules) =>
    createHash("sha256").update(describe(schema.ast, new Map(), rules)).digest("hex").slice(0, 16)
  )

/**
 * The members of a union as the Effect 3 line described it, where `rules` flatten it: `X | null` nested in
 * `... | undefined` (an optional nullable key), or a union of literals nested in `... | null`.
 */
const flattenedMembers = (ast: AST.Union, rules: Effect3Rules): ReadonlyArray<AST.AST> | undefined => {
  if (ast.types.length !== 2 || (!rules.optional && !rules.literal)) return undefined
  const [a, b] = ast.types.map(encodedOf) as [AST.AST, AST.AST]
  for (const [outer, inner] of [[a, b], [b, a]] as const) {
    if (inner._tag !== "Union") continue
    if (rules.optional && outer._tag === "Undefined" && inner.types.some((t) => encodedOf(t)._tag === "Null")) {
      return [...inner.types, outer]
    }
    if (rules.literal && outer._tag === "Null" && inner.types.every((t) => encodedOf(t)._tag === "Literal")) {
      return [...inner.types, outer]
    }
  }
  return undefined
}

const keyword: Partial<Record<AST.AST["_tag"], string>> = {
  String: "StringKeyword",
  Number: "NumberKeyword",
  Boolean: "BooleanKeyword",
  BigInt: "BigIntKeyword",
  Symbol: "SymbolKeyword",
  ObjectKeyword: "ObjectKeyword",
  Undefined: "UndefinedKeyword",
  Void: "VoidKeyword",
  Never: "NeverKeyword",
  Unknown: "UnknownKeyword",
  Any: "AnyKeyword"
}

const describeLiteral = (literal: AST.LiteralValue | null): string =>
  `lit(${typeof literal === "bigint" ? `${literal}n` : JSON.stringify(literal)})`

/** The encoded side of a node: the end of its encoding chain (its children are left as they are). */
const encodedOf = (ast: AST.AST): AST.AST => {
  let current = ast
  while (current.encoding !== undefined) current = current.encoding[current.encoding.length - 1]!.to
  return current
}

const isUndefinedDescription = (description: string): boolean => description === "UndefinedKeyword"

/**
 * A union's description. `undefined` next to a member union that already admits `undefined` is dropped, and a
 * union left with one member is that member: Effect 4's `optional(X)` followed by `withDecodingDefault` encodes
 * as `X | undefined | undefined`, where Effect 3's `optionalWith(X, { default })` encoded as `X | undefined`.
 */
const describeUnion = (members: ReadonlyArray<string>, nestedAdmitUndefined: boolean): string => {
  const kept = nestedAdmitUndefined ? members.filter((m) => !isUndefinedDescription(m)) : members
  return kept.length === 1 ? kept[0]! : `union(${kept.slice().sort().join("|")})`
}

const describe = (node: AST.AST, seen: Map<AST.AST, number>, rules: Effect3Rules): string => {
  const ast = encodedOf(node)
  switch (ast._tag) {
    case "Suspend": {
      const index = seen.get(ast)
      if (index !== undefined) return `#${index}`
      seen.set(ast, seen.size)
      return `suspend(${describe(ast.thunk(), seen, rules)})`
    }
    case "Null":
      return describeLiteral(null)
    case "Literal":
      return describeLiteral(ast.literal)
    case "UniqueSymbol":
      return `sym(${String(ast.symbol.description)})`
    case "BigInt":
    case "Symbol":
      // Their JSON form is a string (Effect 3's `Schema.BigInt` and `Schema.Symbol` encoded to a string too).
      return "StringKeyword"
    case "Enum":
      return `enums(${ast.enums.map(([, value]) => JSON.stringify(value)).sort().join(",")})`
    case "TemplateLiteral": {
      let head = ""
      const spans: Array<{ type: string; literal: string }> = []
      for (const part of ast.parts) {
        const encodedPart = encodedOf(part)
        if (encodedPart._tag === "Literal") {
          const text = String(encodedPart.literal)
          if (spans.length === 0) head += text
          else spans[spans.length - 1]!.literal += text
        } else {
          spans.push({ type: describe(encodedPart, seen, rules), literal: "" })
        }
      }
      return `tpl(${JSON.stringify(head)},${
        spans.map((span) => `${span.type}${JSON.stringify(span.literal)}`).join(",")
      })`
    }
    case "Declaration": {
      // Uint8Array and Duration: the JSON the Effect 3 line wrote for them (the library still writes it).
      const effect3 = Json.effect3Description(ast)
      if (effect3 !== undefined) return effect3
      // A declaration with a JSON form (BigDecimal, DateTimeUtc, Option, ...) is described by that form.
      const getLink = ast.annotations?.toCodecJson ?? ast.annotations?.toCodec
      if (typeof getLink === "function") {
        const link = (getLink as (typeParameters: ReadonlyArray<unknown>) => AST.Link | undefined)(
          ast.typeParameters.map((tp) => Schema.make(encodedOf(tp)))
        )
        if (link !== undefined) return describe(link.to, seen, rules)
      }
      const identifier = ast.annotations?.identifier
      return `decl(${typeof identifier === "string" ? identifier : "?"};${
        ast.typeParameters.map((p) => describe(p, seen, rules)).join(",")
      })`
    }
    case "Arrays":
      return `tuple(${
        ast.elements.map((e) => `${describe(e, seen, rules)}${AST.isOptional(encodedOf(e)) ? "?" : ""}`).join(",")
      };${ast.rest.map((r) => describe(r, seen, rules)).join(",")})`
    case "Objects": {
      const props = ast.propertySignatures
        .map((ps) =>
          `${JSON.stringify(String(ps.name))}${AST.isOptional(encodedOf(ps.type)) ? "?" : ""}:${
            describe(ps.type, seen, rules)
          }`
        )
        .sort()
      const index = ast.indexSignatures
        .map((is) => `[${describe(is.parameter, seen, rules)}]:${describe(is.type, seen, rules)}`)
        .sort()
      return `{${props.join(",")};${index.join(",")}}`
    }
    case "Union": {
      const flattened = flattenedMembers(ast, rules)
      if (flattened !== undefined) {
        return `union(${flattened.map((t) => describe(t, seen, rules)).sort().join("|")})`
      }
      const members = ast.types.map((t) => describe(t, seen, rules))
      const nestedAdmitUndefined = members.some(isUndefinedDescription) &&
        ast.types.some((t) => {
          const member = encodedOf(t)
          return member._tag === "Union" && member.types.some((m) => encodedOf(m)._tag === "Undefined")
        })
      return describeUnion(members, nestedAdmitUndefined)
    }
    default:
      return keyword[ast._tag] ?? ast._tag
  }
}
