/**
 * The in-memory SnapshotStore backend; see `SnapshotStore.makeMemory`.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { Snapshot, SnapshotInfo, SnapshotKey } from "../Snapshot.js"
import type { PruneResult, SaveIfDueResult, SnapshotStoreService } from "../SnapshotStore.js"
import { SnapshotStoreError } from "../SnapshotStoreError.js"
import { withState } from "./snapshot.js"
import * as unitOfWork from "./unitOfWork.js"
import * as validate from "./validate.js"

/** One aggregate's history, oldest first. */
interface History {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly snapshots: ReadonlyArray<Snapshot>
}

// NUL is rejected in types and ids, so it separates them unambiguously.
const memoryKey = (aggregateType: string, aggregateId: string): string => `${aggregateType}\u0000${aggregateId}`

const historyOf = (
  histories: HashMap.HashMap<string, History>,
  aggregateType: string,
  aggregateId: string
): ReadonlyArray<Snapshot> =>
  Option.match(HashMap.get(histories, memoryKey(aggregateType, aggregateId)), {
    onNone: () => [],
    onSome: (history) => history.snapshots
  })

// A caller may pass a structurally typed plain object; the store answers `Snapshot` instances.
const toSnapshot = (snapshot: Snapshot): Snapshot =>
  (snapshot as unknown) instanceof Snapshot ? snapshot : withState(snapshot, snapshot.state)

const toInfo = (snapshot: Snapshot): SnapshotInfo =>
  new SnapshotInfo({
    aggregateType: snapshot.aggregateType,
    aggregateId: snapshot.aggregateId,
    version: snapshot.version,
    schemaVersion: snapshot.schemaVersion,
    createdAt: snapshot.createdAt,
    metadata: snapshot.metadata
  }, { disableChecks: true })

type Histories = HashMap.HashMap<string, History>

/** The histories with `snapshot` at its place in version order; unchanged (undefined) if it has that version. */
const insert = (histories: Histories, key: string, snapshot: Snapshot): Histories | undefined => {
  const snapshots = Option.match(HashMap.get(histories, key), {
    onNone: () => [] as ReadonlyArray<Snapshot>,
    onSome: (history) => history.snapshots
  })
  let index = snapshots.length
  while (index > 0 && snapshots[index - 1]!.version > snapshot.version) index--
  // An existing version is kept as it is (idempotent).
  if (index > 0 && snapshots[index - 1]!.version === snapshot.version) return undefined
  return HashMap.set(histories, key, {
    aggregateType: snapshot.aggregateType,
    aggregateId: snapshot.aggregateId,
    snapshots: [...snapshots.slice(0, index), snapshot, ...snapshots.slice(index)]
  })
}

const insertAll = (histories: Histories, key: string, snapshots: ReadonlyArray<Snapshot>): Histories =>
  snapshots.reduce((acc, snapshot) => insert(acc, key, snapshot) ?? acc, histories)

/** The histories without this very snapshot (by identity: not another one saved with its version since). */
const removeExact = (histories: Histories, key: string, snapshot: Snapshot): Histories => {
  const history = Option.getOrUndefined(HashMap.get(histories, key))
  if (history === undefined || !history.snapshots.includes(snapshot)) return histories
  const kept = history.snapshots.filter((s) => s !== snapshot)
  return kept.length === 0
    ? HashMap.remove(histories, key)
    : HashMap.set(histories, key, { ...history, snapshots: kept })
}

// Which of two snapshots of one type `latestForType` prefers: later createdAt, then higher version, then id.
const isLater = (a: Snapshot, b: Snapshot): boolean => {
  const ta = DateTime.toEpochMillis(a.createdAt)
  const tb = DateTime.toEpochMillis(b.createdAt)
  if (ta !== tb) return ta > tb
  if (a.version !== b.version) return a.version > b.version
  return a.aggregateId > b.aggregateId
}

