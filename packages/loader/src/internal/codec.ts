/**
 * The JSON codecs of an aggregate, compiled once by `Aggregate.make`: the state's and the events' decoders and
 * encoders, a decoder per event type, the payload version of each upcast event type, and the migrations.
 *
 * @internal
 */
import type * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import type * as SchemaIssue from "effect/SchemaIssue"
import * as Json from "./json.js"
import type { Migrate } from "./migration.js"

/**
 * The JSON codecs of an aggregate: decoders from stored JSON, encoders to it.
 *
 * @internal
 */
export interface Codec<S, E> {
  readonly decodeState: (encoded: unknown) => Result.Result<S, SchemaIssue.Issue>
  readonly encodeState: (state: S) => Result.Result<unknown, SchemaIssue.Issue>
  readonly decodeEvent: (payload: unknown) => Result.Result<E, SchemaIssue.Issue>
  /**
   * The decoder of one event type's member of the event union, when the union's members are told apart by
   * their encoded `_tag` (undefined otherwise, or for an unknown type). It decodes what `decodeEvent` decodes
   * to an event of that type, and fails on anything else.
   */
  readonly decodeEventOfType: (
    type: string
  ) => ((payload: unknown) => Result.Result<E, SchemaIssue.Issue>) | undefined
  readonly encodeEvent: (event: E) => Result.Result<unknown, SchemaIssue.Issue>
  /** Current payload version per event type with upcasters; types not listed are at version 1. */
  readonly eventVersions: ReadonlyMap<string, number>
  /** A snapshot's encoded state from an old schema version to the current one. */
  readonly migrate: Migrate
}

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
 */
const membersByTag = (ast: AST.AST): ReadonlyMap<string, AST.AST> | undefined => {
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

/** @internal */
export const make = <S, SI, E, EI>(
  state: Schema.Codec<S, SI>,
  events: Schema.Codec<E, EI>,
  upcasters: Readonly<Record<string, ReadonlyArray<unknown>>>,
  migrate: Migrate
): Codec<S, E> => {
  const eventVersions = new Map<string, number>()
  for (const [type, chain] of Object.entries(upcasters)) {
    if (chain.length > 0) eventVersions.set(type, chain.length + 1)
  }
  const eventsJson = Json.jsonCodec(events)
  const byType = new Map<string, (payload: unknown) => Result.Result<E, SchemaIssue.Issue>>()
  for (const [type, member] of membersByTag(eventsJson.ast) ?? []) {
    byType.set(type, Json.jsonDecoder(Schema.make<Schema.Codec<E, unknown>>(member)))
  }
  return {
    decodeState: Json.jsonDecoder(Json.jsonCodec(state)),
    encodeState: Json.jsonEncoder(state),
    decodeEvent: Json.jsonDecoder(eventsJson),
    decodeEventOfType: (type) => byType.get(type),
    encodeEvent: Json.jsonEncoder(events),
    eventVersions,
    migrate
  }
}
