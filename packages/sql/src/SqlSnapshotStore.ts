/**
 * A SnapshotStore on `effect/sql`'s `SqlClient` (Postgres): one table keyed by (aggregate_type,
 * aggregate_id, version), created by its own Migrator run (under an advisory lock, `SqlSupport.migrate`) when
 * the layer is built. It is a `SnapshotStoreBackend` of primitive statements; `SnapshotStoreBackend.makeEncoded`
 * adds the input checks, encoding, error reasons, spans and failure metrics every store shares. Its writes join
 * the caller's transaction, each statement under a savepoint. Inside a transaction of another client only
 * (another pool: `effect/sql`'s transactions are per client), `save`, `delete` and `prune` are refused with an
 * `InvalidInput` error and write nothing (they would commit before that transaction's outcome is known); reads
 * run outside it.
 *
 * @since 0.1.0
 */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import type { Snapshot } from "@effect-snapshots/store/Snapshot"
import { SnapshotStore } from "@effect-snapshots/store/SnapshotStore"
import type { SnapshotStoreService } from "@effect-snapshots/store/SnapshotStore"
import * as SnapshotStoreBackend from "@effect-snapshots/store/SnapshotStoreBackend"
import type { SnapshotStoreError } from "@effect-snapshots/store/SnapshotStoreError"
import * as SnapshotStoreErrors from "@effect-snapshots/store/SnapshotStoreError"
import * as Storable from "@effect-snapshots/store/Storable"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as backend from "./internal/sqlSnapshotStore/backend.js"
import * as rows from "./internal/sqlSnapshotStore/rows.js"
import * as schema from "./internal/sqlSnapshotStore/schema.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The table, optionally schema-qualified (`"snapshots"`, `"app.snapshots"`); default `"effect_snapshots"`.
   * Its migrations are tracked in `<table>_migrations` (in lower case), never in `effect/sql`'s default
   * `effect_sql_migrations`, so the store's migrations cannot collide with the application's.
   */
  readonly table?: string | undefined
  /** How many keys `aggregates` reads per query (keyset pagination); default 1000. */
  readonly pageSize?: number | undefined
  /**
   * Citus: hash-distribute the table by `aggregate_id` once, after the migrations, in Citus' default colocation
   * group, which `SqlEventStore.layerWith({ distributed: true })` puts the events table in too (both
   * distribution columns are `text COLLATE "C"`), so a stream's events and snapshots share a shard. The layer
   * must connect to the coordinator, with the `citus` extension installed; otherwise building it fails.
   */
  readonly distributed?: boolean | undefined
  /**
   * Which clock stamps `created_at`. `"database"` (default) stores the database's `now()` (the transaction's
   * start) instead of the snapshot's own `createdAt`, so the snapshots of every instance are stamped by one
   * clock whatever theirs say; `load`, `list` and `latestForType` return the database's time, and the store's
   * `now` tells callers (the repository's `afterDuration` decisions) the database's time, so that an instance
   * whose clock is off still compares like with like. `"application"` stores the snapshot's own `createdAt`
   * (the instance's clock, or an imported time) and has no `now`. `"snapshot"` is the old name of
   * `"application"`.
   */
  readonly clock?: "database" | "application" | "snapshot" | undefined
}

/**
 * The default table name.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTable = "effect_snapshots"

/**
 * What a store built by the layers tells a reader on the same client, so that the reader can fetch the newest
 * snapshot inside a statement of its own (the repository's cold load reads it and the event tail in one
 * statement). Decorated stores have none: a reader then calls `load`.
 *
 * @since 0.2.0
 * @category models
 */
export interface SqlSource {
  /** The store it describes: a reader uses it only for that very store (a decorated one is another). */
  readonly store: SnapshotStoreService
  /** The client the store was built on, as found in context (compare by identity). */
  readonly client: SqlClient.SqlClient
  /**
   * The newest snapshot of one aggregate, as a SELECT taking the type and id as the given placeholders; its
   * columns are `columnTypes`, `version` among them.
   */
  readonly newestSql: (typeParam: string, idParam: string) => string
  /** The Postgres types of the columns `newestSql` selects, in order. */
  readonly columnTypes: ReadonlyArray<string>
  /** The key check of `load`: the problem with a key `load` refuses, or undefined. */
  readonly checkKey: (aggregateType: string, aggregateId: string) => string | undefined
  /**
   * The snapshot in the columns of one row of `newestSql` that start at `offset`, and the size of its stored
   * state in bytes (its JSON text, or its compressed bytes), as `load` would answer it.
   */
  readonly decode: (
    aggregateType: string,
    aggregateId: string,
    row: ReadonlyArray<unknown>,
    offset: number
  ) => Effect.Effect<{ readonly snapshot: Snapshot; readonly stateBytes: number }, SnapshotStoreError>
}

