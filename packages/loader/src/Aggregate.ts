/**
 * Aggregate definitions: a state Schema, an event Schema, a pure `evolve`, and what it takes to read old data
 * (snapshot state migrations, event upcasters). Everything here is pure; the repository does the I/O.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { createHash } from "node:crypto"
import type { NewEvent, StoredEvent } from "./EventStore.js"

/**
 * The metadata key under which an event's payload version is recorded (absent = version 1).
 *
 * @since 0.1.0
 */
export const EventVersionKey = "eventVersion"

/**
 * The snapshot metadata key holding the fingerprint of the state Schema that wrote the snapshot.
 *
 * @since 0.1.0
 */
export const FingerprintKey = "fingerprint"

/**
 * The snapshot metadata key holding the global position of the event at the snapshot's version. A loader
 * compares it with the event it reads at that version, so a snapshot of another timeline of the stream
 * (a restore from backup, a truncated and regrown stream) is never applied.
 *
 * @since 0.1.0
 */
export const PositionKey = "position"

/**
 * Migrates the Schema-encoded state of a snapshot from one `schemaVersion` to the next (JSON in, JSON out).
 *
 * @since 0.1.0
 */
export type Migration = (encoded: unknown) => unknown

/**
 * Upgrades the encoded payload of an event from one version of its type to the next.
 *
 * @since 0.1.0
 */
export type Upcaster = (payload: unknown) => unknown

/**
 * @since 0.1.0
 */
export interface Options<S, SI, E extends { readonly _tag: string }, EI> {
  /** The aggregate type: the `aggregateType` of its events and snapshots. */
  readonly type: string
  /** The state Schema. A snapshot holds its encoded form. */
  readonly state: Schema.Schema<S, SI>
  /** The state of a stream without events. */
  readonly initial: (id: string) => S
  /** The events: a Schema (usually a union) of tagged events. The stored event type is the `_tag`. */
  readonly events: Schema.Schema<E, EI>
  /** The fold. Pure: it returns a new state and never mutates its arguments. */
  readonly evolve: (state: S, event: E) => S
  /** The version of the state's shape, recorded in every snapshot (default 1). */
  readonly schemaVersion?: number | undefined
  /**
   * Snapshot migrations keyed by the version they migrate FROM: `{ 1: (v1) => v2, 2: (v2) => v3 }`. A snapshot
   * with no path to `schemaVersion` is skipped and the aggregate is rebuilt by replay.
   */
  readonly migrations?: Readonly<Record<number, Migration>> | undefined
  /**
   * Event upcasters per event type: `{ ItemAdded: [v1ToV2, v2ToV3] }`. The i-th function upgrades a payload
   * written at version i + 1; the current version of a type is one more than the length of its chain, and it
   * is recorded in the metadata of every appended event of that type (when above 1).
   */
  readonly upcasters?: Readonly<Record<string, ReadonlyArray<Upcaster>>> | undefined
}

/**
 * A compiled aggregate definition. Build it once with `make`; its decoders and fingerprint are computed
 * there, not per call.
 *
 * @since 0.1.0
 */
export interface Aggregate<S, SI, E extends { readonly _tag: string }, EI> {
  readonly type: string
  readonly state: Schema.Schema<S, SI>
  readonly events: Schema.Schema<E, EI>
  readonly initial: (id: string) => S
  readonly evolve: (state: S, event: E) => S
  readonly schemaVersion: number
  readonly migrations: Readonly<Record<number, Migration>>
  readonly upcasters: Readonly<Record<string, ReadonlyArray<Upcaster>>>
  /** A deterministic fingerprint of the encoded side of the state Schema. */
  readonly fingerprint: string
  /** @internal */
  readonly codec: Codec<S, E>
}

/**
 * @since 0.1.0
 */
