/**
 * Input checks shared by every backend and decorator, so that all of them reject the same inputs with the
 * same message and write nothing. Synchronous and allocation-light: they run on the save path.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { CompressedState } from "../Snapshot.js"
import type { Snapshot } from "../Snapshot.js"
import { SnapshotStoreError } from "../SnapshotStore.js"
import type { PruneOptions } from "../SnapshotStore.js"

/** @internal */
export const invalid = (message: string, cause?: unknown): SnapshotStoreError =>
  new SnapshotStoreError(
    cause === undefined ? { reason: "InvalidInput", message } : {
      reason: "InvalidInput",
      message,
      cause
    }
  )

const show = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Limits in UTF-8 bytes, the same as the EventStore's: the primary key (type, id, version) must stay below
 * Postgres' btree row limit, or a save fails on the server (SQLSTATE 54000) instead of as bad input.
 *
 * @internal
 */
export const maxAggregateTypeBytes = 256
/** @internal */
export const maxAggregateIdBytes = 2048

const checkName = (what: string, value: unknown, maxBytes: number): string | undefined => {
  if (typeof value !== "string") return `${what} must be a string, got ${typeof value}`
  if (value.length === 0) return `${what} must not be empty`
  if (value.includes("\u0000")) return `${what} ${show(value)} contains a NUL character (\\u0000)`
  // A lone surrogate has no UTF-8 form: a driver would store U+FFFD instead and the key would change.
  if (loneSurrogate.test(value)) return `${what} ${show(value)} contains a lone UTF-16 surrogate`
  if (value.length * 3 > maxBytes && Buffer.byteLength(value, "utf8") > maxBytes) {
    return `${what} ${show(value)} is longer than ${maxBytes} UTF-8 bytes`
  }
  return undefined
}

/** Checks an aggregate key; answers the error, or undefined when it is valid. @internal */
export const checkKey = (aggregateType: unknown, aggregateId: unknown): SnapshotStoreError | undefined => {
  const problem = checkName("aggregateType", aggregateType, maxAggregateTypeBytes) ??
    checkName("aggregateId", aggregateId, maxAggregateIdBytes)
  return problem === undefined ? undefined : invalid(problem)
}

/** @internal */
export const checkType = (aggregateType: unknown): SnapshotStoreError | undefined => {
  const problem = checkName("aggregateType", aggregateType, maxAggregateTypeBytes)
  return problem === undefined ? undefined : invalid(problem)
}

const isVersion = (n: unknown, min: number): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= min

/** `maxVersion` of `load`: absent, or an integer >= 0 (0 finds nothing). @internal */
export const checkMaxVersion = (maxVersion: unknown): SnapshotStoreError | undefined =>
  maxVersion === undefined || isVersion(maxVersion, 0)
    ? undefined
    : invalid(`maxVersion must be an integer >= 0, got ${String(maxVersion)}`)

/** `version` of `delete`: absent, or an integer >= 1. @internal */
export const checkDeleteVersion = (version: unknown): SnapshotStoreError | undefined =>
  version === undefined || isVersion(version, 1)
    ? undefined
    : invalid(`version must be an integer >= 1, got ${String(version)}`)

type Path = Array<string | number>

const pathString = (path: Path): string =>
  path.length === 0 ? "" : ` at ${path.map((p) => typeof p === "number" ? `[${p}]` : `.${p}`).join("")}`

const describeValue = (value: unknown): string => {
  if (value === undefined) return "undefined"
  if (typeof value === "number") return String(value)
  if (typeof value === "object" && value !== null) {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor
    return typeof ctor?.name === "string" && ctor.name !== "" ? `a ${ctor.name}` : "an object with a prototype"
  }
  return `a ${typeof value}`
}

class NotJson {
  constructor(readonly path: Path, readonly reason: string) {}
}

/**
 * Walks a value and answers why it is not JSON that every backend can store (undefined, functions, symbols,
 * bigints, NaN/Infinity, cycles, objects that are not plain, strings or keys holding NUL, which Postgres
 * `jsonb` cannot store), or undefined when it is. Shared references that are not cycles are allowed, as in
 * `JSON.stringify`. Hand-rolled (no Schema) because states can be tens of megabytes.
 */
const walk = (value: unknown, ancestors: Set<object>): NotJson | undefined => {
  switch (typeof value) {
    case "string":
      return value.includes("\u0000") ? new NotJson([], "a string contains a NUL character (\\u0000)") : undefined
    case "number":
      return Number.isFinite(value) ? undefined : new NotJson([], `${String(value)} is not a JSON number`)
    case "boolean":
      return undefined
    case "object": {
      if (value === null) return undefined
      if (ancestors.has(value)) return new NotJson([], "a cycle (an object contains itself)")
      if (Array.isArray(value)) {
        ancestors.add(value)
        for (let i = 0; i < value.length; i++) {
          const problem = walk(value[i], ancestors)
          if (problem !== undefined) {
            problem.path.unshift(i)
            return problem
          }
        }
        ancestors.delete(value)
        return undefined
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        return new NotJson([], `${describeValue(value)} is not a plain object`)
      }
      ancestors.add(value)
      const record = value as Record<string, unknown>
      for (const key of Object.keys(record)) {
        if (key.includes("\u0000")) return new NotJson([key], "a key contains a NUL character (\\u0000)")
        const problem = walk(record[key], ancestors)
        if (problem !== undefined) {
          problem.path.unshift(key)
          return problem
        }
      }
      ancestors.delete(value)
      return undefined
    }
    default:
      return new NotJson([], `${describeValue(value)} is not JSON`)
  }
}