/**
 * The `SqlSource` of the store `layer` / `layerWith` built, provided beside it. A decorator's layer provides the
 * inner layer to its own (`Layer.provide`), so a decorated store comes without it.
 *
 * @since 1.1.0
 * @category services
 */
export class Source extends Context.Service<Source, SqlSource>()("@effect-snapshots/sql/SqlSnapshotStore/Source") {}

const makeSource = (store: SnapshotStoreService, client: SqlClient.SqlClient, table: string): SqlSource => {
  const quoted = schema.quotedTable(table)
  return {
    store,
    client,
    newestSql: (typeParam, idParam) =>
      `SELECT ${rows.sourceColumns} FROM ${quoted}
WHERE aggregate_type = ${typeParam} AND aggregate_id = ${idParam} ORDER BY version DESC LIMIT 1`,
    columnTypes: rows.sourceColumnTypes,
    checkKey: Storable.keyProblem,
    decode: (aggregateType, aggregateId, row, offset) =>
      rows.decodeSnapshotRow({
        aggregate_type: aggregateType,
        aggregate_id: aggregateId,
        version: row[offset],
        schema_version: row[offset + 1],
        created_at: row[offset + 2],
        metadata: row[offset + 3],
        encoding: row[offset + 4],
        state: row[offset + 5],
        state_bytes: row[offset + 6]
      }).pipe(
        Effect.mapError(SnapshotStoreErrors.fromSchemaError("load")),
        Effect.flatMap((decoded) =>
          rows.toSnapshot(decoded).pipe(
            Effect.flatMap(SnapshotStoreBackend.decode),
            Effect.map((snapshot) => ({ snapshot, stateBytes: rows.stateBytes(decoded) }))
          )
        )
      )
  }
}

const badArgument = (message: string) => new BadArgument({ module: "SqlSnapshotStore.layerWith", message })

const identifier = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/

const build: (
  options?: Options
) => Effect.Effect<
  { readonly service: SnapshotStoreService; readonly source: SqlSource },
  SnapshotStoreError | BadArgument,
  SqlClient.SqlClient
> = Effect.fn("SqlSnapshotStore.make")(function*(options: Options = {}) {
  const table = options.table ?? defaultTable
  if (!identifier.test(table)) {
    return yield* badArgument(
      `table must be an identifier, optionally schema-qualified, got ${Storable.show(String(table))}`
    )
  }
  const pageSize = options.pageSize ?? 1000
  const clock = options.clock ?? "database"
  if (clock !== "database" && clock !== "application" && clock !== "snapshot") {
    return yield* badArgument(`clock must be "database" or "application", got ${Storable.show(String(clock))}`)
  }
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    return yield* badArgument(`pageSize must be an integer >= 1, got ${String(pageSize)}`)
  }
  const client = yield* SqlClient.SqlClient
  const sql = client.withoutTransforms()
  if (options.distributed === true) yield* schema.checkCoordinator(sql, table)
  yield* schema.migrate(sql, table)
  if (options.distributed === true) yield* schema.distribute(sql, table)
  const service = SnapshotStoreBackend.makeEncoded(
    backend.make(sql, { table, pageSize, databaseClock: clock === "database" })
  )
  return { service, source: makeSource(service, client, table) }
})

/**
 * Builds the store on the `SqlClient` in context: runs the migrations (creating the table and its index
 * if needed), then answers the service. Queries run without the client's name transforms.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<SnapshotStoreService, SnapshotStoreError | BadArgument, SqlClient.SqlClient> =>
  Effect.map(build(options), (built) => built.service)

/**
 * The store as a layer with options; building it runs the migrations.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<SnapshotStore | Source, SnapshotStoreError | BadArgument, SqlClient.SqlClient> =>
  Layer.effectContext(
    Effect.map(build(options), ({ service, source }) =>
      Context.make(SnapshotStore, service).pipe(Context.add(Source, source)))
  )

/**
 * The store on the default table `effect_snapshots`; building it runs the migrations.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SnapshotStore | Source, SnapshotStoreError | BadArgument, SqlClient.SqlClient> =
  layerWith({})
