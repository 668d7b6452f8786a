/**
 * The cold load's first read in one statement: when the event store and the snapshot store are the SQL stores
 * on one client, the newest snapshot row and the first page of events from its version come back together
 * (a CTE with `UNION ALL`). Without a snapshot the page is the stream's first.
 *
 * The SQL event store's layers provide `ColdRead`, and the SQL snapshot store's layers provide
 * `SqlSnapshotStore.Source`; the repository finds both with `Effect.serviceOption` and uses them only for the
 * very stores it was given, on one client. Any other pair of stores has no cold read, and the repository calls
 * the two services: memory stores, stores on two clients, and a decorated snapshot store (`compressed`,
 * `resilient`, ...): a decorator wraps `load` (a timeout, a retry, a circuit breaker, metrics) and a statement of
 * the repository's own would go around it, so a decorated store keeps its two calls. (The SQL store's own
 * compressed rows inflate on the one-statement path too: the store's `decode` reads them.)
 *
 * @internal
 */
import type { Snapshot, SnapshotStore, SnapshotStoreError } from "@effect-snapshots/store"
import { SqlSnapshotStore, Storable } from "@effect-snapshots/store"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as SqlClient from "effect/sql/SqlClient"
import type { EventStoreError, EventStoreService, StoredEvent } from "../EventStore.js"
import type { SqlSource as EventSource } from "../SqlEventStore.js"

/** What the one statement answered. @internal */
export interface ColdRows {
  /** The newest snapshot as the snapshot store's `load` would have answered it. */
  readonly snapshot: Result.Result<Option.Option<Snapshot.Snapshot>, SnapshotStoreError.SnapshotStoreError>
  /** The size of the stored state in bytes (0 without a snapshot). */
  readonly stateBytes: number
  /** The events from the snapshot's version (from version 1 without one), at most a page, in version order. */
  readonly events: ReadonlyArray<StoredEvent>
}

/**
 * Reads one aggregate; none when the key is one the stores refuse (the two-call path reports that).
 *
 * @internal
 */
export type Read = (
  aggregateType: string,
  aggregateId: string,
  pageSize: number
) => Effect.Effect<Option.Option<ColdRows>, EventStoreError>

/**
 * The cold read of a SQL event store, provided by `SqlEventStore.layer` / `layerWith` beside the `EventStore`.
 *
 * @since 1.1.0
 * @category models
 */
export interface ColdReadService {
  /** The event store it reads for: the repository uses it only together with that very store. */
  readonly events: EventStoreService
  /** The client the event store was built on (a snapshot store on another client cannot join the statement). */
  readonly client: SqlClient.SqlClient
  /** The statement that reads this store's events with `snapshots`' newest row. */
  readonly with: (snapshots: SqlSnapshotStore.SqlSource) => Read
  /** Its text, with parameters $1 (aggregate type), $2 (aggregate id) and $3 (page size). */
  readonly statement: (snapshots: SqlSnapshotStore.SqlSource) => string
}

/**
 * The optional one-statement cold read of the SQL stores: `SqlEventStore`'s layers provide it, and
 * `EventSourcedRepository.make` looks for it with `Effect.serviceOption`.
 *
 * @since 1.1.0
 * @category services
 */
export class ColdRead extends Context.Service<ColdRead, ColdReadService>()("@effect-snapshots/loader/ColdRead") {}

const nulls = (types: ReadonlyArray<string>): string => types.map((type) => `NULL::${type}`).join(", ")

/**
 * The one statement, with parameters $1 (aggregate type), $2 (aggregate id) and $3 (page size). Rows: kind (0
 * snapshot, 1 event), the event's columns, the snapshot's columns. Every branch filters on one
 * `aggregate_id`, so on colocated Citus tables it runs as one task on the stream's worker.
 *
 * @internal
 */
export const statement = (ev: EventSource, snap: SqlSnapshotStore.SqlSource): string =>
  `WITH s AS (${snap.newestSql("$1", "$2")})
SELECT 0 AS kind, ${nulls(ev.columnTypes)}, s.* FROM s
UNION ALL
(SELECT 1, ${ev.columns}, ${nulls(snap.columnTypes)} FROM ${ev.table}
  WHERE aggregate_type = $1 AND aggregate_id = $2 AND version >= COALESCE((SELECT version FROM s), 1)
  ORDER BY version LIMIT $3)`

const fromSources = (ev: EventSource, snap: SqlSnapshotStore.SqlSource): Read => {
  const snapshotOffset = 1 + ev.columnTypes.length
  const text = statement(ev, snap)
  return (aggregateType, aggregateId, pageSize) =>
    Effect.suspend(() => {
      if (ev.checkKey(aggregateType, aggregateId) !== undefined) return Effect.succeedNone
      if (snap.checkKey(aggregateType, aggregateId) !== undefined) return Effect.succeedNone
      return ev.sql.unsafe(text, [aggregateType, aggregateId, pageSize]).values.pipe(
        Effect.mapError((cause) => ev.unavailable(`read ${aggregateType} ${Storable.show(aggregateId)}`)(cause)),
        Effect.flatMap((rows) => {
          let snapshotRow: ReadonlyArray<unknown> | undefined
          const eventRows: Array<ReadonlyArray<unknown>> = []
          for (const row of rows) {
            if (row[0] === 0) snapshotRow = row
            else eventRows.push(row)
          }
          // UNION ALL keeps each branch's order in practice; the fold needs version order, so make sure.
          for (let i = 1; i < eventRows.length; i++) {
            if ((eventRows[i - 1]![1] as number) > (eventRows[i]![1] as number)) {
              eventRows.sort((a, b) => (a[1] as number) - (b[1] as number))
              break
            }
          }
          return Effect.zipWith(
            ev.toEvents(aggregateType, aggregateId, eventRows, 1),
            snapshotRow === undefined
              ? Effect.succeed({ snapshot: Result.succeed(Option.none()), stateBytes: 0 })
              : Effect.match(snap.decode(aggregateType, aggregateId, snapshotRow, snapshotOffset), {
                onFailure: (error) => ({ snapshot: Result.fail(error), stateBytes: 0 }),
                onSuccess: (decoded) => ({
                  snapshot: Result.succeed(Option.some(decoded.snapshot)),
                  stateBytes: decoded.stateBytes
                })
              }),
            (events, found): Option.Option<ColdRows> => Option.some({ ...found, events })
          )
        })
      )
    })
}

/** The cold read of `events` built from its SQL side. @internal */
export const fromEvents = (source: EventSource, events: EventStoreService): ColdReadService => ({
  events,
  client: source.client,
  with: (snapshots) => fromSources(source, snapshots),
  statement: (snapshots) => statement(source, snapshots)
})

/**
 * The cold read of a pair of stores found in context, when both are the SQL stores the layers built (not
 * decorated) on one client.
 *
 * @internal
 */
export const find = (
  events: EventStoreService,
  snapshots: SnapshotStore.SnapshotStoreService
): Effect.Effect<Option.Option<Read>> =>
  Effect.zipWith(
    Effect.serviceOption(ColdRead),
    Effect.serviceOption(SqlSnapshotStore.Source),
    (cold, source) =>
      Option.isSome(cold) && Option.isSome(source) && cold.value.events === events &&
        source.value.store === snapshots && cold.value.client === source.value.client
        ? Option.some(cold.value.with(source.value))
        : Option.none()
  )
