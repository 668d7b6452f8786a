/**
 * Aggregate definitions: a state Schema, an event Schema, a pure `evolve`, and what it takes to read old data
 * (snapshot state migrations, event upcasters). Everything here is pure; the repository does the I/O.
 *
 * Events and snapshot states are stored as JSON: the JSON form of their Schema (`Schema.toCodecJson`), which
 * for an unchanged user Schema is the JSON the Effect 3 line of this library wrote (BigDecimal and DateTimeUtc
 * as strings, Option as `{"_tag":"Some","value":...}`, optional keys left out; `Uint8Array` and `Duration` in
 * Effect 3's JSON, see `jsonCodec`).
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"
import { createHash } from "node:crypto"
import type { NewEvent, StoredEvent } from "./EventStore.js"
import * as Json from "./internal/json.js"

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
  /** The state Schema. A snapshot holds its JSON form (`jsonCodec(state)`). */
  readonly state: Schema.Codec<S, SI>
  /** The state of a stream without events. */
  readonly initial: (id: string) => S
  /** The events: a Schema (usually a union) of tagged events. The stored event type is the `_tag`. */
  readonly events: Schema.Codec<E, EI>
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
  /**
   * Fingerprints that snapshots at the current `schemaVersion` may carry and still be read as current: the
   * fingerprint an earlier build recorded for the same encoded shape, where it differs from the one computed
   * now (see `fingerprint` for the shapes this concerns). Snapshots written from now on carry the current one.
   */
  readonly compatibleFingerprints?: ReadonlyArray<string> | undefined
}

/**
 * A compiled aggregate definition. Build it once with `make`; its decoders and fingerprint are computed
 * there, not per call.
 *
 * @since 0.1.0
 */
