/**
 * The EventStore on PostgreSQL (13 or newer, or PGlite) through `effect/sql`'s `SqlClient`.
 *
 * - One table of events; the unique key (aggregate_type, aggregate_id, version) decides every race, so two
 *   writers at the same version can never both commit (no check-then-insert).
 * - `append` is ONE statement (one round trip): an `INSERT ... SELECT` guarded by the stream's current
 *   version, so a stale or gapped `expectedVersion` inserts nothing and answers the actual version at once.
 *   One event is a single-row INSERT sent as a statement (Effect's driver prepares it); a batch runs inside a
 *   PL/pgSQL function (`<table>_append`, created by the migrations), whose plan Postgres keeps per session. Inside a caller's transaction it runs under a savepoint, so
 *   a lost race leaves that transaction usable. Inside a transaction of another client only (another pool:
 *   `effect/sql`'s transactions are per client) it is refused with an `InvalidInput` `EventStoreError`: the
 *   events would commit on their own and outlive that transaction's rollback.
 * - `read` pages by keyset (`version > last ORDER BY version LIMIT pageSize`) and emits each page as one
 *   chunk: bounded memory for any stream length, and exactly one query when the range fits in one page.
 * - `readAll` never skips an event that commits late (see `ReadAllOptions` in EventStore for the order).
 * - Its own migrations, tracked in their own table (`effect_snapshots_event_migrations`, or
 *   `<table>_migrations` for a custom table), serialized by an advisory lock so processes may start at once.
 * - On Citus (`distributed: true`) the table is hash-distributed by `aggregate_id`, colocated with the
 *   snapshots table; appends go to the stream's shard and `readAll` is refused (see `Options.distributed`).
 *
 * @since 0.1.0
 */
import type { BadArgument } from "@effect-snapshots/core/BadArgument"
import { ColdRead } from "@effect-snapshots/loader/ColdRead"
import type { EventStoreError, EventStoreService, StoredEvent } from "@effect-snapshots/loader/EventStore"
import { EventStore } from "@effect-snapshots/loader/EventStore"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as coldRead from "./internal/coldRead.js"
import * as internal from "./internal/sqlEventStore/store.js"
import * as SqlSnapshotStore from "./SqlSnapshotStore.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /**
   * The events table (default `effect_snapshots_events`), created in the connection's current schema. A plain
   * identifier: letters, digits and `_`, at most 40 characters. Its migrations are tracked in
   * `<table>_migrations` (`effect_snapshots_event_migrations` for the default table).
   */
  readonly table?: string | undefined
  /** How many events one page of `read` / `readAll` fetches and emits as one chunk (default 1000). */
  readonly pageSize?: number | undefined
  /**
   * Citus: distribute the table by `aggregate_id` (hash, Citus' default colocation group, which the snapshots
   * table of `SqlSnapshotStore.layerWith({ distributed: true })` joins too: both distribution columns are
   * `text COLLATE "C"`), and append through a function that Citus delegates to the worker holding the
   * stream's shard (one worker, no two-phase commit). The layer must connect to the coordinator, where the
   * `citus` extension is installed; otherwise building it fails with an `EventStoreError`.
   *
   * What changes: positions stay unique but are only ordered within a stream (each node numbers from its own
   * range), and `readAll` fails with an `EventStoreError` (its cursor compares transaction ids, which each
   * node counts on its own). A table found distributed is treated this way even without the option.
   */
  readonly distributed?: boolean | undefined
}

/**
 * The default table name.
 *
 * @since 0.1.0
 */
export const defaultTable: typeof internal.defaultTable = internal.defaultTable

/**
 * Builds the store on the `SqlClient` in context and runs its migrations first. The layers also provide the
 * repository's one-statement cold read (`ColdRead`); a store built here has none.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<EventStoreService, EventStoreError | BadArgument, SqlClient.SqlClient> =>
  Effect.map(internal.build(options), (built) => built.service)

/**
 * What a store built by the layers tells a reader on the same client, so that the reader can read a stream's
 * events inside a statement of its own (the repository's cold load reads the newest snapshot and the event
 * tail in one statement).
 *
 * @since 0.2.0
 * @category models
 */
export interface SqlSource {
  /** The client the store was built on, as found in context (compare by identity). */
  readonly client: SqlClient.SqlClient
  /** The client the store runs its statements on (without name transforms). */
  readonly sql: SqlClient.SqlClient
  /** The events table, quoted. */
  readonly table: string
  /** The columns of one event, as `read` selects them from `table` (types: `columnTypes`). */
  readonly columns: string
  readonly columnTypes: ReadonlyArray<string>
  /** The key check of `read`: the problem with a key `read` refuses, or undefined. */
  readonly checkKey: (aggregateType: string, aggregateId: string) => string | undefined
  /** The events in rows of `columns` starting at column `offset`, as `read` would answer them. */
  readonly toEvents: (
    aggregateType: string,
    aggregateId: string,
    rows: ReadonlyArray<ReadonlyArray<unknown>>,
    offset: number
  ) => Effect.Effect<Array<StoredEvent>, EventStoreError>
  /** The error of a failed statement, as the store reports it. */
  readonly unavailable: (message: string) => (cause: SqlError) => EventStoreError
}

/**
 * The `SqlSource` of the store `layer` / `layerWith` built, provided beside it.
 *
 * @since 1.1.0
 * @category services
 */
export class Source extends Context.Service<Source, SqlSource>()("@effect-snapshots/sql/SqlEventStore/Source") {}

/**
 * The text of the repository's one-statement cold read of `events` with `snapshots`' newest row, with parameters
 * $1 (aggregate type), $2 (aggregate id) and $3 (page size): for a look at its plan.
 *
 * @since 1.1.0
 * @category models
 */
export const coldReadStatement: (events: SqlSource, snapshots: SqlSnapshotStore.SqlSource) => string =
  coldRead.statement

/** The store and, beside it, its source and its cold read. */
const layerOf = (options: Options) =>
  Layer.effectContext(
    Effect.map(
      internal.build(options),
      ({ service, source }) =>
        Context.make(EventStore, service).pipe(
          Context.add(Source, source),
          Context.add(ColdRead, coldRead.make(source, service, Effect.serviceOption(SqlSnapshotStore.Source)))
        )
    )
  )

/**
 * The EventStore on the `SqlClient` in context, with the default table and page size.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore | ColdRead | Source, EventStoreError | BadArgument, SqlClient.SqlClient> =
  layerOf({})

/**
 * The EventStore with a custom table and/or page size.
 *
 * @since 0.1.0
 */
export const layerWith = (
  options: Options
): Layer.Layer<EventStore | ColdRead | Source, EventStoreError | BadArgument, SqlClient.SqlClient> => layerOf(options)
