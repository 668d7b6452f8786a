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
      decodeState: ParseResult.decodeUnknownEither(options.state),
      encodeState: ParseResult.encodeEither(options.state),
      decodeEvent: ParseResult.decodeUnknownEither(options.events),
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
