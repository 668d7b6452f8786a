/**
 * Validation and encoding shared by every EventStore backend, on the store's one storable policy
 * (`Storable`: keys, NUL, lone surrogates, depth), so the memory and SQL event stores refuse exactly what the
 * snapshot stores refuse, with the same messages. Not exported from the package.
 */
import { Storable } from "@effect-snapshots/store"
import * as Result from "effect/Result"
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
): Result.Result<string, string> => {
  const problem = problemOf(value)
  if (problem !== undefined) return Result.fail(`${what}: ${problem}`)
  try {
    // The walk rules out cycles and non-JSON values; a toJSON that throws is still caught here.
    return Result.succeed(JSON.stringify(value))
  } catch (cause) {
    return Result.fail(`${what} cannot be encoded as JSON: ${cause instanceof Error ? cause.message : String(cause)}`)
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
): Result.Result<Array<EncodedEvent>, string> => {
  const keyProblem = checkStreamKey(aggregateType, aggregateId)
  if (keyProblem !== undefined) return Result.fail(keyProblem)
  if (!isNonNegativeInt(expectedVersion)) {
    return Result.fail(
      `expectedVersion must be a non-negative integer (0 for a new stream), got ${describe(expectedVersion)}`
    )
  }
  if (!Array.isArray(events)) return Result.fail("events must be an array")
  if (events.length === 0) return Result.fail("cannot append an empty batch of events")
  if (expectedVersion + events.length > maxVersion) {
    return Result.fail(`the stream would exceed the largest version (${maxVersion})`)
  }
  const encoded = new Array<EncodedEvent>(events.length)
  for (let i = 0; i < events.length; i++) {
    const event: unknown = events[i]
    if (typeof event !== "object" || event === null) return Result.fail(`events[${i}] must be an object`)
    const { metadata, payload, type } = event as NewEvent
    const typeProblem = Storable.nameProblem(`events[${i}].type`, type)
    if (typeProblem !== undefined) return Result.fail(typeProblem)
    const payloadJson = encodePart(`events[${i}].payload`, payload, Storable.jsonProblem)
    if (Result.isFailure(payloadJson)) return Result.fail(payloadJson.failure)
    const metadataJson = metadata === undefined ?
      Result.succeed("{}") :
      encodePart(`events[${i}].metadata`, metadata, Storable.objectProblem)
    if (Result.isFailure(metadataJson)) return Result.fail(metadataJson.failure)
    encoded[i] = { type, payload: payloadJson.success, metadata: metadataJson.success }
  }
  return Result.succeed(encoded)
}
