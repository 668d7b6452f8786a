/**
 * The cold load's first read in one statement: when the event store and the snapshot store are the SQL stores
 * on one client, the newest snapshot row and the first page of events from its version come back together
 * (a CTE with `UNION ALL`). Without a snapshot the page is the stream's first. Any other pair of stores (a
 * decorated snapshot store, stores on two clients, memory) has no cold read: the repository calls the two
 * services.
 *
 * @internal
 */
import {
  type Snapshot,
  type SnapshotStore,
  type SnapshotStoreError,
  SqlSnapshotStore,
  Storable
} from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { EventStoreError, EventStoreService, StoredEvent } from "../EventStore.js"
import * as SqlEventStore from "../SqlEventStore.js"

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
export type ColdRead = (
  aggregateType: string,
  aggregateId: string,
  pageSize: number
) => Effect.Effect<Option.Option<ColdRows>, EventStoreError>

/** The cold read of a pair of stores, when they have one. @internal */
export const make = (
  events: EventStoreService,
  snapshots: SnapshotStore.SnapshotStoreService
): Option.Option<ColdRead> => {
  const eventSource = SqlEventStore.sqlSource(events)
  const snapshotSource = SqlSnapshotStore.sqlSource(snapshots)
  if (Option.isNone(eventSource) || Option.isNone(snapshotSource)) return Option.none()
  if (eventSource.value.client !== snapshotSource.value.client) return Option.none()
  return Option.some(fromSources(eventSource.value, snapshotSource.value))
}

const nulls = (types: ReadonlyArray<string>): string => types.map((type) => `NULL::${type}`).join(", ")

/**
 * The one statement, with parameters $1 (aggregate type), $2 (aggregate id) and $3 (page size). Rows: kind (0
 * snapshot, 1 event), the event's columns, the snapshot's columns. Every branch filters on one
 * `aggregate_id`, so on colocated Citus tables it runs as one task on the stream's worker.
 *
 * @internal
 */
export const statement = (ev: SqlEventStore.SqlSource, snap: SqlSnapshotStore.SqlSource): string =>
  `WITH s AS (${snap.newestSql("$1", "$2")})
SELECT 0 AS kind, ${nulls(ev.columnTypes)}, s.* FROM s
UNION ALL
(SELECT 1, ${ev.columns}, ${nulls(snap.columnTypes)} FROM ${ev.table}
  WHERE aggregate_type = $1 AND aggregate_id = $2 AND version >= COALESCE((SELECT version FROM s), 1)
  ORDER BY version LIMIT $3)`

const fromSources = (ev: SqlEventStore.SqlSource, snap: SqlSnapshotStore.SqlSource): ColdRead => {
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
