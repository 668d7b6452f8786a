/**
 * The cold load's first read in one statement: the newest snapshot row and the first page of events from its
 * version come back together (a CTE with `UNION ALL`); without a snapshot the page is the stream's first.
 *
 * `SqlEventStore`'s layers provide it as the loader's `ColdRead` beside the `EventStore`, and
 * `SqlSnapshotStore`'s layers provide `SqlSnapshotStore.Source` beside the `SnapshotStore`. It answers for the
 * very event store the layer built and the snapshot store whose `Source` is in context, when both run on one
 * client; for any other pair (memory stores, stores on two clients, a decorated snapshot store) it answers none
 * and the repository calls the two services. (The SQL store's own compressed rows inflate on the one-statement
 * path too: the store's `decode` reads them.)
 *
 * @internal
 */
import type { ColdRead } from "@effect-snapshots/loader"
import type { EventStoreService } from "@effect-snapshots/loader/EventStore"
import { Storable } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { SqlSource as EventSource } from "../SqlEventStore.js"
import type { SqlSource as SnapshotSource } from "../SqlSnapshotStore.js"

const nulls = (types: ReadonlyArray<string>): string => types.map((type) => `NULL::${type}`).join(", ")

/**
 * The one statement, with parameters $1 (aggregate type), $2 (aggregate id) and $3 (page size). Rows: kind (0
 * snapshot, 1 event), the event's columns, the snapshot's columns. Every branch filters on one
 * `aggregate_id`, so on colocated Citus tables it runs as one task on the stream's worker.
 *
 * @internal
 */
export const statement = (ev: EventSource, snap: SnapshotSource): string =>
  `WITH s AS (${snap.newestSql("$1", "$2")})
SELECT 0 AS kind, ${nulls(ev.columnTypes)}, s.* FROM s
UNION ALL
(SELECT 1, ${ev.columns}, ${nulls(snap.columnTypes)} FROM ${ev.table}
  WHERE aggregate_type = $1 AND aggregate_id = $2 AND version >= COALESCE((SELECT version FROM s), 1)
  ORDER BY version LIMIT $3)`

const fromSources = (ev: EventSource, snap: SnapshotSource): ColdRead.Read => {
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
            (events, found): Option.Option<ColdRead.ColdRows> => Option.some({ ...found, events })
          )
        })
      )
    })
}

/**
 * The cold read of `events`, the store built from `source`: it answers for that store and the snapshot store of
 * the `Source` that `snapshotSource` finds in the repository's context, when both are on one client. @internal
 */
export const make = (
  source: EventSource,
  events: EventStoreService,
  snapshotSource: Effect.Effect<Option.Option<SnapshotSource>>
): ColdRead.ColdReadService => ({
  readFor: (wanted, snapshots) =>
    wanted !== events ? Effect.succeedNone : Effect.map(
      snapshotSource,
      Option.flatMap((snap) =>
        snap.store === snapshots && snap.client === source.client
          ? Option.some(fromSources(source, snap))
          : Option.none()
      )
    )
})