export declare namespace Aggregate {
  /**
   * Any aggregate.
   *
   * @since 0.1.0
   */
  export type Any = Aggregate<unknown, unknown, { readonly _tag: string }, unknown>
  /**
   * @since 0.1.0
   */
  export type State<A> = A extends Aggregate<infer S, infer _SI, infer _E, infer _EI> ? S : never
  /**
   * @since 0.1.0
   */
  export type Event<A> = A extends Aggregate<infer _S, infer _SI, infer E, infer _EI> ? E : never
}

/** @internal */
export interface Codec<S, E> {
  readonly decodeState: (encoded: unknown) => Either.Either<S, ParseResult.ParseIssue>
  readonly encodeState: (state: S) => Either.Either<unknown, ParseResult.ParseIssue>
  readonly decodeEvent: (payload: unknown) => Either.Either<E, ParseResult.ParseIssue>
  /**
   * The decoder of one event type's member of the event union, when the union's members are told apart by
   * their `_tag` (undefined otherwise, or for an unknown type). It decodes what `decodeEvent` decodes to an
   * event of that type, and fails on anything else.
   */
  readonly decodeEventOfType: (
    type: string
  ) => ((payload: unknown) => Either.Either<E, ParseResult.ParseIssue>) | undefined
  readonly encodeEvent: (event: E) => Either.Either<unknown, ParseResult.ParseIssue>
  /** Current payload version per event type with upcasters; types not listed are at version 1. */
  readonly eventVersions: ReadonlyMap<string, number>
}

/**
 * A stored event could not be read as an event of the aggregate: the stream is corrupt (a bad payload, an
 * unknown type, a missing upcaster, or a gap in its versions). This is not a snapshot problem: no replay can
 * fix it.
 *
 * @since 0.1.0
 */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>(
  "@effect-snapshots/loader/EventDecodeError"
)("EventDecodeError", {
  aggregateType: Schema.String,
  aggregateId: Schema.String,
  version: Schema.Int,
  eventType: Schema.String,
  message: Schema.String
}) {}

/**
 * Events given to `save` do not encode with the aggregate's event Schema; nothing was written.
 *
 * @since 0.1.0
 */
export class EventEncodeError extends Schema.TaggedError<EventEncodeError>(
  "@effect-snapshots/loader/EventEncodeError"
)("EventEncodeError", {
  aggregateType: Schema.String,
  aggregateId: Schema.String,
  /** Index of the offending event in the batch. */
  index: Schema.Int,
  eventType: Schema.String,
  message: Schema.String
}) {}

/**
 * Why a stored snapshot was not used:
 * - `StaleFingerprint`: written at the current `schemaVersion` by a state Schema of another shape.
 * - `NoMigration`: written at a `schemaVersion` with no migration path to the current one.
 * - `MigrationFailed`: a migration threw.
 * - `DecodeFailure`: its (migrated) state does not decode with the state Schema, or the store could not read
 *   it back at all (a `Corrupt` error: bad bytes, bad JSON).
 * - `AboveStream`: its version is above the stream's version.
 * - `StreamMismatch`: the event at its version is not the one it was built from (another timeline), or the
 *   store answered a snapshot of another aggregate.
 * - `Unavailable`: the snapshot store failed; the load went on without it.
 *
 * @since 0.1.0
 */
export type SkipReason =
  | "StaleFingerprint"
  | "NoMigration"
  | "MigrationFailed"
  | "DecodeFailure"
  | "AboveStream"
  | "StreamMismatch"
  | "Unavailable"

/**
 * A snapshot's state, ready to fold onto.
 *
 * @since 0.1.0
 */
export interface RestoredState<S> {
  readonly state: S
  /** Whether the state came through migrations (its snapshot should be re-saved at the current version). */
  readonly migrated: boolean
}

/**
 * @since 0.1.0
 */
export interface Skipped {
  readonly reason: SkipReason
  readonly message: string
}

const formatIssue = (issue: ParseResult.ParseIssue): string => ParseResult.TreeFormatter.formatIssueSync(issue)

