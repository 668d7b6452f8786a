/**
 * The members of an event union by their encoded `_tag`, so that an event is decoded by its own type's decoder
 * (no union dispatch).
 *
 * @internal
 */
import * as AST from "effect/SchemaAST"

/** The required string literal `_tag` a member's encoded side has, if any. */
const encodedTag = (member: AST.AST): string | undefined => {
  const ast = AST.toEncoded(member)
  if (ast._tag !== "Objects") return undefined
  const tag = ast.propertySignatures.find((ps) => ps.name === "_tag")
  return tag !== undefined && !AST.isOptional(tag.type) && tag.type._tag === "Literal" &&
      typeof tag.type.literal === "string"
    ? tag.type.literal
    : undefined
}

/**
 * The members of an event union by their encoded `_tag`, when every member has a distinct one: then a payload
 * with a given `_tag` can only decode as that member, and its member's decoder decodes it as the union does.
 *
 * @internal
 */
export const membersByTag = (ast: AST.AST): ReadonlyMap<string, AST.AST> | undefined => {
  if (ast.checks !== undefined) return undefined
  const members = ast._tag === "Union" ? ast.types : [ast]
  const byTag = new Map<string, AST.AST>()
  for (const member of members) {
    const tag = encodedTag(member)
    if (tag === undefined || byTag.has(tag)) return undefined
    byTag.set(tag, member)
  }
  return byTag
}