const tooDeep = new NotJson([], "nested too deeply")
const fastDepth = 256

/**
 * The same walk without cycle tracking, for speed (no Set operations per object on a 20 MB state): a cycle
 * shows as a nesting deeper than `fastDepth`, and only then does `walk` look again, precisely.
 */
const walkFast = (value: unknown, depth: number): NotJson | undefined => {
  switch (typeof value) {
    case "string":
      return value.includes("\u0000") ? new NotJson([], "a string contains a NUL character (\\u0000)") : undefined
    case "number":
      return Number.isFinite(value) ? undefined : new NotJson([], `${String(value)} is not a JSON number`)
    case "boolean":
      return undefined
    case "object": {
      if (value === null) return undefined
      if (depth > fastDepth) return tooDeep
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const problem = walkFast(value[i], depth + 1)
          if (problem !== undefined) {
            if (problem !== tooDeep) problem.path.unshift(i)
            return problem
          }
        }
        return undefined
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        return new NotJson([], `${describeValue(value)} is not a plain object`)
      }
      for (const key in value) {
        if (key.includes("\u0000")) return new NotJson([key], "a key contains a NUL character (\\u0000)")
        const problem = walkFast((value as Record<string, unknown>)[key], depth + 1)
        if (problem !== undefined) {
          if (problem !== tooDeep) problem.path.unshift(key)
          return problem
        }
      }
      return undefined
    }
    default:
      return new NotJson([], `${describeValue(value)} is not JSON`)
  }
}

/** Answers why `value` is not storable JSON, or undefined. @internal */
export const jsonProblem = (value: unknown): string | undefined => {
  let problem = walkFast(value, 0)
  if (problem === tooDeep) problem = walk(value, new Set())
  return problem === undefined ? undefined : `${problem.reason}${pathString(problem.path)}`
}

const isCompressedState = (state: unknown): state is CompressedState => state instanceof CompressedState

/**
 * Checks a snapshot before it is written: key, version, schemaVersion, createdAt, metadata and state (JSON,
 * or a `CompressedState` produced by the `compressed` decorator). @internal
 */
export const checkSnapshot = (snapshot: Snapshot): SnapshotStoreError | undefined => {
  if (typeof snapshot !== "object" || snapshot === null) return invalid("a snapshot must be an object")
  const keyError = checkKey(snapshot.aggregateType, snapshot.aggregateId)
  if (keyError !== undefined) return keyError
  const where = `snapshot ${show(snapshot.aggregateType)}/${show(snapshot.aggregateId)}`
  if (!isVersion(snapshot.version, 1)) {
    return invalid(`${where}: version must be an integer >= 1, got ${String(snapshot.version)}`)
  }
  if (!isVersion(snapshot.schemaVersion, 1)) {
    return invalid(`${where}: schemaVersion must be an integer >= 1, got ${String(snapshot.schemaVersion)}`)
  }
  if (!DateTime.isDateTime(snapshot.createdAt) || !Number.isFinite(DateTime.toEpochMillis(snapshot.createdAt))) {
    return invalid(`${where}: createdAt must be a DateTime`)
  }
  const metadata: unknown = snapshot.metadata
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    return invalid(`${where}: metadata must be a JSON object`)
  }
  const metadataProblem = jsonProblem(metadata)
  if (metadataProblem !== undefined) return invalid(`${where}: metadata is not JSON: ${metadataProblem}`)
  const state: unknown = snapshot.state
  if (isCompressedState(state)) {
    if (!(state.bytes instanceof Uint8Array) || (state.algorithm !== "gzip" && state.algorithm !== "brotli")) {
      return invalid(`${where}: a CompressedState needs bytes and an algorithm (gzip or brotli)`)
    }
    return undefined
  }
  const stateProblem = jsonProblem(state)
  return stateProblem === undefined ? undefined : invalid(`${where}: state is not JSON: ${stateProblem}`)
}

/** Checks retention options and answers the age cutoff in epoch millis (undefined: no age condition). @internal */
export const checkPrune = (
  options: PruneOptions
): SnapshotStoreError | { readonly olderThanMillis: number | undefined } => {
  if (typeof options !== "object" || options === null) return invalid("prune needs options { keepLast }")
  if (!isVersion(options.keepLast, 1)) {
    return invalid(
      `keepLast must be an integer >= 1 (the newest snapshot is always kept), got ${String(options.keepLast)}`
    )
  }
  if (options.aggregateType !== undefined) {
    const typeError = checkType(options.aggregateType)
    if (typeError !== undefined) return typeError
  }
  if (options.olderThan === undefined) return { olderThanMillis: undefined }
  const duration = Duration.decodeUnknown(options.olderThan)
  if (Option.isNone(duration)) return invalid(`olderThan is not a duration: ${String(options.olderThan)}`)
  const millis = Duration.toMillis(duration.value)
  if (Number.isNaN(millis) || millis < 0) return invalid(`olderThan must be a non-negative duration`)
  return { olderThanMillis: millis }
}