/**
 * Define an aggregate.
 *
 * @example
 * ```ts
 * const Counter = Aggregate.make({
 *   type: "Counter",
 *   state: Schema.Struct({ count: Schema.Number }),
 *   initial: () => ({ count: 0 }),
 *   events: Schema.Union(Schema.TaggedStruct("Incremented", { by: Schema.Number })),
 *   evolve: (state, event) => ({ count: state.count + event.by })
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = <S, SI, E extends { readonly _tag: string }, EI>(
  options: Options<S, SI, E, EI>
): Aggregate<S, SI, E, EI> => {
  const upcasters = options.upcasters ?? {}
  const eventVersions = new Map<string, number>()
  for (const [type, chain] of Object.entries(upcasters)) {
    if (chain.length > 0) eventVersions.set(type, chain.length + 1)
  }
  const byType = new Map<string, (payload: unknown) => Either.Either<E, ParseResult.ParseIssue>>()
  for (const [type, member] of membersByTag(options.events.ast) ?? []) {
    byType.set(type, compileDecoder(Schema.make<E, unknown, never>(member)))
  }
  return {
    type: options.type,
    state: options.state,
    events: options.events,
    initial: options.initial,
    evolve: options.evolve,
    schemaVersion: options.schemaVersion ?? 1,
    migrations: options.migrations ?? {},
    upcasters,
    fingerprint: fingerprint(options.state),
    codec: {
      decodeState: compileDecoder(options.state),
      encodeState: ParseResult.encodeEither(options.state),
      decodeEvent: compileDecoder(options.events),
      decodeEventOfType: (type) => byType.get(type),
      encodeEvent: ParseResult.encodeEither(options.events),
      eventVersions
    }
  }
}

/**
 * Fold events onto a state with the aggregate's pure `evolve`.
 *
 * @since 0.1.0
 */
export const fold = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  state: S,
  events: Iterable<E>
): S => {
  let current = state
  for (const event of events) current = aggregate.evolve(current, event)
  return current
}

/**
 * Read one stored event as an event of the aggregate: upcast its payload from the version recorded in its
 * metadata to the current one, then decode it.
 *
 * @since 0.1.0
 */
export const decodeEvent = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  stored: StoredEvent
): Either.Either<E, EventDecodeError> => {
  let payload = stored.payload
  const current = aggregate.codec.eventVersions.get(stored.type)
  if (current !== undefined) {
    const recorded = stored.metadata[EventVersionKey]
    let version = typeof recorded === "number" ? recorded : 1
    const chain = aggregate.upcasters[stored.type]!
    try {
      for (; version < current; version++) payload = chain[version - 1]!(payload)
    } catch (cause) {
      return Either.left(decodeError(aggregate, stored, `upcaster from version ${version} failed: ${String(cause)}`))
    }
  }
  // Its own type's decoder first (no union dispatch); anything it does not decode goes through the union,
  // which says what is wrong.
  const ofType = aggregate.codec.decodeEventOfType(stored.type)
  if (ofType !== undefined) {
    const fast = ofType(payload)
    if (Either.isRight(fast) && fast.right._tag === stored.type) return Either.right(fast.right)
  }
  const decoded = aggregate.codec.decodeEvent(payload)
  if (Either.isLeft(decoded)) return Either.left(decodeError(aggregate, stored, formatIssue(decoded.left)))
  if (decoded.right._tag !== stored.type) {
    return Either.left(
      decodeError(aggregate, stored, `the payload is a ${JSON.stringify(decoded.right._tag)} event`)
    )
  }
  return Either.right(decoded.right)
}

const decodeError = (aggregate: { readonly type: string }, stored: StoredEvent, message: string) =>
  new EventDecodeError({
    aggregateType: aggregate.type,
    aggregateId: stored.aggregateId,
    version: stored.version,
    eventType: stored.type,
    message
  })

/**
 * Encode a batch of events for `EventStore.append`. Fails on the first event that does not encode.
 *
 * @since 0.1.0
 */
