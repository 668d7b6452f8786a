/**
 * The in-memory SnapshotStore backend (`SnapshotStoreBackend.make` adds the checks, spans and metrics); see
 * `SnapshotStore.makeMemory`.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { Snapshot } from "../Snapshot.js"
import { SnapshotInfo, SnapshotKey } from "../Snapshot.js"
import type * as SnapshotStoreBackend from "../SnapshotStoreBackend.js"
import * as backend from "./backend.js"
import * as unitOfWork from "./unitOfWork.js"

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

const compareKeys = (a: SnapshotKey, b: SnapshotKey): number =>
  a.aggregateType < b.aggregateType ? -1 : a.aggregateType > b.aggregateType ?
    1 :
    a.aggregateId < b.aggregateId
    ? -1
    : a.aggregateId > b.aggregateId
    ? 1
    : 0

type Undo = (histories: Histories) => Histories

/** The memory backend on a `Ref` of histories. @internal */
export const makeBackend = (ref: Ref.Ref<Histories>): SnapshotStoreBackend.Backend => {
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

  /** `snapshot` inserted; undone: this very snapshot removed again (not one another writer saved since). */
  const inserted = <A>(histories: Histories, snapshot: Snapshot, undoable: boolean, result: A) => {
    const key = memoryKey(snapshot.aggregateType, snapshot.aggregateId)
    return [
      result,
      insert(histories, key, snapshot),
      undoable ? (current: Histories) => removeExact(current, key, snapshot) : undefined
    ] as const
  }

  return {
    name: "memory",
    transactions: "join",
    insert: (snapshot) => write((histories, undoable) => inserted(histories, snapshot, undoable, undefined)),
    insertIfDue: (snapshot, dueFrom) =>
      write(
        (
          histories,
          undoable
        ): readonly [SnapshotStoreBackend.SaveIfDueResult, Histories | undefined, Undo | undefined] => {
          const snapshots = historyOf(histories, snapshot.aggregateType, snapshot.aggregateId)
          const newest = snapshots[snapshots.length - 1]
          if (newest !== undefined && newest.version >= dueFrom) return ["AlreadyCovered", undefined, undefined]
          return inserted(histories, snapshot, undoable, "Written")
        }
      ),
    newest: (aggregateType, aggregateId, maxVersion) =>
      Effect.map(Ref.get(ref), (histories) => {
        const snapshots = historyOf(histories, aggregateType, aggregateId)
        for (let i = snapshots.length - 1; i >= 0; i--) {
          if (maxVersion === undefined || snapshots[i]!.version <= maxVersion) return Option.some(snapshots[i]!)
        }
        return Option.none()
      }),
    history: (aggregateType, aggregateId) =>
      Effect.map(Ref.get(ref), (histories) => historyOf(histories, aggregateType, aggregateId).map(toInfo)),
    remove: (aggregateType, aggregateId, version) => {
      const key = memoryKey(aggregateType, aggregateId)
      return write((histories, undoable) => {
        const history = Option.getOrUndefined(HashMap.get(histories, key))
        if (history === undefined) return [0, undefined, undefined]
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
    },
    latestOfType: (aggregateType) =>
      Effect.map(Ref.get(ref), (histories) => {
        let latest: Snapshot | undefined
        for (const history of HashMap.values(histories)) {
          if (history.aggregateType !== aggregateType) continue
          for (const snapshot of history.snapshots) {
            if (latest === undefined || isLater(snapshot, latest)) latest = snapshot
          }
        }
        return Option.fromNullishOr(latest)
      }),
    keys: (aggregateType) =>
      Stream.unwrap(Effect.map(Ref.get(ref), (histories) => {
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
        return Stream.fromArray(keys.sort(compareKeys))
      })),
    prune: ({ aggregateType, cutoff, keepLast }) =>
      write((histories, undoable): readonly [number, Histories | undefined, Undo | undefined] => {
        let deleted = 0
        let next = histories
        const removed: Array<readonly [string, ReadonlyArray<Snapshot>]> = []
        for (const [key, history] of histories) {
          if (aggregateType !== undefined && history.aggregateType !== aggregateType) continue
          const snapshots = history.snapshots
          const firstKept = snapshots.length - keepLast
          if (firstKept <= 0) continue
          const kept = snapshots.filter((snapshot, index) =>
            index >= firstKept || (cutoff !== undefined && DateTime.toEpochMillis(snapshot.createdAt) >= cutoff)
          )
          if (kept.length === snapshots.length) continue
          deleted += snapshots.length - kept.length
          next = HashMap.set(next, key, { ...history, snapshots: kept })
          if (undoable) removed.push([key, snapshots.filter((snapshot) => !kept.includes(snapshot))])
        }
        if (deleted === 0) return [0, undefined, undefined]
        return [
          deleted,
          next,
          undoable
            ? (current) => removed.reduce((acc, [key, snapshots]) => insertAll(acc, key, snapshots), current)
            : undefined
        ]
      })
  }
}

/** @internal */
export const make: Effect.Effect<SnapshotStoreBackend.Store> = Effect.map(
  Ref.make(HashMap.empty<string, History>()),
  (ref) => backend.make(makeBackend(ref))
)
