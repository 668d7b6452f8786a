/**
 * `SnapshotStoreBackend.make`: the store's logic written once on top of a backend's primitive operations.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { CompressedState, Snapshot, SnapshotInfo } from "../Snapshot.js"
import type { SnapshotStoreService } from "../SnapshotStore.js"
import type * as Backend from "../SnapshotStoreBackend.js"
import { SnapshotStoreError } from "../SnapshotStoreError.js"
import * as errors from "../SnapshotStoreError.js"
import { withState } from "./snapshot.js"
import * as storable from "./storable.js"
import * as unitOfWork from "./unitOfWork.js"
import * as validate from "./validate.js"

/** @internal */
export const failures = Metric.counter("effect_snapshots_store_failures", {
  description: "Failures of SnapshotStore calls on a backend (tags: backend, operation, reason)",
  incremental: true
})

// A caller may pass a structurally typed plain object; backends get (and answer) `Snapshot` instances.
const toSnapshot = (snapshot: Snapshot): Snapshot =>
  (snapshot as unknown) instanceof Snapshot ? snapshot : withState(snapshot, snapshot.state)

const where = (aggregateType: string, aggregateId: string) => `${aggregateType} ${storable.show(aggregateId)}`

/** @internal */
export const make = (backend: Backend.Backend): SnapshotStoreService => {
  const observe =
    (operation: string, aggregateType?: string, aggregateId?: string) =>
    <A>(effect: Effect.Effect<A, SnapshotStoreError>): Effect.Effect<A, SnapshotStoreError> =>
      effect.pipe(
        Effect.tapError((error) =>
          Metric.update(
            Metric.withAttributes(failures, { backend: backend.name, operation, reason: error.reason }),
            1
          )
        ),
        Effect.withSpan(`SnapshotStore.${operation}`, {
          attributes: {
            backend: backend.name,
            ...(aggregateType === undefined ? {} : { aggregate_type: aggregateType }),
            ...(aggregateId === undefined ? {} : { aggregate_id: storable.show(aggregateId) })
          }
          // Every span starts in this one function: its stack frame says nothing, and capturing it costs an
          // `Error` (a stack trace) per call.
        }, { captureStackTrace: false })
      )

  /** The call if its input passed the checks; the checks run when the effect runs. */
  const checked = <A>(
    check: () => SnapshotStoreError | undefined,
    call: () => Effect.Effect<A, SnapshotStoreError>
  ): Effect.Effect<A, SnapshotStoreError> =>
    Effect.suspend(() => {
      const error = check()
      return error === undefined ? call() : Effect.fail(error)
    })

  // A backend outside any transaction writes a snapshot once the unit committed: written now, it could describe
  // events a rollback takes back. In a bare SQL transaction nothing says when (or whether) it commits: refused.
  const write = <A>(snapshot: Snapshot, operation: string, run: Effect.Effect<A, SnapshotStoreError>, later: A) =>
    backend.transactions === "join" ? run : Effect.flatMap(unitOfWork.enclosing, (around) => {
      switch (around._tag) {
        case "None":
          return run
        case "Unit":
          return Effect.as(
            around.unit.afterCommit(Effect.catchCause(run, (cause) =>
              Effect.logWarning(
                `SnapshotStore (${backend.name}): ${operation} of ${
                  where(snapshot.aggregateType, snapshot.aggregateId)
                } at version ${snapshot.version} after the commit failed`,
                cause
              ))),
            later
          )
        case "Transaction":
          return Effect.fail(validate.invalid(
            `SnapshotStore (${backend.name}): ${operation} of ${
              where(snapshot.aggregateType, snapshot.aggregateId)
            } at version ${snapshot.version} refused inside a SQL transaction the store is not part of (it ` +
              `could outlive a rollback); run it in a UnitOfWork, which writes it after the commit`
          ))
      }
    })

  return {
    ...(backend.transactions === "outside" ? { writesAfterCommit: true } : {}),
    ...(backend.now === undefined ? {} : { now: backend.now }),
    save: (snapshot) =>
      checked(() => validate.checkSnapshot(snapshot), () => {
        const stored = toSnapshot(snapshot)
        return write(stored, "save", backend.insert(stored), undefined)
      }).pipe(observe("save", snapshot?.aggregateType, snapshot?.aggregateId)),
    saveIfDue: (snapshot, options) =>
      checked(() => validate.checkSaveIfDue(snapshot, options), () => {
        const stored = toSnapshot(snapshot)
        // In a unit, decided (atomically) after the commit: the answer now is that it was handed over.
        return write(stored, "saveIfDue", backend.insertIfDue(stored, options.dueFrom), "Written" as const)
      }).pipe(observe("saveIfDue", snapshot?.aggregateType, snapshot?.aggregateId)),
    load: (aggregateType, aggregateId, options) =>
      checked(
        () => validate.checkKey(aggregateType, aggregateId) ?? validate.checkMaxVersion(options?.maxVersion),
        () => backend.newest(aggregateType, aggregateId, options?.maxVersion)
      ).pipe(observe("load", aggregateType, aggregateId)),
    list: (aggregateType, aggregateId) =>
      checked(
        () => validate.checkKey(aggregateType, aggregateId),
        () => backend.history(aggregateType, aggregateId)
      ).pipe(observe("list", aggregateType, aggregateId)),
    delete: (aggregateType, aggregateId, options) =>
      checked(
        () => validate.checkKey(aggregateType, aggregateId) ?? validate.checkDeleteVersion(options?.version),
        () => backend.remove(aggregateType, aggregateId, options?.version)
      ).pipe(observe("delete", aggregateType, aggregateId)),
    latestForType: (aggregateType) =>
      checked(() => validate.checkType(aggregateType), () => backend.latestOfType(aggregateType)).pipe(
        observe("latestForType", aggregateType)
      ),
    aggregates: (aggregateType) =>
      Stream.unwrap(checked(
        () => aggregateType === undefined ? undefined : validate.checkType(aggregateType),
        () => Effect.succeed(backend.keys(aggregateType))
      )),
    prune: (options) =>
      Effect.suspend(() => {
        const checkedOptions = validate.checkPrune(options)
        if (checkedOptions instanceof SnapshotStoreError) return Effect.fail(checkedOptions)
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(
            backend.prune({
              keepLast: options.keepLast,
              cutoff: checkedOptions.olderThanMillis === undefined ? undefined : now - checkedOptions.olderThanMillis,
              aggregateType: options.aggregateType
            }),
            (deleted) => ({ deleted })
          ))
      }).pipe(observe("prune", options?.aggregateType))
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoded backends
// ---------------------------------------------------------------------------------------------------------

const describe = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null) {
    const message = (cause as { readonly message?: unknown }).message
    if (typeof message === "string" && message !== "") return message
    if ("cause" in cause) return describe(cause.cause)
  }
  return String(cause)
}