export const encodeEvents = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  aggregateId: string,
  events: ReadonlyArray<E>
): Either.Either<Array<NewEvent>, EventEncodeError> => {
  const out: Array<NewEvent> = []
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!
    const encoded = aggregate.codec.encodeEvent(event)
    if (Either.isLeft(encoded)) {
      return Either.left(
        new EventEncodeError({
          aggregateType: aggregate.type,
          aggregateId,
          index,
          eventType: String(event?._tag),
          message: formatIssue(encoded.left)
        })
      )
    }
    const version = aggregate.codec.eventVersions.get(event._tag)
    out.push(
      version === undefined
        ? { type: event._tag, payload: encoded.right }
        : { type: event._tag, payload: encoded.right, metadata: { [EventVersionKey]: version } }
    )
  }
  return Either.right(out)
}

/**
 * Encode a state for a snapshot. `None` when the state does not encode (a bug in the state or its Schema).
 *
 * @since 0.1.0
 */
export const encodeState = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  state: S
): Either.Either<unknown, string> => Either.mapLeft(aggregate.codec.encodeState(state), formatIssue)

/**
 * The snapshot metadata the repository writes: the state Schema's fingerprint and the global position of the
 * event at the snapshot's version.
 *
 * @since 0.1.0
 */
export const snapshotMetadata = (
  aggregate: { readonly fingerprint: string },
  position: number
): Record<string, unknown> => ({ [FingerprintKey]: aggregate.fingerprint, [PositionKey]: position })

/**
 * Turn a snapshot's encoded state back into a state: check its fingerprint, migrate it from an older
 * `schemaVersion`, decode it. Never throws; anything unusable is a `Skipped` with its reason.
 *
 * @since 0.1.0
 */
export const restoreState = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  snapshot: {
    readonly schemaVersion: number
    readonly state: unknown
    readonly metadata: Readonly<Record<string, unknown>>
  }
): Either.Either<RestoredState<S>, Skipped> => {
  let encoded = snapshot.state
  let migrated = false
  if (snapshot.schemaVersion === aggregate.schemaVersion) {
    const recorded = snapshot.metadata[FingerprintKey]
    if (recorded !== undefined && recorded !== aggregate.fingerprint) {
      return Either.left({
        reason: "StaleFingerprint",
        message: `state Schema fingerprint ${String(recorded)} differs from the running ${aggregate.fingerprint}`
      })
    }
  } else if (snapshot.schemaVersion > aggregate.schemaVersion) {
    return Either.left({
      reason: "NoMigration",
      message: `schema version ${snapshot.schemaVersion} is newer than the running ${aggregate.schemaVersion}`
    })
  } else {
    for (let version = snapshot.schemaVersion; version < aggregate.schemaVersion; version++) {
      const migration = aggregate.migrations[version]
      if (migration === undefined) {
        return Either.left({
          reason: "NoMigration",
          message: `no migration from schema version ${version} (to reach ${aggregate.schemaVersion})`
        })
      }
      try {
        encoded = migration(encoded)
      } catch (cause) {
        return Either.left({
          reason: "MigrationFailed",
          message: `migration from schema version ${version} failed: ${String(cause)}`
        })
      }
    }
    migrated = true
  }
  const decoded = aggregate.codec.decodeState(encoded)
  return Either.isLeft(decoded)
    ? Either.left({ reason: "DecodeFailure", message: formatIssue(decoded.left) })
    : Either.right({ state: decoded.right, migrated })
}

/**
 * The position recorded in a snapshot's metadata, if any.
 *
 * @since 0.1.0
 */
export const recordedPosition = (metadata: Readonly<Record<string, unknown>>): Option.Option<number> => {
  const position = metadata[PositionKey]
  return typeof position === "number" ? Option.some(position) : Option.none()
}

// -----------------------------------------------------------------------------------------------------------
// fingerprint
// -----------------------------------------------------------------------------------------------------------

