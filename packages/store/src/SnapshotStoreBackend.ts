/**
 * A narrow backend for the SnapshotStore: a few primitive operations on rows that were already checked, and
 * one `make` that puts the store's logic on top of them once — input checks, encoding (for a backend that
 * stores text: `makeEncoded`), the unit-of-work policy, error reasons, spans and failure metrics. The memory,
 * Redis and SQL stores are built this way; a backend of one's own is too:
 *
 * ```ts
 * const store = SnapshotStoreBackend.makeEncoded({ name: "mine", transactions: "outside", insert, ... })
 * ```
 *
 * @since 1.1.0
 */
import type * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/backend.js"
import type { Snapshot, SnapshotInfo, SnapshotKey } from "./Snapshot.js"
import type { SaveIfDueResult, SnapshotStoreService } from "./SnapshotStore.js"
import type { SnapshotStoreError } from "./SnapshotStoreError.js"

/**
 * Retention as a backend receives it: checked, and the age already turned into a cutoff (epoch millis, from
 * Effect's `Clock`): a snapshot past the `keepLast` newest of its aggregate is deleted when there is no cutoff,
 * or when it was created before it.
 *
 * @since 1.1.0
 * @category models
 */
export interface PruneRequest {
  readonly keepLast: number
  readonly cutoff: number | undefined
  readonly aggregateType: string | undefined
}

/**
 * The primitive operations, on the rows of a backend (`Row`, `Info`) and its failure `E`. Arguments are
 * checked before a backend sees them: keys are storable, versions are integers in range.
 *
 * @since 1.1.0
 * @category models
 */
export interface Operations<Row, Info, E> {
  /** A short name for spans and metrics (`memory`, `redis`, `sql`). */
  readonly name: string
  /**
   * `join`: writes take part in the caller's unit of work (the memory store keeps them the unit's until it commits).
   * `outside`: the backend is in no transaction: inside a unit of work a write waits for the commit
   * (`UnitOfWork.Unit.afterCommit`), inside a bare SQL transaction it is refused (`InvalidInput`, nothing
   * written), since nothing says whether that transaction commits. Deletions run at once everywhere: losing a
   * snapshot costs a replay, never a wrong state.
   */
  readonly transactions: "join" | "outside"
  /**
   * The time a snapshot saved now would be stamped with, when the backend stamps `createdAt` itself (the SQL
   * store stamps the database's `now()`); the store's `now`. Absent: the snapshot's own `createdAt` is stored.
   */
  readonly now?: Effect.Effect<DateTime.Utc> | undefined
  /** Store the row unless its aggregate has that version already (idempotent). */
  readonly insert: (row: Row) => Effect.Effect<void, E>
  /** Atomically: `AlreadyCovered` if the aggregate has a version >= `dueFrom`, else `insert`. */
  readonly insertIfDue: (row: Row, dueFrom: number) => Effect.Effect<SaveIfDueResult, E>
  /** The newest row of an aggregate, at or below `maxVersion` when given. */
  readonly newest: (
    aggregateType: string,
    aggregateId: string,
    maxVersion: number | undefined
  ) => Effect.Effect<Option.Option<Row>, E>
  /** An aggregate's history without states, oldest first. */
  readonly history: (aggregateType: string, aggregateId: string) => Effect.Effect<ReadonlyArray<Info>, E>
  /** Delete one version, or every version; answers how many rows went. */
  readonly remove: (aggregateType: string, aggregateId: string, version: number | undefined) => Effect.Effect<number, E>
  /** The most recently created row of a type (then the higher version, then the higher id). */
  readonly latestOfType: (aggregateType: string) => Effect.Effect<Option.Option<Row>, E>
  /** Every aggregate key with at least one row, of one type when given, in (type, id) order. */
  readonly keys: (aggregateType: string | undefined) => Stream.Stream<SnapshotKey, E>
  /** Retention; answers how many rows went. */
  readonly prune: (request: PruneRequest) => Effect.Effect<number, E>
}

/**
 * A backend that holds `Snapshot` values as they are (the memory store keeps states by reference).
 *
 * @since 1.1.0
 * @category models
 */
export type Backend = Operations<Snapshot, SnapshotInfo, SnapshotStoreError>

/**
 * A stored state: JSON text, or the bytes of a state the `compressed` decorator compressed.
 *
 * @since 1.1.0
 * @category models
 */
export type EncodedState =
  | { readonly encoding: "json"; readonly json: string }
  | { readonly encoding: "gzip" | "brotli"; readonly bytes: Uint8Array }

/**
 * A snapshot's history entry as text and numbers: `createdAt` in epoch millis, `metadata` a JSON object's text.
 *
 * @since 1.1.0
 * @category models
 */
export interface EncodedInfo {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly version: number
  readonly schemaVersion: number
  readonly createdAt: number
  readonly metadata: string
}

/**
 * A snapshot as text and bytes, as a backend that stores text (Redis, SQL) writes it.
 *
 * @since 1.1.0
 * @category models
 */
export interface EncodedSnapshot extends EncodedInfo {
  readonly state: EncodedState
}

/**
 * A backend on encoded rows. Its failures `E` are the backend's own (a client error): `makeEncoded` reports them
 * with `toError` when given (a SQL backend would classify by SQLSTATE), else as `Unavailable` (a `SnapshotStoreError`
 * passes as it is); a row that does not decode is `Corrupt`.
 *
 * @since 1.1.0
 * @category models
 */
export interface Encoded<E> extends Operations<EncodedSnapshot, EncodedInfo, E> {
  readonly toError?: ((operation: string, error: E) => SnapshotStoreError) | undefined
}

/**
 * The store on a backend: checks every input once (the same checks and messages for every backend, `InvalidInput`
 * before anything is written), applies the backend's unit-of-work policy, gives each call a span
 * (`SnapshotStore.<operation>`, attributes `backend`, `aggregate_type`, `aggregate_id`) and counts failures in
 * `failures`.
 *
 * @since 1.1.0
 * @category constructors
 */
export const make: (backend: Backend) => SnapshotStoreService = internal.make

/**
 * The store on an encoded backend: `make` plus encoding (JSON text, compressed bytes, millis) and decoding, where
 * a row that does not decode is `Corrupt` and a failure of the backend is `Unavailable`.
 *
 * @since 1.1.0
 * @category constructors
 */
export const makeEncoded: <E>(backend: Encoded<E>) => SnapshotStoreService = internal.makeEncoded

/**
 * An encoded snapshot as the store answers it (JSON parsed, `createdAt` from millis, compressed bytes as a
 * `CompressedState`); a row that does not decode is `Corrupt`. For a backend that also reads rows on a path of
 * its own (the SQL store's one-statement cold read).
 *
 * @since 1.1.0
 * @category encoding
 */
export const decode: (row: EncodedSnapshot) => Effect.Effect<Snapshot, SnapshotStoreError> = internal.decode

/**
 * Counts the failures of stores built by `make`, tagged `backend`, `operation` and `reason`.
 *
 * @since 1.1.0
 * @category metrics
 */
export const failures: Metric.Counter<number> = internal.failures
