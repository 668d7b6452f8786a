/**
 * Events in and out of the store: a stored payload upcast from the version recorded in its metadata and decoded
 * (by its own type's decoder first), a batch of events encoded with their payload versions; and the two errors.
 *
 * @internal
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { Aggregate } from "../Aggregate.js"
import type { NewEvent, StoredEvent } from "../EventStore.js"
import * as Json from "./json.js"

/** The metadata key of an event's payload version (absent = version 1). @internal */
export const eventVersionKey = "eventVersion" as const

/**
 * A stored event could not be read as an event of the aggregate: the stream is corrupt (a bad payload, an
 * unknown type, a missing upcaster, or a gap in its versions). This is not a snapshot problem: no replay can
 * fix it.
 *
 * @internal
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
 * @internal
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
 * Read one stored event as an event of the aggregate: upcast its payload from the version recorded in its
 * metadata to the current one, then decode it.
 *
 * @internal
 */
export const decodeEvent = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate<S, SI, E, EI>,
  stored: StoredEvent
): Result.Result<E, EventDecodeError> => {
  let payload = stored.payload
  const current = aggregate.codec.eventVersions.get(stored.type)
  if (current !== undefined) {
    const recorded = stored.metadata[eventVersionKey]
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
    if (Result.isSuccess(fast) && fast.success._tag === stored.type) return fast as Result.Result<E, never>
  }
  const decoded = aggregate.codec.decodeEvent(payload)
  if (Result.isFailure(decoded)) return Result.fail(decodeError(aggregate, stored, Json.formatIssue(decoded.failure)))
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
 * @internal
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
          message: Json.formatIssue(encoded.failure)
        })
      )
    }
    const version = aggregate.codec.eventVersions.get(event._tag)
    out.push(
      version === undefined
        ? { type: event._tag, payload: encoded.success }
        : { type: event._tag, payload: encoded.success, metadata: { [eventVersionKey]: version } }
    )
  }
  return Result.succeed(out)
}