/**
 * A deterministic fingerprint of a Schema's encoded side: property names, optionality, literal values,
 * keyword types, tuple shapes, union members (order-insensitive), declarations by identifier. Refinements
 * and transformations do not change what a snapshot holds, so they are not part of it; annotations neither.
 *
 * @since 0.1.0
 */
export const fingerprint = <A, I, R>(schema: Schema.Schema<A, I, R>): string =>
  createHash("sha256").update(describe(schema.ast, new Map())).digest("hex").slice(0, 16)

const describe = (ast: AST.AST, seen: Map<AST.AST, number>): string => {
  switch (ast._tag) {
    case "Transformation":
      return describe(ast.from, seen)
    case "Refinement":
      return describe(ast.from, seen)
    case "Suspend": {
      const index = seen.get(ast)
      if (index !== undefined) return `#${index}`
      seen.set(ast, seen.size)
      return `suspend(${describe(ast.f(), seen)})`
    }
    case "Literal":
      return `lit(${typeof ast.literal === "bigint" ? `${ast.literal}n` : JSON.stringify(ast.literal)})`
    case "UniqueSymbol":
      return `sym(${String(ast.symbol.description)})`
    case "Enums":
      return `enums(${ast.enums.map(([, value]) => JSON.stringify(value)).sort().join(",")})`
    case "TemplateLiteral":
      return `tpl(${JSON.stringify(ast.head)},${
        ast.spans.map((span) => `${describe(span.type, seen)}${JSON.stringify(span.literal)}`).join(",")
      })`
    case "Declaration":
      return `decl(${Option.getOrElse(AST.getIdentifierAnnotation(ast), () => "?")};${
        ast.typeParameters.map((p) => describe(p, seen)).join(",")
      })`
    case "TupleType":
      return `tuple(${ast.elements.map((e) => `${describe(e.type, seen)}${e.isOptional ? "?" : ""}`).join(",")};${
        ast.rest.map((r) => describe(r.type, seen)).join(",")
      })`
    case "TypeLiteral": {
      const props = ast.propertySignatures
        .map((ps) => `${JSON.stringify(String(ps.name))}${ps.isOptional ? "?" : ""}:${describe(ps.type, seen)}`)
        .sort()
      const index = ast.indexSignatures
        .map((is) => `[${describe(is.parameter, seen)}]:${describe(is.type, seen)}`)
        .sort()
      return `{${props.join(",")};${index.join(",")}}`
    }
    case "Union":
      return `union(${ast.types.map((t) => describe(t, seen)).sort().join("|")})`
    default:
      return ast._tag
  }
}

// -----------------------------------------------------------------------------------------------------------
// compiled decoders
// -----------------------------------------------------------------------------------------------------------

/** What a compiled decoder answers for a value it does not decode (or is not sure it decodes the same way). */
const Miss: unique symbol = Symbol.for("@effect-snapshots/loader/Aggregate/Miss")
type Fast = (input: unknown) => unknown

/**
 * A decoder with the result of `ParseResult.decodeUnknownEither(schema)` for every input, built once per
 * aggregate. The AST is compiled into plain functions for the nodes whose decoding it reproduces exactly
 * (keywords, literals, refinements, transformations and declarations by their own functions, structs, arrays,
 * unions whose members accept disjoint kinds of input); any other node is decoded by Schema's own parser for
 * that node. A compiled function answers `Miss` whenever Schema's answer might differ (a failure, an effectful
 * transformation), and then the value is decoded by Schema, which also describes the failure.
 */
const compileDecoder = <A, I>(
  schema: Schema.Schema<A, I>
): (u: unknown) => Either.Either<A, ParseResult.ParseIssue> => {
  const slow = ParseResult.decodeUnknownEither(schema)
  const fast = compile(schema.ast, new Map())
  return (u) => {
    const a = fast(u)
    return a === Miss ? slow(u) : Either.right(a as A)
  }
}

