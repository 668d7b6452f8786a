/**
 * The SQL snapshot store's input checks: the snapshot store's own (store's `internal/validate.ts`), on the
 * public storable policy, so that it rejects the same inputs with the same messages and writes nothing.
 * Synchronous and allocation-light: they run on the save path.
 *
 * @internal
 */
import type { Snapshot } from "@effect-snapshots/store/Snapshot"
import { CompressedState } from "@effect-snapshots/store/Snapshot"
import type { PruneOptions } from "@effect-snapshots/store/SnapshotStore"
import { SnapshotStoreError } from "@effect-snapshots/store/SnapshotStoreError"
import * as storable from "@effect-snapshots/store/Storable"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** @internal */
export const invalid = (message: string, cause?: unknown): SnapshotStoreError =>
  new SnapshotStoreError(
    cause === undefined ? { reason: "InvalidInput", message } : {
      reason: "InvalidInput",
      message,
      cause
    }
  )

const toError = (problem: string | undefined): SnapshotStoreError | undefined =>
  problem === undefined ? undefined : invalid(problem)

/** Checks an aggregate key; answers the error, or undefined when it is valid. @internal */
export const checkKey = (aggregateType: unknown, aggregateId: unknown): SnapshotStoreError | undefined =>
  toError(storable.keyProblem(aggregateType, aggregateId))

/** @internal */
export const checkType = (aggregateType: unknown): SnapshotStoreError | undefined =>
  toError(storable.typeProblem(aggregateType))

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

const isCompressedState = (state: unknown): state is CompressedState => state instanceof CompressedState

/**
 * Checks a snapshot before it is written: key, version, schemaVersion, createdAt, metadata and state (JSON,
 * or a `CompressedState` produced by the `compressed` decorator). @internal
 */
export const checkSnapshot = (snapshot: Snapshot): SnapshotStoreError | undefined => {
  if (typeof snapshot !== "object" || snapshot === null) return invalid("a snapshot must be an object")
  const keyError = checkKey(snapshot.aggregateType, snapshot.aggregateId)
  if (keyError !== undefined) return keyError
  const where = `snapshot ${storable.show(snapshot.aggregateType)}/${storable.show(snapshot.aggregateId)}`
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
  if (!storable.objectProblem(metadata) === undefined) return invalid(`${where}: metadata must be a JSON object`)
  const metadataProblem = storable.jsonProblem(metadata)
  if (metadataProblem !== undefined) return invalid(`${where}: metadata is not JSON: ${metadataProblem}`)
  const state: unknown = snapshot.state
  if (isCompressedState(state)) {
    if (!(state.bytes instanceof Uint8Array) || (state.algorithm !== "gzip" && state.algorithm !== "brotli")) {
      return invalid(`${where}: a CompressedState needs bytes and an algorithm (gzip or brotli)`)
    }
    return undefined
  }
  if (storable.checkedJson(state) !== undefined) return undefined
  const stateProblem = storable.jsonProblem(state)
  return stateProblem === undefined ? undefined : invalid(`${where}: state is not JSON: ${stateProblem}`)
}

/**
 * `dueFrom` of `saveIfDue`, for a snapshot that passed `checkSnapshot`: an integer from 1 to its version.
 * @internal
 */
export const checkDueFrom = (snapshot: Snapshot, dueFrom: unknown): SnapshotStoreError | undefined =>
  isVersion(dueFrom, 1) && dueFrom <= snapshot.version
    ? undefined
    : invalid(
      `snapshot ${storable.show(snapshot.aggregateType)}/${storable.show(snapshot.aggregateId)}: dueFrom must be ` +
        `an integer from 1 to the snapshot's version ${snapshot.version}, got ${String(dueFrom)}`
    )

/** Checks a snapshot and the options of `saveIfDue`. @internal */
export const checkSaveIfDue = (snapshot: Snapshot, options: unknown): SnapshotStoreError | undefined =>
  checkSnapshot(snapshot) ??
    (typeof options !== "object" || options === null
      ? invalid("saveIfDue needs options { dueFrom }")
      : checkDueFrom(snapshot, (options as { readonly dueFrom?: unknown }).dueFrom))

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
  const duration = Duration.fromInput(options.olderThan)
  if (Option.isNone(duration)) return invalid(`olderThan is not a duration: ${String(options.olderThan)}`)
  const millis = Duration.toMillis(duration.value)
  if (Number.isNaN(millis) || millis < 0) return invalid(`olderThan must be a non-negative duration`)
  return { olderThanMillis: millis }
}
