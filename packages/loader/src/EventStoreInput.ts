/**
 * The input checks and the encoding every EventStore backend shares, on the stores' one storable policy
 * (`Storable`), so that a backend of one's own refuses exactly what the memory and SQL event stores refuse, with
 * the same messages.
 *
 * @since 1.1.0
 */
import type * as Result from "effect/Result"
import type { NewEvent, StreamsOptions } from "./EventStore.js"
import * as eventInput from "./internal/eventInput.js"
import * as streamsListing from "./internal/streamsListing.js"

/**
 * An event ready to be written: its payload and metadata as JSON text.
 *
 * @since 1.1.0
 * @category models
 */
export type EncodedEvent = eventInput.EncodedEvent

/**
 * The largest stream version (the SQL column is a Postgres `integer`).
 *
 * @since 1.1.0
 * @category constants
 */
export const maxVersion: number = eventInput.maxVersion

/**
 * Why an aggregate type and id cannot be stored, or undefined.
 *
 * @since 1.1.0
 * @category checks
 */
export const checkStreamKey: (aggregateType: unknown, aggregateId: unknown) => string | undefined =
  eventInput.checkStreamKey

/**
 * Why an optional count (`what` names it) is not a non-negative integer, or undefined.
 *
 * @since 1.1.0
 * @category checks
 */
export const checkCount: (what: string, value: unknown) => string | undefined = eventInput.checkCount

/**
 * Why `readPage`'s optional `limit` is not a positive integer, or undefined.
 *
 * @since 1.1.0
 * @category checks
 */
export const checkLimit: (value: unknown) => string | undefined = eventInput.checkLimit

/**
 * Checks an append and encodes its events to JSON text; a failure says what is wrong (nothing may be written).
 *
 * @since 1.1.0
 * @category encoding
 */
export const encodeAppend: (
  aggregateType: string,
  aggregateId: string,
  expectedVersion: number,
  events: ReadonlyArray<NewEvent>
) => Result.Result<Array<EncodedEvent>, string> = eventInput.encodeAppend

/**
 * A stream key of the `streams` listing.
 *
 * @since 1.1.0
 * @category models
 */
export type StreamKey = streamsListing.Key

/**
 * The key `streams` resumes after (undefined: from the start), or a message saying what is wrong.
 *
 * @since 1.1.0
 * @category checks
 */
export const streamsAfter: (options: StreamsOptions) => StreamKey | string | undefined = streamsListing.streamsAfter
