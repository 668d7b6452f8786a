/** The SQL event store's errors, the JSON of an appended batch, and the decoding of event rows. */
import type { StoredEvent } from "@effect-snapshots/loader/EventStore"
import { EventStoreError } from "@effect-snapshots/loader/EventStore"
import type { EncodedEvent } from "@effect-snapshots/loader/EventStoreInput"
import * as DateTime from "effect/DateTime"
import type { SqlError } from "effect/sql/SqlError"
import * as SqlSupport from "../sqlSupport.js"

export const quote = (identifier: string): string => `"${identifier}"`

export const invalidInput = (message: string) => new EventStoreError({ reason: "InvalidInput", message })

export const describeError: (error: unknown) => string = SqlSupport.describeError

/**
 * The error of a failed statement: `Unavailable`, except for a row larger than the driver reads
 * (`@effect/sql-pg`'s `maxMessageSize`), which no retry can read back: `Corrupt`, as the snapshot store says.
 */
export const unavailable = (message: string) => (cause: SqlError) =>
  new EventStoreError({
    reason: SqlSupport.isMessageTooLarge(cause) ? "Corrupt" : "Unavailable",
    message: `${message}: ${describeError(cause)}`,
    cause
  })

export const corrupt = (message: string, cause: unknown) =>
  new EventStoreError({
    reason: "Corrupt",
    message: `${message}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/** The JSON text of a batch, assembled from already encoded parts (no second walk over the payloads). */
export const batchJson = (events: ReadonlyArray<EncodedEvent>): string => {
  let json = "["
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!
    if (i > 0) json += ","
    json += `{"t":${JSON.stringify(event.type)},"p":${event.payload},"m":${event.metadata}}`
  }
  return json + "]"
}

export const toNumber = (value: unknown): number => typeof value === "number" ? value : Number(value)

/** Metadata is `{}` for most events: the query sends NULL for it and every such event shares this object. */
const emptyMetadata: Readonly<Record<string, unknown>> = Object.freeze({})

/**
 * Decodes created_at (epoch milliseconds). The events of one commit share their timestamp, so the previous
 * DateTime (immutable) is reused when the next event has the same one.
 */
const makeCreatedAt = () => {
  let lastMillis = Number.NaN
  let last: DateTime.Utc | undefined
  return (value: unknown): DateTime.Utc => {
    const millis = toNumber(value)
    if (millis !== lastMillis || last === undefined) {
      last = DateTime.makeUnsafe(millis)
      lastMillis = millis
    }
    return last
  }
}

/**
 * The events in rows of `streamColumns` from column `offset`: of one stream (`key`), or of the stream
 * named by each row's first two columns (readAll).
 */
export const eventsOf = (
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  offset: number,
  key: { readonly aggregateType: string; readonly aggregateId: string } | undefined
): Array<StoredEvent> => {
  const n = rows.length
  const events = new Array<StoredEvent>(n)
  const createdAt = makeCreatedAt()
  for (let i = 0; i < n; i++) {
    const row = rows[i]!
    events[i] = {
      aggregateType: key === undefined ? row[0] as string : key.aggregateType,
      aggregateId: key === undefined ? row[1] as string : key.aggregateId,
      version: row[offset] as number,
      position: toNumber(row[offset + 1]),
      type: row[offset + 2] as string,
      payload: row[offset + 3],
      metadata: (row[offset + 4] ?? emptyMetadata) as Record<string, unknown>,
      createdAt: createdAt(row[offset + 5])
    }
  }
  return events
}

/**
 * readAll's cursor orders events by the transaction id of their commit and holds back those above the oldest
 * running transaction; on Citus each node has its own transaction ids, so that order and horizon mean nothing
 * across shards, and a cursor would skip or miss committed events.
 */
export const readAllRefused = (table: string) =>
  invalidInput(
    `SqlEventStore: readAll is not available on ${table}, a table distributed with Citus: its cursor orders events by transaction ids and a snapshot horizon, which every Citus node counts on its own, so it would skip committed events. Read each stream with read or readPage (one shard), or feed projections from Citus change data capture (citus.enable_change_data_capture, a logical replication slot on every node)`
  )
