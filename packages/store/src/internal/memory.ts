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
import type * as UnitOfWork from "../UnitOfWork.js"
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
}

const apply = (histories: Histories, change: Change): Histories =>
  change.removed
    ? removeExact(histories, change.key, change.snapshot)
    : insert(histories, change.key, change.snapshot) ?? histories

const applyAll = (histories: Histories, changes: ReadonlyArray<Change>): Histories => changes.reduce(apply, histories)

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
      save: (snapshot) =>
        Effect.suspend(() => {
          const error = validate.checkSnapshot(snapshot)
          if (error !== undefined) return Effect.fail(error)
          const stored = toSnapshot(snapshot)
          const key = memoryKey(stored.aggregateType, stored.aggregateId)
          // An existing version is kept as it is (idempotent): no change.
          return write((histories) => [
            undefined,
            insert(histories, key, stored) === undefined ? [] : [{ key, snapshot: stored, removed: false }]
          ])
        }),
      saveIfDue: (snapshot, options) =>
        Effect.suspend(() => {
          const error = validate.checkSaveIfDue(snapshot, options)
          if (error !== undefined) return Effect.fail(error)
          const stored = toSnapshot(snapshot)
          const key = memoryKey(stored.aggregateType, stored.aggregateId)
          // The check and the write are one `Ref` update: atomic.
          return write((histories): readonly [SaveIfDueResult, ReadonlyArray<Change>] => {
            const snapshots = historyOf(histories, stored.aggregateType, stored.aggregateId)
            const newest = snapshots[snapshots.length - 1]
            if (newest !== undefined && newest.version >= options.dueFrom) return ["AlreadyCovered", []]
            return [
              "Written",
              insert(histories, key, stored) === undefined ? [] : [{ key, snapshot: stored, removed: false }]
            ]
          })
        }),
      load: (aggregateType, aggregateId, options) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkMaxVersion(options?.maxVersion)
          if (error !== undefined) return Effect.fail(error)
          const maxVersion = options?.maxVersion ?? Number.POSITIVE_INFINITY
          return Effect.map(read, (histories) => {
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
            read,
            (histories) => historyOf(histories, aggregateType, aggregateId).map(toInfo)
          )
        }),
      delete: (aggregateType, aggregateId, options) =>
        Effect.suspend(() => {
          const error = validate.checkKey(aggregateType, aggregateId) ?? validate.checkDeleteVersion(options?.version)
          if (error !== undefined) return Effect.fail(error)
          const key = memoryKey(aggregateType, aggregateId)
          return write((histories) => {
            const version = options?.version
            const removed = historyOf(histories, aggregateType, aggregateId).filter((s) =>
              version === undefined || s.version === version
            )
            return [removed.length, removed.map((snapshot) => ({ key, snapshot, removed: true }))]
          })
        }),
      latestForType: (aggregateType) =>
        Effect.suspend(() => {
          const error = validate.checkType(aggregateType)
          if (error !== undefined) return Effect.fail(error)
          return Effect.map(read, (histories) => {
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
          return Effect.map(read, (histories) => {
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
            return write((histories): readonly [PruneResult, ReadonlyArray<Change>] => {
              const removed: Array<Change> = []
              for (const [key, history] of histories) {
                if (options.aggregateType !== undefined && history.aggregateType !== options.aggregateType) continue
                const snapshots = history.snapshots
                const firstKept = snapshots.length - options.keepLast
                if (firstKept <= 0) continue
                const kept = snapshots.filter((snapshot, index) =>
                  index >= firstKept || (cutoff !== undefined && DateTime.toEpochMillis(snapshot.createdAt) >= cutoff)
                )
                for (const snapshot of snapshots) {
                  if (!kept.includes(snapshot)) removed.push({ key, snapshot, removed: true })
                }
              }
              return [{ deleted: removed.length }, removed]
            })
          })
        })
    }
  }
)