const unavailable = (operation: string) => (cause: unknown): SnapshotStoreError =>
  cause instanceof SnapshotStoreError ? cause : new SnapshotStoreError({
    reason: "Unavailable",
    message: `${operation} failed: ${describe(cause).slice(0, 300)}`,
    cause
  })

const encodeState = (state: unknown): Backend.EncodedState =>
  state instanceof CompressedState
    ? { encoding: state.algorithm, bytes: state.bytes }
    : { encoding: "json", json: storable.checkedJson(state) ?? JSON.stringify(state) }

const encode = (snapshot: Snapshot): Backend.EncodedSnapshot => ({
  aggregateType: snapshot.aggregateType,
  aggregateId: snapshot.aggregateId,
  version: snapshot.version,
  schemaVersion: snapshot.schemaVersion,
  createdAt: DateTime.toEpochMillis(snapshot.createdAt),
  metadata: storable.checkedJson(snapshot.metadata) ?? JSON.stringify(snapshot.metadata),
  state: encodeState(snapshot.state)
})

const fromJson = (what: string, text: string): Effect.Effect<unknown, SnapshotStoreError> =>
  Effect.try({ try: () => JSON.parse(text), catch: (cause) => errors.corrupt(`${what} is not valid JSON`, cause) })

const decodeFields = (row: Backend.EncodedInfo) =>
  Effect.flatMap(fromJson("stored metadata", row.metadata), (metadata) => {
    const createdAt = DateTime.make(row.createdAt)
    if (!storable.isPlainObject(metadata)) return Effect.fail(errors.corrupt("stored metadata is not a JSON object"))
    if (Option.isNone(createdAt) || !Number.isSafeInteger(row.version) || !Number.isSafeInteger(row.schemaVersion)) {
      return Effect.fail(errors.corrupt(`a stored row of ${where(row.aggregateType, row.aggregateId)} is malformed`))
    }
    return Effect.succeed({
      aggregateType: row.aggregateType,
      aggregateId: row.aggregateId,
      version: row.version,
      schemaVersion: row.schemaVersion,
      createdAt: DateTime.toUtc(createdAt.value),
      metadata: metadata as Record<string, unknown>
    })
  })

