/**
 * Validation and encoding shared by every EventStore backend, on the store's one storable policy
 * (`Storable`: keys, NUL, lone surrogates, depth), so the memory and SQL event stores refuse exactly what the
 * snapshot stores refuse, with the same messages. Not exported from the package.
 */
import { Storable } from "@effect-snapshots/store"
import * as Either from "effect/Either"
import type { NewEvent } from "../EventStore.js"

/** An event ready to be written: its payload and metadata as JSON text. */
export interface EncodedEvent {
  readonly type: string
  readonly payload: string
  readonly metadata: string
}

/** The largest stream version (the SQL column is a Postgres `integer`). */
export const maxVersion = 2_147_483_647

const describe = (value: unknown): string => typeof value === "string" ? Storable.show(value) : String(value)

/** Checks an aggregate type and id (used by every method). */
export const checkStreamKey: (aggregateType: unknown, aggregateId: unknown) => string | undefined = Storable.keyProblem

const isNonNegativeInt = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/** Checks an optional non-negative integer option. */
export const checkCount = (what: string, value: unknown): string | undefined =>
  value === undefined || isNonNegativeInt(value) ?
    undefined :
    `${what} must be a non-negative integer, got ${describe(value)}`

/** Checks `readPage`'s optional `limit`: a positive integer. */
export const checkLimit = (value: unknown): string | undefined =>
  value === undefined || (isNonNegativeInt(value) && value > 0) ?
    undefined :
    `limit must be a positive integer, got ${describe(value)}`

/** The JSON text of one part of an event (`what` names it), or why it cannot be stored. */
const encodePart = (
  what: string,
  value: unknown,
  problemOf: (value: unknown) => string | undefined
): Either.Either<string, string> => {
  const problem = problemOf(value)
  if (problem !== undefined) return Either.left(`${what}: ${problem}`)
  try {
    // The walk rules out cycles and non-JSON values; a toJSON that throws is still caught here.
    return Either.right(JSON.stringify(value))
  } catch (cause) {
    return Either.left(`${what} cannot be encoded as JSON: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

/**
 * Validates an append and encodes its events to JSON text. Left: a message saying what is wrong (nothing
 * may be written then).
 */
export const encodeAppend = (
  aggregateType: string,
  aggregateId: string,
  expectedVersion: number,
  events: ReadonlyArray<NewEvent>
): Either.Either<Array<EncodedEvent>, string> => {
  const keyProblem = checkStreamKey(aggregateType, aggregateId)
  if (keyProblem !== undefined) return Either.left(keyProblem)
  if (!isNonNegativeInt(expectedVersion)) {
    return Either.left(
      `expectedVersion must be a non-negative integer (0 for a new stream), got ${describe(expectedVersion)}`
    )
  }
  if (!Array.isArray(events)) return Either.left("events must be an array")
  if (events.length === 0) return Either.left("cannot append an empty batch of events")
  if (expectedVersion + events.length > maxVersion) {
    return Either.left(`the stream would exceed the largest version (${maxVersion})`)
  }
  const encoded = new Array<EncodedEvent>(events.length)
  for (let i = 0; i < events.length; i++) {
    const event: unknown = events[i]
    if (typeof event !== "object" || event === null) return Either.left(`events[${i}] must be an object`)
    const { metadata, payload, type } = event as NewEvent
    const typeProblem = Storable.nameProblem(`events[${i}].type`, type)
    if (typeProblem !== undefined) return Either.left(typeProblem)
    const payloadJson = encodePart(`events[${i}].payload`, payload, Storable.jsonProblem)
    if (Either.isLeft(payloadJson)) return Either.left(payloadJson.left)
    const metadataJson = metadata === undefined ?
      Either.right("{}") :
      encodePart(`events[${i}].metadata`, metadata, Storable.objectProblem)
    if (Either.isLeft(metadataJson)) return Either.left(metadataJson.left)
    encoded[i] = { type, payload: payloadJson.right, metadata: metadataJson.right }
  }
  return Either.right(encoded)
}
