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
import type { SaveIfDueResult, SnapshotStoreService } from "../SnapshotStore.js"
import type * as SnapshotStoreBackend from "../SnapshotStoreBackend.js"
import type * as UnitOfWork from "../UnitOfWork.js"
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

/** The histories without this very snapshot (by identity: not another one saved with its version since). */
const removeExact = (histories: Histories, key: string, snapshot: Snapshot): Histories => {
  const history = Option.getOrUndefined(HashMap.get(histories, key))
  if (history === undefined || !history.snapshots.includes(snapshot)) return histories
  const kept = history.snapshots.filter((s) => s !== snapshot)
  return kept.length === 0
    ? HashMap.remove(histories, key)
    : HashMap.set(histories, key, { ...history, snapshots: kept })
}

/**
 * One snapshot a write inserts or removes. In a unit the changes wait in the unit's transaction and reach the
 * shared histories when it commits; an insert of a version stored meanwhile is then a no-op (as SQL's
 * `ON CONFLICT DO NOTHING`), the removal of a snapshot removed meanwhile too.
 */
interface Change {
  readonly key: string
  readonly snapshot: Snapshot
  readonly removed: boolean
  /** `saveIfDue`'s condition, decided again when a unit's change is published (another writer may have won). */
  readonly dueFrom?: number | undefined
}

const covered = (histories: Histories, change: Change): boolean => {
  if (change.dueFrom === undefined) return false
  const snapshots = historyOf(histories, change.snapshot.aggregateType, change.snapshot.aggregateId)
  const newest = snapshots[snapshots.length - 1]
  return newest !== undefined && newest.version >= change.dueFrom
}

const apply = (histories: Histories, change: Change): Histories =>
  change.removed
    ? removeExact(histories, change.key, change.snapshot)
    : covered(histories, change)
    ? histories
    : insert(histories, change.key, change.snapshot) ?? histories

const applyAll = (histories: Histories, changes: ReadonlyArray<Change>): Histories => changes.reduce(apply, histories)

/** `snapshot` inserted, as a change; none when its version is stored already (idempotent). */
const inserted = (histories: Histories, snapshot: Snapshot): ReadonlyArray<Change> => {
  const key = memoryKey(snapshot.aggregateType, snapshot.aggregateId)
  return insert(histories, key, snapshot) === undefined ? [] : [{ key, snapshot, removed: false }]
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

/** The memory backend on a `Ref` of histories. @internal */
export const makeBackend = (ref: Ref.Ref<Histories>): SnapshotStoreBackend.Backend => {
  // Each open transaction's changes, in order (kept in the transaction until it ends: see `write`).
  const pending = new Map<UnitOfWork.Transaction, Array<Change>>()
  /** What the fiber sees: the committed histories, with its transaction's own changes on top (read committed). */
  const read: Effect.Effect<Histories> = Effect.flatMap(Effect.serviceOption(unitOfWork.CurrentUnit), (unit) => {
    const own = Option.isSome(unit) ? pending.get(unit.value.transaction) : undefined
    return own === undefined ? Ref.get(ref) : Effect.map(Ref.get(ref), (histories) => applyAll(histories, own))
  })
  // A persistent map: a reader holding it sees a consistent state while writers replace it. `f` answers its
  // result and its changes, computed on what the fiber sees.
  const write = <A>(f: (histories: Histories) => readonly [A, ReadonlyArray<Change>]): Effect.Effect<A> =>
    Effect.flatMap(Effect.serviceOption(unitOfWork.CurrentUnit), (unit) => {
      if (Option.isNone(unit)) {
        return Ref.modify(ref, (histories) => {
          const [result, changes] = f(histories)
          return [result, applyAll(histories, changes)]
        })
      }
      // In a unit: the changes stay the transaction's (visible to it alone) until it ends, published if it
      // commits, dropped if it rolls back; a failed nested unit takes back its own. All of it in one step.
      const transaction = unit.value.transaction
      return Effect.uninterruptible(Effect.flatMap(Ref.get(ref), (histories) => {
        const known = pending.get(transaction)
        const own = known ?? []
        const [result, changes] = f(applyAll(histories, own))
        if (changes.length === 0) return Effect.succeed(result)
        const mark = own.length
        own.push(...changes)
        if (known === undefined) pending.set(transaction, own)
        const takeBack = unit.value.onRollback(Effect.sync(() => {
          own.length = Math.min(own.length, mark)
        }))
        return Effect.as(
          known !== undefined ? takeBack : Effect.andThen(
            transaction.onEnd((outcome) =>
              Effect.andThen(
                Effect.sync(() => pending.delete(transaction)),
                outcome === "Committed" ? Ref.update(ref, (current) => applyAll(current, own)) : Effect.void
              )
            ),
            takeBack
          ),
          result
        )
      }))
    })

  return {
    name: "memory",
    transactions: "join",
    insert: (snapshot) => write((histories) => [undefined, inserted(histories, snapshot)]),
    insertIfDue: (snapshot, dueFrom) =>
      write((histories): readonly [SaveIfDueResult, ReadonlyArray<Change>] => {
        const snapshots = historyOf(histories, snapshot.aggregateType, snapshot.aggregateId)
        const newest = snapshots[snapshots.length - 1]
        if (newest !== undefined && newest.version >= dueFrom) return ["AlreadyCovered", []]
        return ["Written", inserted(histories, snapshot).map((change) => ({ ...change, dueFrom }))]
      }),
    newest: (aggregateType, aggregateId, maxVersion) =>
      Effect.map(read, (histories) => {
        const snapshots = historyOf(histories, aggregateType, aggregateId)
        for (let i = snapshots.length - 1; i >= 0; i--) {
          if (maxVersion === undefined || snapshots[i]!.version <= maxVersion) return Option.some(snapshots[i]!)
        }
        return Option.none()
      }),
    history: (aggregateType, aggregateId) =>
      Effect.map(read, (histories) => historyOf(histories, aggregateType, aggregateId).map(toInfo)),
    remove: (aggregateType, aggregateId, version) => {
      const key = memoryKey(aggregateType, aggregateId)
      return write((histories) => {
        const removed = historyOf(histories, aggregateType, aggregateId).filter((s) =>
          version === undefined || s.version === version
        )
        return [removed.length, removed.map((snapshot) => ({ key, snapshot, removed: true }))]
      })
    },
    latestOfType: (aggregateType) =>
      Effect.map(read, (histories) => {
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
      Stream.unwrap(Effect.map(read, (histories) => {
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
      write((histories): readonly [number, ReadonlyArray<Change>] => {
        const removed: Array<Change> = []
        for (const [key, history] of histories) {
          if (aggregateType !== undefined && history.aggregateType !== aggregateType) continue
          const snapshots = history.snapshots
          const firstKept = snapshots.length - keepLast
          if (firstKept <= 0) continue
          const kept = snapshots.filter((snapshot, index) =>
            index >= firstKept || (cutoff !== undefined && DateTime.toEpochMillis(snapshot.createdAt) >= cutoff)
          )
          for (const snapshot of snapshots) {
            if (!kept.includes(snapshot)) removed.push({ key, snapshot, removed: true })
          }
        }
        return [removed.length, removed]
      })
  }
}

/** @internal */
export const make: Effect.Effect<SnapshotStoreService> = Effect.map(
  Ref.make(HashMap.empty<string, History>()),
  (ref) => backend.make(makeBackend(ref))
)