const bySchema = (ast: AST.AST): Fast => {
  const parse = ParseResult.decodeUnknownEither(Schema.make(ast))
  return (u) => {
    const result = parse(u)
    return Either.isRight(result) ? result.right : Miss
  }
}

const compile = (ast: AST.AST, memo: Map<AST.AST, Fast>): Fast => {
  let fast = memo.get(ast)
  if (fast === undefined) {
    fast = compileNode(ast, memo)
    memo.set(ast, fast)
  }
  return fast
}

const hasOwn = Object.prototype.hasOwnProperty

const compileNode = (ast: AST.AST, memo: Map<AST.AST, Fast>): Fast => {
  // Parse options and decoding fallbacks set on a node change how Schema decodes it: Schema's own parser.
  if (Option.isSome(AST.getParseOptionsAnnotation(ast)) || Option.isSome(AST.getDecodingFallbackAnnotation(ast))) {
    return bySchema(ast)
  }
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string" ? u : Miss
    case "NumberKeyword":
      return (u) => typeof u === "number" ? u : Miss
    case "BooleanKeyword":
      return (u) => typeof u === "boolean" ? u : Miss
    case "UndefinedKeyword":
      return (u) => u === undefined ? u : Miss
    case "UnknownKeyword":
    case "AnyKeyword":
      return (u) => u
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal ? u : Miss
    }
    case "Refinement": {
      const from = compile(ast.from, memo)
      const filter = ast.filter
      return (u) => {
        const a = from(u)
        return a === Miss || Option.isSome(filter(a, AST.defaultParseOption, ast)) ? Miss : a
      }
    }
    case "Transformation": {
      const kind = ast.transformation
      if (kind._tag === "TypeLiteralTransformation") return bySchema(ast)
      const from = compile(ast.from, memo)
      const to = compile(ast.to, memo)
      if (kind._tag === "ComposeTransformation") {
        return (u) => {
          const a = from(u)
          return a === Miss ? Miss : to(a)
        }
      }
      const decode = kind.decode
      return (u) => {
        const a = from(u)
        if (a === Miss) return Miss
        const b: unknown = decode(a, AST.defaultParseOption, ast, u)
        return Either.isEither(b) && Either.isRight(b) ? to(b.right) : Miss
      }
    }
    case "Declaration": {
      const parse = ast.decodeUnknown(...ast.typeParameters)
      return (u) => {
        const result: unknown = parse(u, AST.defaultParseOption, ast)
        return Either.isEither(result) && Either.isRight(result) ? result.right : Miss
      }
    }
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return bySchema(ast)
      const item = compile(ast.rest[0]!.type, memo)
      return (u) => {
        if (!Array.isArray(u)) return Miss
        const out: Array<unknown> = []
        for (let i = 0; i < u.length; i++) {
          const a = item(u[i])
          if (a === Miss) return Miss
          out.push(a)
        }
        return out
      }
    }
    case "TypeLiteral": {
      const signatures = ast.propertySignatures
      if (
        ast.indexSignatures.length > 0 || signatures.length === 0 ||
        signatures.some((ps) => typeof ps.name !== "string")
      ) return bySchema(ast)
      const names = signatures.map((ps) => ps.name as string)
      const optional = signatures.map((ps) => ps.isOptional)
      const decoders = signatures.map((ps) => compile(ps.type, memo))
      const count = names.length
      return (u) => {
        if (typeof u !== "object" || u === null || Array.isArray(u)) return Miss
        const input = u as Record<string, unknown>
        const out: Record<string, unknown> = {}
        for (let i = 0; i < count; i++) {
          const name = names[i]!
          if (optional[i] && !hasOwn.call(input, name)) continue
          const a = decoders[i]!(input[name])
          if (a === Miss) return Miss
          out[name] = a
        }
        return out
      }
    }
    case "Union": {
      // Schema tries the members in an order of its own; when at most one member can accept any input,
      // the order does not matter.
      if (!disjoint(ast.types)) return bySchema(ast)
      const decoders = ast.types.map((member) => compile(member, memo))
      const count = decoders.length
      return (u) => {
        for (let i = 0; i < count; i++) {
          const a = decoders[i]!(u)
          if (a !== Miss) return a
        }
        return Miss
      }
    }
    case "Suspend": {
      let inner: Fast | undefined
      return (u) => (inner ??= compile(ast.f(), memo))(u)
    }
    default:
      return bySchema(ast)
  }
}

