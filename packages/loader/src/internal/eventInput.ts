/**
 * Validation and encoding shared by every EventStore backend, so the memory and SQL stores accept and
 * refuse exactly the same input. Not exported from the package.
 */
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

/** Limits in UTF-8 bytes: the unique btree key (type, id, version) must stay below Postgres' ~2.7 KB. */
export const maxAggregateTypeBytes = 256
export const maxAggregateIdBytes = 2048

// NUL cannot be stored in Postgres text or jsonb; a lone surrogate would be silently replaced by U+FFFD
// when encoded as UTF-8, so an id or payload would come back different from what was written.
const badCharacters = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const describe = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value) : String(value)

const checkName = (what: string, value: unknown, maxBytes: number | undefined): string | undefined => {
  if (typeof value !== "string") return `${what} must be a string, got ${typeof value}`
  if (value.length === 0) return `${what} must not be empty`
  if (badCharacters.test(value)) {
    return `${what} ${describe(value)} contains a NUL character or an unpaired UTF-16 surrogate`
  }
  if (maxBytes !== undefined && value.length * 3 > maxBytes && Buffer.byteLength(value, "utf8") > maxBytes) {
    return `${what} is longer than ${maxBytes} UTF-8 bytes`
  }
  return undefined
}

/** Checks an aggregate type and id (used by every method). */
export const checkStreamKey = (aggregateType: unknown, aggregateId: unknown): string | undefined =>
  checkName("aggregateType", aggregateType, maxAggregateTypeBytes) ??
    checkName("aggregateId", aggregateId, maxAggregateIdBytes)

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

const maxDepth = 512

/**
 * Whether `value` is plain JSON data: null, booleans, finite numbers, well-formed strings without NUL, arrays
 * and plain objects of those. Properties whose value is `undefined` are allowed in objects (JSON drops them,
 * as an optional field's encoding does). Answers a path to the first offending value, or undefined.
 */
export const findNonJson = (value: unknown, path: string, depth: number): string | undefined => {
  switch (typeof value) {
    case "string":
      return badCharacters.test(value) ? `${path} contains a NUL character or an unpaired UTF-16 surrogate` : undefined
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`
    case "object": {
      if (value === null) return undefined
      if (depth >= maxDepth) return `${path} is nested more than ${maxDepth} levels deep (or cyclic)`
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i]
          if (item === undefined) return `${path}[${i}] is undefined, which JSON cannot hold`
          const found = findNonJson(item, `${path}[${i}]`, depth + 1)
          if (found !== undefined) return found
        }
        return undefined
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        const name = (value as { constructor?: { name?: unknown } }).constructor?.name
        return `${path} is ${
          typeof name === "string" && name !== "" ? `a ${name}` : "an object with a custom prototype"
        }, not plain JSON data (encode it with its Schema first)`
      }
      for (const key in value) {
        if (badCharacters.test(key)) return `${path} has a key with a NUL character or an unpaired UTF-16 surrogate`
        const item: unknown = (value as Record<string, unknown>)[key]
        if (item === undefined) continue
        const found = findNonJson(item, `${path}.${key}`, depth + 1)
        if (found !== undefined) return found
      }
      return undefined
    }
    default:
      return `${path} is a ${typeof value}, which JSON cannot hold`
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
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
    const typeProblem = checkName(`events[${i}].type`, type, undefined)
    if (typeProblem !== undefined) return Either.left(typeProblem)
    if (payload === undefined) return Either.left(`events[${i}].payload is undefined, which JSON cannot hold`)
    const payloadProblem = findNonJson(payload, `events[${i}].payload`, 0)
    if (payloadProblem !== undefined) return Either.left(payloadProblem)
    if (metadata !== undefined) {
      if (!isPlainObject(metadata)) return Either.left(`events[${i}].metadata must be a plain object`)
      const metadataProblem = findNonJson(metadata, `events[${i}].metadata`, 0)
      if (metadataProblem !== undefined) return Either.left(metadataProblem)
    }
    let payloadJson: string
    let metadataJson: string
    try {
      // The walk above rules out cycles through plain data; a toJSON that throws is still caught here.
      payloadJson = JSON.stringify(payload)
      metadataJson = metadata === undefined ? "{}" : JSON.stringify(metadata)
    } catch (cause) {
      return Either.left(`events[${i}] cannot be encoded as JSON: ${cause instanceof Error ? cause.message : cause}`)
    }
    encoded[i] = { type, payload: payloadJson, metadata: metadataJson }
  }
  return Either.right(encoded)
}