const decodeState = (state: Backend.EncodedState): Effect.Effect<unknown, SnapshotStoreError> =>
  state.encoding === "json"
    ? fromJson("stored state", state.json)
    : Effect.succeed(new CompressedState({ algorithm: state.encoding, bytes: state.bytes }, { disableChecks: true }))

/** @internal */
export const decode = (row: Backend.EncodedSnapshot): Effect.Effect<Snapshot, SnapshotStoreError> =>
  Effect.zipWith(
    decodeFields(row),
    decodeState(row.state),
    (fields, state) => new Snapshot({ ...fields, state }, { disableChecks: true })
  )

const decodeSome = (row: Option.Option<Backend.EncodedSnapshot>) =>
  Option.isNone(row) ? Effect.succeedNone : Effect.asSome(decode(row.value))

/** The encoded backend as a backend of `Snapshot`s. @internal */
export const fromEncoded = <E>(backend: Backend.Encoded<E>): Backend.Backend => {
  const toError = backend.toError
  const failed = toError === undefined ? unavailable : (operation: string) => (error: E) => toError(operation, error)
  return {
    name: backend.name,
    transactions: backend.transactions,
    ...(backend.now === undefined ? {} : { now: backend.now }),
    insert: (snapshot) => Effect.mapError(backend.insert(encode(snapshot)), failed("save")),
    insertIfDue: (snapshot, dueFrom) =>
      Effect.mapError(backend.insertIfDue(encode(snapshot), dueFrom), failed("saveIfDue")),
    newest: (aggregateType, aggregateId, maxVersion) =>
      backend.newest(aggregateType, aggregateId, maxVersion).pipe(
        Effect.mapError(failed("load")),
        Effect.flatMap(decodeSome)
      ),
    history: (aggregateType, aggregateId) =>
      backend.history(aggregateType, aggregateId).pipe(
        Effect.mapError(failed("list")),
        Effect.flatMap(Effect.forEach((row) =>
          Effect.map(decodeFields(row), (fields) => new SnapshotInfo(fields, { disableChecks: true }))
        ))
      ),
    remove: (aggregateType, aggregateId, version) =>
      Effect.mapError(backend.remove(aggregateType, aggregateId, version), failed("delete")),
    latestOfType: (aggregateType) =>
      backend.latestOfType(aggregateType).pipe(
        Effect.mapError(failed("latestForType")),
        Effect.flatMap(decodeSome)
      ),
    keys: (aggregateType) => Stream.mapError(backend.keys(aggregateType), failed("aggregates")),
    prune: (request) => Effect.mapError(backend.prune(request), failed("prune"))
  }
}

/** @internal */
export const makeEncoded = <E>(backend: Backend.Encoded<E>): SnapshotStoreService => make(fromEncoded(backend))