/** Kinds of input a node can accept when decoding: a category (`string`, `object`, ...) or a literal. */
type Kind = { readonly category: string; readonly literal?: { readonly value: unknown } }

/** Undefined: any input, as far as this analysis can tell. */
const kindsOf = (ast: AST.AST): ReadonlyArray<Kind> | undefined => {
  switch (ast._tag) {
    case "Literal":
      return [{
        category: ast.literal === null ? "null" : typeof ast.literal,
        literal: { value: ast.literal }
      }]
    case "StringKeyword":
    case "TemplateLiteral":
      return [{ category: "string" }]
    case "NumberKeyword":
      return [{ category: "number" }]
    case "BooleanKeyword":
      return [{ category: "boolean" }]
    case "UndefinedKeyword":
      return [{ category: "undefined" }]
    case "TypeLiteral":
      return ast.propertySignatures.length === 0 && ast.indexSignatures.length === 0
        ? undefined
        : [{ category: "object" }]
    case "TupleType":
      return [{ category: "array" }]
    case "Refinement":
    case "Transformation":
      return kindsOf(ast.from)
    case "Union": {
      const kinds: Array<Kind> = []
      for (const member of ast.types) {
        const memberKinds = kindsOf(member)
        if (memberKinds === undefined) return undefined
        kinds.push(...memberKinds)
      }
      return kinds
    }
    default:
      return undefined
  }
}

const overlaps = (a: Kind, b: Kind): boolean =>
  a.category === b.category &&
  (a.literal === undefined || b.literal === undefined || a.literal.value === b.literal.value)

const disjoint = (members: ReadonlyArray<AST.AST>): boolean => {
  const kinds: Array<ReadonlyArray<Kind>> = []
  for (const member of members) {
    const memberKinds = kindsOf(member)
    if (memberKinds === undefined) return false
    kinds.push(memberKinds)
  }
  for (let i = 0; i < kinds.length; i++) {
    for (let j = i + 1; j < kinds.length; j++) {
      if (kinds[i]!.some((a) => kinds[j]!.some((b) => overlaps(a, b)))) return false
    }
  }
  return true
}

/** The required string literal `_tag` a member's encoded side has, if any. */
const encodedTag = (ast: AST.AST): string | undefined => {
  switch (ast._tag) {
    case "TypeLiteral": {
      const tag = ast.propertySignatures.find((ps) => ps.name === "_tag")
      return tag !== undefined && !tag.isOptional && AST.isLiteral(tag.type) && typeof tag.type.literal === "string"
        ? tag.type.literal
        : undefined
    }
    case "Refinement":
    case "Transformation":
      return encodedTag(ast.from)
    default:
      return undefined
  }
}

/**
 * The members of an event union by their encoded `_tag`, when every member has a distinct one: then a payload
 * with a given `_tag` can only decode as that member, and its member's decoder decodes it as the union does.
 */
const membersByTag = (ast: AST.AST): ReadonlyMap<string, AST.AST> | undefined => {
  if (Option.isSome(AST.getParseOptionsAnnotation(ast)) || Option.isSome(AST.getDecodingFallbackAnnotation(ast))) {
    return undefined
  }
  const members = ast._tag === "Union" ? ast.types : [ast]
  const byTag = new Map<string, AST.AST>()
  for (const member of members) {
    const tag = encodedTag(member)
    if (tag === undefined || byTag.has(tag)) return undefined
    byTag.set(tag, member)
  }
  return byTag
}
