/**
 * Aggregate definitions: a state Schema, an event Schema, a pure `evolve`, and what it takes to read old data
 * (snapshot state migrations, see `Migration`; event upcasters). Everything here is pure; the repository does
 * the I/O. The parts live in `internal/`: `codec` and `json` (the JSON codecs), `events` (upcasting, decoding and
 * encoding events), `migration` (restoring a snapshot's state), `fingerprint` (the state Schema's fingerprint).
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
import type * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import type { NewEvent, StoredEvent } from "./EventStore.js"
import * as Codecs from "./internal/codec.js"
import * as Events from "./internal/events.js"
import type { EventDecodeError, EventEncodeError } from "./internal/events.js"
import * as Fingerprint from "./internal/fingerprint.js"
import * as Json from "./internal/json.js"
import * as Migrations from "./internal/migration.js"
import { type Chain, type CheckOptions, type Encoded, isChain } from "./Migration.js"

/**
 * The metadata key under which an event's payload version is recorded (absent = version 1).
 *
 * @since 0.1.0
 */
export const EventVersionKey: "eventVersion" = Events.eventVersionKey

/**
 * The snapshot metadata key holding the fingerprint of the state Schema that wrote the snapshot.
 *
 * @since 0.1.0
 */
export const FingerprintKey: "fingerprint" = Migrations.fingerprintKey

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
 * @deprecated Declare typed migrations with `Migration.from(version, schema).pipe(Migration.to(...))`: each step
 * is type-checked, and a state that does not fit its version's Schema is a failed migration. An untyped record
 * of these functions is still accepted as `Options.migrations` (and checked the same way).
 * @since 0.1.0
 */
export type Migration = Encoded

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
  /**
   * The version of the state's shape, recorded in every snapshot (default: where `migrations` ends when it is a
   * `Migration.Chain`, else 1). A repository refuses a definition whose chain ends elsewhere.
   */
  readonly schemaVersion?: number | undefined
  /**
   * Snapshot migrations: a typed chain, `Migration.from(1, StateV1).pipe(Migration.to(State, (v1) => ...))`,
   * ending at this aggregate's state type. Deprecated but still accepted: untyped functions keyed by the version
   * they migrate FROM, `{ 1: (v1) => v2, 2: (v2) => v3 }` (JSON in, JSON out). A snapshot with no path to
   * `schemaVersion` is skipped and the aggregate is rebuilt by replay.
   */
  readonly migrations?: Chain<NoInfer<S>> | Readonly<Record<number, Encoded>> | undefined
  /** How much a repository checks migrated states against a full replay (see `Migration.CheckOptions`). */
  readonly migrationCheck?: CheckOptions | undefined
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
  /** The migrations as JSON-in, JSON-out functions keyed by the version they migrate from (a chain compiled). */
  readonly migrations: Readonly<Record<number, Encoded>>
  /** Where a typed chain of migrations ends (undefined for none, or the untyped form). */
  readonly migrationsTo: number | undefined
  /** `Options.migrationCheck` with its defaults. */
  readonly migrationCheck: { readonly share: number; readonly firstLoads: number }
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
export type Codec<S, E> = Codecs.Codec<S, E>

export {
  /**
   * A stored event could not be read as an event of the aggregate: the stream is corrupt (a bad payload, an
   * unknown type, a missing upcaster, or a gap in its versions). This is not a snapshot problem: no replay can
   * fix it.
   *
   * @since 0.1.0
   * @category errors
   */
  EventDecodeError,
  /**
   * Events given to `save` do not encode with the aggregate's event Schema; nothing was written.
   *
   * @since 0.1.0
   * @category errors
   */
  EventEncodeError
} from "./internal/events.js"

/**
 * Why a stored snapshot was not used:
 * - `StaleFingerprint`: written at the current `schemaVersion` by a state Schema of another shape.
 * - `NoMigration`: written at a `schemaVersion` with no migration path to the current one.
 * - `MigrationFailed`: a migration threw, or (typed migrations) the state did not decode with the Schema of its
 *   version, or the migrated one did not encode with the next.
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
  /**
   * Whether the state came through migrations (its snapshot should be re-saved at the current version, once the
   * repository's migration check passed).
   */
  readonly migrated: boolean
}

/**
 * @since 0.1.0
 */
export interface Skipped {
  readonly reason: SkipReason
  readonly message: string
}

const formatIssue = Json.formatIssue

/** The default share of loads through a migration that are checked against a full replay. */
const defaultCheckShare = 0.01
/** The default number of first loads through each migration that are always checked. */
const defaultCheckFirstLoads = 100

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
  const current = fingerprint(options.state)
  const chainEnd = isChain(options.migrations) ? options.migrations.toVersion : undefined
  const schemaVersion = options.schemaVersion ?? chainEnd ?? 1
  const migrations = Migrations.compile(options.migrations, schemaVersion, isChain)
  return {
    type: options.type,
    state: options.state,
    events: options.events,
    initial: options.initial,
    evolve: options.evolve,
    schemaVersion,
    migrations: migrations.functions,
    migrationsTo: migrations.toVersion,
    migrationCheck: {
      share: options.migrationCheck?.share ?? defaultCheckShare,
      firstLoads: options.migrationCheck?.firstLoads ?? defaultCheckFirstLoads
    },
    upcasters,
    fingerprint: current,
    compatibleFingerprints: [
      ...new Set([...(options.compatibleFingerprints ?? []), ...Fingerprint.effect3Fingerprints(options.state)])
    ].filter((f) => f !== current),
    codec: Codecs.make(options.state, options.events, upcasters, migrations.migrate)
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
export const decodeEvent: <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  stored: StoredEvent
) => Result.Result<E, EventDecodeError> = Events.decodeEvent

/**
 * Encode a batch of events for `EventStore.append`. Fails on the first event that does not encode.
 *
 * @since 0.1.0
 */
export const encodeEvents: <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  aggregateId: string,
  events: ReadonlyArray<E>
) => Result.Result<Array<NewEvent>, EventEncodeError> = Events.encodeEvents

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
export const restoreState: <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  snapshot: {
    readonly schemaVersion: number
    readonly state: unknown
    readonly metadata: Readonly<Record<string, unknown>>
  }
) => Result.Result<RestoredState<S>, Skipped> = Migrations.restoreState

/**
 * The position recorded in a snapshot's metadata, if any.
 *
 * @since 0.1.0
 */
export const recordedPosition = (metadata: Readonly<Record<string, unknown>>): Option.Option<number> => {
  const position = metadata[PositionKey]
  return typeof position === "number" ? Option.some(position) : Option.none()
}

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
export const fingerprint: (schema: { readonly ast: AST.AST }) => string = Fingerprint.fingerprint

/**
 * The canonical description (format 1) that `fingerprint` hashes.
 *
 * @since 0.4.0
 * @category fingerprint
 */
export const describeShape: (schema: { readonly ast: AST.AST }) => string = Fingerprint.describeShape