export interface Aggregate<S, SI, E extends { readonly _tag: string }, EI> {
  readonly type: string
  readonly state: Schema.Codec<S, SI>
  readonly events: Schema.Codec<E, EI>
  readonly initial: (id: string) => S
  readonly evolve: (state: S, event: E) => S
  readonly schemaVersion: number
  readonly migrations: Readonly<Record<number, Migration>>
  readonly upcasters: Readonly<Record<string, ReadonlyArray<Upcaster>>>
  /** A deterministic fingerprint of the encoded (JSON) shape of the state Schema. */
  readonly fingerprint: string
  /**
   * Other fingerprints accepted as the current shape: `Options.compatibleFingerprints`, and the fingerprints the
   * Effect 3 line computed for the same encoded shape where they differ (see `fingerprint`).
   */
  readonly compatibleFingerprints: ReadonlyArray<string>
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

const formatter = SchemaIssue.makeFormatterDefault()

/** An issue's message, with the rejected values (parsed with `reportInput`) and cut to 1,000 characters. */
const formatIssue = (issue: SchemaIssue.Issue): string => {
  const message = formatter(issue)
  return message.length <= 1000 ? message : `${message.slice(0, 1000)}… (${message.length} characters)`
}

/**
 * The JSON codec of a Schema, as this library stores it: `Schema.toCodecJson`, except that `Schema.Uint8Array`
 * and `Schema.Duration` (with no encoding of their own) are written in the Effect 3 line's JSON (`[1,2,255]`,
 * `{"_tag":"Millis","millis":1500}`, `{"_tag":"Nanos","nanos":"1500"}`, `{"_tag":"Infinity"}`) and read in
 * that form and in Effect 4's (`"AQL/"`, `{"_tag":"Millis","value":1500}`).
 *
 * @since 0.4.0
 * @category codecs
 */
export const jsonCodec: <S, SI>(schema: Schema.Codec<S, SI>) => Schema.Codec<S, unknown> = Json.jsonCodec

/**
 * Define an aggregate.
 *
 * @example
 * ```ts
 * const Counter = Aggregate.make({
 *   type: "Counter",
 *   state: Schema.Struct({ count: Schema.Number }),
 *   initial: () => ({ count: 0 }),
 *   events: Schema.Union([Schema.TaggedStruct("Incremented", { by: Schema.Number })]),
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
  const stateJson = jsonCodec(options.state)
  const eventsJson = jsonCodec(options.events)
  const current = fingerprint(options.state)
  const byType = new Map<string, (payload: unknown) => Result.Result<E, SchemaIssue.Issue>>()
  for (const [type, member] of membersByTag(eventsJson.ast) ?? []) {
    byType.set(type, Json.jsonDecoder(Schema.make<Schema.Codec<E, unknown>>(member)))
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
    fingerprint: current,
    compatibleFingerprints: [
      ...new Set([...(options.compatibleFingerprints ?? []), ...effect3Fingerprints(options.state)])
    ].filter((f) => f !== current),
    codec: {
      decodeState: Json.jsonDecoder(stateJson),
      encodeState: Json.jsonEncoder(options.state),
      decodeEvent: Json.jsonDecoder(eventsJson),
      decodeEventOfType: (type) => byType.get(type),
      encodeEvent: Json.jsonEncoder(options.events),
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
): Result.Result<E, EventDecodeError> => {
  let payload = stored.payload
  const current = aggregate.codec.eventVersions.get(stored.type)
  if (current !== undefined) {
    const recorded = stored.metadata[EventVersionKey]
    let version = typeof recorded === "number" ? recorded : 1
    const chain = aggregate.upcasters[stored.type]!
    try {
      for (; version < current; version++) payload = chain[version - 1]!(payload)
    } catch (cause) {
      return Result.fail(decodeError(aggregate, stored, `upcaster from version ${version} failed: ${String(cause)}`))
    }
  }
  // Its own type's decoder first (no union dispatch); anything it does not decode goes through the union,
  // which says what is wrong.
  const ofType = aggregate.codec.decodeEventOfType(stored.type)
  if (ofType !== undefined) {
    const fast = ofType(payload)
    if (Result.isSuccess(fast) && fast.success._tag === stored.type) return Result.succeed(fast.success)
  }
  const decoded = aggregate.codec.decodeEvent(payload)
  if (Result.isFailure(decoded)) return Result.fail(decodeError(aggregate, stored, formatIssue(decoded.failure)))
  if (decoded.success._tag !== stored.type) {
    return Result.fail(
      decodeError(aggregate, stored, `the payload is a ${JSON.stringify(decoded.success._tag)} event`)
    )
  }
  return Result.succeed(decoded.success)
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
): Result.Result<Array<NewEvent>, EventEncodeError> => {
  const out: Array<NewEvent> = []
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!
    const encoded = aggregate.codec.encodeEvent(event)
    if (Result.isFailure(encoded)) {
      return Result.fail(
        new EventEncodeError({
          aggregateType: aggregate.type,
          aggregateId,
          index,
          eventType: String(event?._tag),
          message: formatIssue(encoded.failure)
        })
      )
    }
    const version = aggregate.codec.eventVersions.get(event._tag)
    out.push(
      version === undefined
        ? { type: event._tag, payload: encoded.success }
        : { type: event._tag, payload: encoded.success, metadata: { [EventVersionKey]: version } }
    )
  }
  return Result.succeed(out)
}

/**
 * Encode a state for a snapshot (its JSON form). A failure when the state does not encode (a bug in the state
 * or its Schema), with the message.
 *
 * @since 0.1.0
 */
export const encodeState = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  state: S
): Result.Result<unknown, string> => Result.mapError(aggregate.codec.encodeState(state), formatIssue)

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
): Result.Result<RestoredState<S>, Skipped> => {
  let encoded = snapshot.state
  let migrated = false
  if (snapshot.schemaVersion === aggregate.schemaVersion) {
    const recorded = snapshot.metadata[FingerprintKey]
    if (
      recorded !== undefined && recorded !== aggregate.fingerprint &&
      !aggregate.compatibleFingerprints.includes(recorded as string)
    ) {
      return Result.fail({
        reason: "StaleFingerprint",
        message: `state Schema fingerprint ${String(recorded)} differs from the running ${aggregate.fingerprint}`
      })
    }
  } else if (snapshot.schemaVersion > aggregate.schemaVersion) {
    return Result.fail({
      reason: "NoMigration",
      message: `schema version ${snapshot.schemaVersion} is newer than the running ${aggregate.schemaVersion}`
    })
  } else {
    for (let version = snapshot.schemaVersion; version < aggregate.schemaVersion; version++) {
      const migration = aggregate.migrations[version]
      if (migration === undefined) {
        return Result.fail({
          reason: "NoMigration",
          message: `no migration from schema version ${version} (to reach ${aggregate.schemaVersion})`
        })
      }
      try {
        encoded = migration(encoded)
      } catch (cause) {
        return Result.fail({
          reason: "MigrationFailed",
          message: `migration from schema version ${version} failed: ${String(cause)}`
        })
      }
    }
    migrated = true
  }
  const decoded = aggregate.codec.decodeState(encoded)
  return Result.isFailure(decoded)
    ? Result.fail({ reason: "DecodeFailure", message: formatIssue(decoded.failure) })
    : Result.succeed({ state: decoded.success, migrated })
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
 * A deterministic fingerprint of a Schema's encoded (JSON) shape: property names, optionality, literal values,
 * primitive types, tuple shapes, union members (order-insensitive), declarations by identifier. Checks
 * (refinements) and transformations do not change what a snapshot holds, so they are not part of it;
 * annotations neither.
 *
 * The fingerprint is the first 16 hex digits of the SHA-256 of a canonical description of that shape, written
 * in a small language of its own (format 1, below), which is not the text of any Schema AST: a Schema that
 * encodes to the same JSON shape gets the same fingerprint under any version of Effect. Format 1 is the one
 * the Effect 3 line of this library wrote, so snapshots written by it keep their fingerprint:
 *
 * - `StringKeyword`, `NumberKeyword`, `BooleanKeyword`, `BigIntKeyword`, `SymbolKeyword`, `ObjectKeyword`,
 *   `UndefinedKeyword`, `VoidKeyword`, `NeverKeyword`, `UnknownKeyword`, `AnyKeyword`: the primitives;
 * - `lit(<JSON>)` (`lit(null)` for null, `lit(<n>n)` for a bigint), `sym(<description>)`,
 *   `enums(<sorted JSON values>)`, `tpl(<head JSON>,<type><literal JSON>,...)`;
 * - `{"name":type,"optional"?:type,...;[key]:type,...}` with both lists sorted;
 * - `tuple(type,optional?,...;rest,...)`, `union(sorted members|...)`, `suspend(...)` with `#<n>` for a
 *   repeated suspended schema (numbered in order of first visit), `decl(<identifier>;<type parameters>)` for a
 *   declaration with no JSON form.
 *
 * A declaration with a JSON form (BigDecimal, DateTimeUtc, Option, a Class) is described by that form. A
 * union that admits `undefined` next to a member union that admits it too is described without the outer
 * `undefined` (Effect 4's `optional(X).pipe(withDecodingDefault(...))` encodes as `X | undefined | undefined`,
 * Effect 3's `optionalWith(X, { default })` as `X | undefined`); `BigInt` and `Symbol` are `StringKeyword`,
 * their JSON form.
 *
 * `Schema.Uint8Array` and `Schema.Duration` are described by the JSON the Effect 3 line wrote for them (and
 * the library still writes, see `jsonCodec`), so their fingerprints are Effect 3's.
 *
 * Two Effect 3 spellings nest differently from their Effect 4 spelling: `optionalWith(X, { nullable: true })`
 * (Effect 3 described `X | null | undefined` as one flat union; Effect 4's `optional(NullOr(X))` nests
 * `X | null`) and a `Literal` with `null` among its values (Effect 4's `Literals` takes no `null`;
 * `NullOr(Literals([...]))` nests). `fingerprint` answers the nested form (which is also what Effect 3's
 * `NullOr(Literal(...))` gave); `make` accepts the flat forms' fingerprints too (`Aggregate.compatibleFingerprints`),
 * so snapshots written by the Effect 3 line restore as current. A state mixing both Effect 3 spellings of a
 * nullable literal union (`Literal("a", "b", null)` in one place, `NullOr(Literal("a", "b"))` in another) still
 * needs its old fingerprint in `Options.compatibleFingerprints`.
 *
 * @since 0.1.0
 */
export const fingerprint = (schema: { readonly ast: AST.AST }): string =>
  createHash("sha256").update(describeShape(schema)).digest("hex").slice(0, 16)

/**
 * The canonical description (format 1) that `fingerprint` hashes.
 *
 * @since 0.4.0
 * @category fingerprint
 */
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

/** The fingerprints the Effect 3 line may have written for this encoded shape (the current one included). */
const effect3Fingerprints = (schema: { readonly ast: AST.AST }): ReadonlyArray<string> =>
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

// -----------------------------------------------------------------------------------------------------------
// event decoders by type
// -----------------------------------------------------------------------------------------------------------

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