/** @internal */
export const make: Effect.Effect<SnapshotStoreService> = Effect.map(
  Ref.make(HashMap.empty<string, History>()),
  (ref): SnapshotStoreService => {
    type Undo = (histories: Histories) => Histories
    // A persistent map: a reader holding it sees a consistent state while writers replace it. `f` answers
    // its result, the next map (undefined: unchanged) and, when `undoable`, how to undo its change.
    const write = <A>(
      f: (histories: Histories, undoable: boolean) => readonly [A, Histories | undefined, Undo | undefined]
    ): Effect.Effect<A> =>
      Effect.flatMap(Effect.serviceOption(unitOfWork.CurrentUnit), (unit) => {
        if (Option.isNone(unit)) {
          return Ref.modify(ref, (histories) => {
            const [result, next] = f(histories, false)
            return [result, next ?? histories]
          })
        }
        // In a unit of work: the write and the registration of its undo, both or neither.
        return Effect.uninterruptible(Effect.flatMap(
          Ref.modify(ref, (histories) => {
            const [result, next, undo] = f(histories, true)
            return [[result, next === undefined ? undefined : undo] as const, next ?? histories]
          }),
          ([result, undo]) =>
            undo === undefined
              ? Effect.succeed(result)
              : Effect.as(unit.value.onRollback(Ref.update(ref, undo)), result)
        ))
      })
    return {
      save: (snapshot) =>
        Effect.suspend(() => {
          const error = validate.checkSnapshot(snapshot)
          if (error !== undefined) return Effect.fail(error)
          const stored = toSnapshot(snapshot)
          const key = memoryKey(stored.aggregateType, stored.aggregateId)
          return write((histories, undoable) => {
            const next = insert(histories, key, stored)
            // Undone: this very snapshot removed again (not one another writer saved since).
            return [undefined, next, undoable ? (current) => removeExact(current, key, stored) : undefined]
          })
        }),
      saveIfDue: (snapshot, options) =>
        Effect.suspend(() => {
          const error = validate.checkSaveIfDue(snapshot, options)
          if (error !== undefined) return Effect.fail(error)
          const stored = toSnapshot(snapshot)
          const key = memoryKey(stored.aggregateType, stored.aggregateId)
          // The check and the write are one `Ref` update: atomic.
          return write((histories, undoable): readonly [SaveIfDueResult, Histories | undefined, Undo | undefined] => {
            const snapshots = historyOf(histories, stored.aggregateType, stored.aggregateId)
            const newest = snapshots[snapshots.length - 1]
            if (newest !== undefined && newest.version >= options.dueFrom) {
              return ["AlreadyCovered", undefined, undefined]
            }
            return [
              "Written",
              insert(histories, key, stored),
              undoable ? (current) => removeExact(current, key, stored) : undefined
            ]
          })
        }),
      load: (aggregateType, aggregateId, options) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkMaxVersion(options?.maxVersion)
          if (error !== undefined) return Effect.fail(error)
          const maxVersion = options?.maxVersion ?? Number.POSITIVE_INFINITY
          return Effect.map(Ref.get(ref), (histories) => {
            const snapshots = historyOf(histories, aggregateType, aggregateId)
            for (let i = snapshots.length - 1; i >= 0; i--) {
              if (snapshots[i]!.version <= maxVersion) return Option.some(snapshots[i]!)
            }
            return Option.none()
          })
        }),
      list: (aggregateType, aggregateId) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId)
          if (error !== undefined) return Effect.fail(error)
          return Effect.map(
            Ref.get(ref),
            (histories) => historyOf(histories, aggregateType, aggregateId).map(toInfo)
          )
        }),
      delete: (aggregateType, aggregateId, options) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkDeleteVersion(options?.version)
          if (error !== undefined) return Effect.fail(error)
          const key = memoryKey(aggregateType, aggregateId)
          return write((histories, undoable) => {
            const history = Option.getOrUndefined(HashMap.get(histories, key))
            if (history === undefined) return [0, undefined, undefined]
            const version = options?.version
            const kept = version === undefined ? [] : history.snapshots.filter((s) => s.version !== version)
            const deleted = history.snapshots.length - kept.length
            if (deleted === 0) return [0, undefined, undefined]
            const removed = version === undefined
              ? history.snapshots
              : history.snapshots.filter((s) => s.version === version)
            return [
              deleted,
              kept.length === 0
                ? HashMap.remove(histories, key)
                : HashMap.set(histories, key, { ...history, snapshots: kept }),
              undoable ? (current) => insertAll(current, key, removed) : undefined
            ]
          })
        }),
      latestForType: (aggregateType) =>
        Effect.suspend(() => {
          const error = validate.checkType(aggregateType)
          if (error !== undefined) return Effect.fail(error)
          return Effect.map(Ref.get(ref), (histories) => {
            let latest: Snapshot | undefined
            for (const history of HashMap.values(histories)) {
              if (history.aggregateType !== aggregateType) continue
              for (const snapshot of history.snapshots) {
                if (latest === undefined || isLater(snapshot, latest)) latest = snapshot
              }
            }
            return Option.fromNullishOr(latest)
          })
        }),
      aggregates: (aggregateType) =>
        Stream.unwrap(Effect.suspend(() => {
          const error = aggregateType === undefined ? undefined : validate.checkType(aggregateType)
          if (error !== undefined) return Effect.fail(error)
          return Effect.map(Ref.get(ref), (histories) => {
            const keys: Array<SnapshotKey> = []
            for (const history of HashMap.values(histories)) {
              if (aggregateType === undefined || history.aggregateType === aggregateType) {
                keys.push(
                  new SnapshotKey(
                    { aggregateType: history.aggregateType, aggregateId: history.aggregateId },
                    { disableChecks: true }
                  )
                )
              }
            }
            keys.sort((a, b) =>
              a.aggregateType < b.aggregateType ? -1 : a.aggregateType > b.aggregateType ?
                1 :
                a.aggregateId < b.aggregateId
                ? -1
                : a.aggregateId > b.aggregateId
                ? 1
                : 0
            )
            return Stream.fromArray(keys)
          })
        })),
      prune: (options) =>
        Effect.suspend(() => {
          const checked = validate.checkPrune(options)
          if (checked instanceof SnapshotStoreError) return Effect.fail(checked)
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const cutoff = checked.olderThanMillis === undefined ? undefined : now - checked.olderThanMillis
            return write((histories, undoable): readonly [PruneResult, Histories | undefined, Undo | undefined] => {
              let deleted = 0
              let next = histories
              const removed: Array<readonly [string, ReadonlyArray<Snapshot>]> = []
              for (const [key, history] of histories) {
                if (options.aggregateType !== undefined && history.aggregateType !== options.aggregateType) continue
                const snapshots = history.snapshots
                const firstKept = snapshots.length - options.keepLast
                if (firstKept <= 0) continue
                const kept = snapshots.filter((snapshot, index) =>
                  index >= firstKept || (cutoff !== undefined && DateTime.toEpochMillis(snapshot.createdAt) >= cutoff)
                )
                if (kept.length === snapshots.length) continue
                deleted += snapshots.length - kept.length
                next = HashMap.set(next, key, { ...history, snapshots: kept })
                if (undoable) removed.push([key, snapshots.filter((snapshot) => !kept.includes(snapshot))])
              }
              if (deleted === 0) return [{ deleted }, undefined, undefined]
              return [
                { deleted },
                next,
                undoable
                  ? (current) => removed.reduce((acc, [key, snapshots]) => insertAll(acc, key, snapshots), current)
                  : undefined
              ]
            })
          })
        })
    }
  }
)
