/**
 * The load path: one start (a state this process knows, the newest snapshot, or the whole stream) and one fold
 * (`replay.ts`). A start the stream disproves falls back to the next (cache → stores; snapshot → replay). A
 * load that found an unusable (or migrated) snapshot answers the replacement to write as `repair`; it writes
 * nothing itself.
 *
 * @internal
 */
import type { SnapshotStore } from "@effect-snapshots/store"
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Semaphore from "effect/Semaphore"
import type * as Aggregate from "../Aggregate.js"
import type { LoadError } from "../EventSourcedRepository.js"
import type { EventStoreService, StoredEvent } from "../EventStore.js"
import { AggregateNotFound } from "../RepositoryError.js"
import type * as SnapshotMetrics from "../SnapshotMetrics.js"
import type * as ColdRead from "./coldRead.js"
import type * as Commit from "./commit.js"
import { type Known, type KnownStateCache, type LastSnapshot } from "./knownStateCache.js"
import type * as MigrationCheck from "./migrationCheck.js"
import type { Ops } from "./ops.js"
import * as Replay from "./replay.js"
import * as Restore from "./restore.js"
import { cut, quote } from "./text.js"

/** What a load answers. @internal */
export interface Loaded<S> {
  readonly known: Known<S>
  /** Where the fold started. */
  readonly source: "cache" | "snapshot" | "replay"
  readonly snapshotVersion: Option.Option<number>
  /** How many events this load folded. */
  readonly replayed: number
  /** The replacement of an unusable (or migrated) snapshot, for the writer. */
  readonly repair: Option.Option<Repair<S>>
  /** A migrated snapshot this load discarded: its state differed from the full replay (the migration check). */
  readonly migrationMismatch: MigrationCheck.Mismatch | undefined
}

/**
 * A repair request: write a snapshot of `known`, deleting first the stored versions in `obsolete` (an unusable
 * snapshot that the new one would not hide).
 *
 * @internal
 */
export interface Repair<S> {
  readonly known: Known<S>
  readonly obsolete: ReadonlyArray<number>
}

/** What the load path works with. @internal */
export interface Deps<S, E> {
  readonly ops: Ops<S, E>
  readonly events: EventStoreService
  readonly snapshots: SnapshotStore.SnapshotStoreService
  /** The one-statement first read of a cold load, when the stores have one. */
  readonly coldRead: Option.Option<ColdRead.Read>
  readonly cache: KnownStateCache<S>
  readonly fallback: Semaphore.Semaphore
  /** Compares a migrated state with a full replay, on a share of loads (every load of verify and rebuild). */
  readonly migrationCheck: MigrationCheck.Checker<S>
  readonly metrics: ReturnType<typeof SnapshotMetrics.forAggregateType>
}

/** Where a load starts. */
type Start<S> =
  | { readonly _tag: "Cache"; readonly cached: Known<S> }
  | {
    readonly _tag: "Snapshot"
    readonly usable: Extract<Restore.Probed<S>, { readonly _tag: "Usable" }>
    readonly stateBytes: number | undefined
    readonly firstPage: ReadonlyArray<StoredEvent> | undefined
  }
  | {
    readonly _tag: "Replay"
    readonly firstPage: ReadonlyArray<StoredEvent> | undefined
    readonly lastSnapshot: LastSnapshot | undefined
    /** A stored snapshot that cannot be used, to be replaced (its version; undefined when unknown). */
    readonly unusable: { readonly version: number | undefined } | undefined
  }

/** What is known of the last snapshot is a hint once remembered: another process may have written one since. */
export const hint = (last: LastSnapshot | undefined): LastSnapshot | undefined =>
  last === undefined || last.source === "hint" ? last : { ...last, source: "hint" }

/** A stream without events: its state is known without reading anything. @internal */
export const empty = <S, E>(ops: Ops<S, E>, id: string): Known<S> => ({
  version: 0,
  state: ops.initial(id),
  position: 0,
  lastSnapshot: undefined,
  replayed: Option.none(),
  duration: Option.none(),
  encodedBytes: undefined
})

/** Remember what this fiber learned, once it is committed; never inside a bare transaction. @internal */
export const remember = <S>(cache: KnownStateCache<S>, id: string, known: Known<S>, route: Commit.Route) =>
  route.cacheable
    ? route.afterCommit(Effect.sync(() => cache.set(id, { ...known, lastSnapshot: hint(known.lastSnapshot) })))
    : Effect.sync(() => cache.delete(id))

/** A snapshot at `version` was written: the cached entry learns it (a hint). @internal */
export const written =
  <S>(cache: KnownStateCache<S>) => (id: string, version: number, at: DateTime.Utc, bytes: number) =>
    Effect.sync(() =>
      cache.modify(id, (known) =>
        Option.getOrElse(known.lastSnapshot?.version ?? Option.none(), () => 0) > version ?
          known :
          {
            ...known,
            lastSnapshot: { version: Option.some(version), at: Option.some(at), source: "hint" },
            replayed: Option.none(),
            duration: Option.none(),
            encodedBytes: known.version === version ? bytes : known.encodedBytes
          })
    )

/** What is known of the last snapshot when the store answered and none is usable. */
const nothingStored: LastSnapshot = { version: Option.none(), at: Option.none(), source: "real" }

/**
 * The replacement of a stored snapshot at `old` by one of `known`. A new snapshot at a higher version hides
 * the old one; at the same or a lower version the old one must go first (of an unreadable one whose version is
 * unknown, whatever is stored at the new snapshot's version).
 */
const replacement = <S>(known: Known<S>, old: number | undefined): Repair<S> => ({
  known,
  obsolete: old === undefined ? [known.version] : old >= known.version ? [old] : []
})

/** @internal */
export const make = <S, E>(deps: Deps<S, E>) => {
  const { cache, events, metrics, ops, snapshots } = deps
  const type = ops.type

  /**
   * The stores' newest snapshot and first page of events in one statement, when they have a cold read; none
   * otherwise, or when that statement failed (the two calls then find out what is wrong, as on other stores).
   */
  const readCold = (id: string): Effect.Effect<Option.Option<ColdRead.ColdRows>> =>
    Option.match(deps.coldRead, {
      onNone: () => Effect.succeedNone,
      onSome: (read) =>
        Effect.catch(read(type, id, Replay.pageSize), (error) =>
          Effect.as(
            Effect.logDebug(`Cold load of ${type} ${quote(id)} in one statement failed, reading with two calls`).pipe(
              Effect.annotateLogs({ aggregateType: type, aggregateId: cut(id), cause: error.message })
            ),
            Option.none()
          ))
    })

  /** The stores' start: probe (or the cold read) and restore; a replay when no snapshot is usable. */
  const fromStores = Effect.fnUntraced(function*(id: string) {
    const cold = Option.getOrUndefined(yield* readCold(id))
    const probed = cold === undefined
      ? yield* Restore.probe(snapshots, ops, id, metrics.skipped)
      : yield* Restore.classify(snapshots, ops, id, metrics.skipped, cold.snapshot)
    switch (probed._tag) {
      case "Usable":
        return {
          _tag: "Snapshot",
          usable: probed,
          // The snapshot's encoded length when the one-statement read measured it (else the cache estimates).
          stateBytes: cold?.stateBytes,
          firstPage: cold?.events
        } satisfies Start<S>
      case "Absent":
        return {
          _tag: "Replay",
          firstPage: cold?.events,
          lastSnapshot: probed.known ? nothingStored : undefined,
          unusable: undefined
        } satisfies Start<S>
      case "Unusable":
        return {
          _tag: "Replay",
          firstPage: undefined,
          lastSnapshot: nothingStored,
          unusable: { version: probed.version }
        } satisfies Start<S>
    }
  })

  const start = (id: string, useCache: boolean): Effect.Effect<Start<S>> => {
    const cached = useCache ? cache.get(id) : undefined
    return cached === undefined ? fromStores(id) : Effect.succeed({ _tag: "Cache", cached })
  }

  /** The start after `start` was disproved by the stream. */
  const next = (id: string, start: Start<S>, unusable: Replay.Unusable): Effect.Effect<Start<S>> => {
    switch (start._tag) {
      case "Cache":
        return Effect.andThen(Effect.sync(() => cache.delete(id)), fromStores(id))
      case "Snapshot": {
        const { version } = start.usable.snapshot
        return Effect.as(
          Restore.skip(type, id, metrics.skipped, unusable.reason, unusable.message, version),
          { _tag: "Replay", firstPage: undefined, lastSnapshot: nothingStored, unusable: { version } } as const
        )
      }
      case "Replay":
        return Effect.die(unusable) // a replay from version 0 has no head to disprove
    }
  }

  /**
   * What a fold from `start` reached, as the load answers it. `checked`: a migrated snapshot's state was found
   * equal to the full replay, so it is re-saved at the current schema version (an unchecked one never is: once
   * stored, a wrong state would not be migrated, so not checked, again).
   */
  const loaded = (start: Start<S>, state: S, reached: Replay.Reached, checked = false): Loaded<S> => {
    const at = { state, version: reached.version, position: reached.position }
    switch (start._tag) {
      case "Cache":
        return {
          known: {
            ...start.cached,
            ...at,
            lastSnapshot: hint(start.cached.lastSnapshot),
            encodedBytes: reached.replayed === 0 ? start.cached.encodedBytes : undefined
          },
          source: "cache",
          snapshotVersion: Option.none(),
          replayed: reached.replayed,
          repair: Option.none(),
          migrationMismatch: undefined
        }
      case "Snapshot": {
        const { migrated, snapshot } = start.usable
        const known: Known<S> = {
          ...at,
          lastSnapshot: { version: Option.some(snapshot.version), at: Option.some(snapshot.createdAt), source: "real" },
          replayed: Option.none(),
          duration: Option.none(),
          encodedBytes: reached.replayed === 0 ? start.stateBytes : undefined,
          ...(migrated && !checked ? { migrationUnchecked: true as const } : {})
        }
        return {
          known,
          source: "snapshot",
          snapshotVersion: Option.some(snapshot.version),
          replayed: reached.replayed,
          // A checked migrated snapshot is replaced by one of the state just built, at the current schema version.
          repair: migrated && checked ? Option.some(replacement(known, snapshot.version)) : Option.none(),
          migrationMismatch: undefined
        }
      }
      case "Replay": {
        const known: Known<S> = {
          ...at,
          lastSnapshot: start.lastSnapshot,
          replayed: Option.none(),
          duration: Option.none(),
          encodedBytes: undefined
        }
        return {
          known,
          source: "replay",
          snapshotVersion: Option.none(),
          replayed: reached.replayed,
          repair: start.unusable === undefined
            ? Option.none()
            : Option.some(replacement(known, start.unusable.version)),
          migrationMismatch: undefined
        }
      }
    }
  }

  /** The sink of a fold: each event decoded and evolved into `acc.state`. */
  const foldInto = (acc: { state: S }): Replay.Sink<Aggregate.EventDecodeError> => ({
    take: (stored) => {
      const decoded = ops.decodeEvent(stored)
      if (decoded._tag === "Failure") return decoded.failure
      acc.state = ops.evolve(acc.state, decoded.success)
      return undefined
    }
  })

  /** The whole stream up to `toVersion` from the initial state (verify's other side), inside the fallback budget. */
  const replayAll = (id: string, toVersion: number) =>
    Effect.suspend(() => {
      const acc = { state: ops.initial(id) }
      return Replay.run(
        events,
        type,
        id,
        { version: 0, position: undefined },
        { toVersion, fallback: deps.fallback },
        foldInto(acc)
      ).pipe(
        Effect.map((reached): Known<S> => ({
          version: reached.version,
          state: acc.state,
          position: reached.position,
          lastSnapshot: undefined,
          replayed: Option.some(reached.replayed),
          duration: Option.none(),
          encodedBytes: undefined
        })),
        Effect.catchTag("Unusable", Effect.die) // a replay from version 0 has no head to disprove
      )
    })

  /**
   * A migrated snapshot's state, tail folded, checked against the full replay when the check is due (`always`:
   * verify and rebuild). On a difference the replay is the load's state and replaces the snapshot.
   */
  const checkMigrated = (
    id: string,
    start: Extract<Start<S>, { readonly _tag: "Snapshot" }>,
    state: S,
    reached: Replay.Reached,
    always: boolean
  ): Effect.Effect<Loaded<S>, LoadError> =>
    Effect.map(
      deps.migrationCheck.check({
        id,
        snapshot: start.usable.snapshot,
        acc: { state, version: reached.version, replayed: reached.replayed },
        always,
        replay: (toVersion) => replayAll(id, toVersion)
      }),
      (checked): Loaded<S> => {
        if (checked._tag !== "Mismatch") return loaded(start, state, reached, checked._tag === "Consistent")
        const known: Known<S> = { ...checked.replay, lastSnapshot: nothingStored, replayed: Option.none() }
        return {
          known,
          source: "replay",
          snapshotVersion: Option.none(),
          replayed: Option.getOrElse(checked.replay.replayed, () => checked.replay.version),
          repair: Option.some(replacement(known, start.usable.snapshot.version)),
          migrationMismatch: checked.mismatch
        }
      }
    )

  /** The one fold: the events after the start's state. */
  const fold = (id: string, start: Start<S>, checkAll: boolean) => {
    const from = start._tag === "Cache"
      ? { state: start.cached.state, version: start.cached.version, position: start.cached.position }
      : start._tag === "Snapshot"
      ? {
        state: start.usable.state,
        version: start.usable.snapshot.version,
        position: ops.recordedPosition(start.usable.snapshot.metadata)
      }
      : { state: ops.initial(id), version: 0, position: undefined }
    const acc = { state: from.state }
    return Replay.run(events, type, id, from, {
      firstPage: start._tag === "Cache" ? undefined : start.firstPage,
      fallback: start._tag === "Replay" ? deps.fallback : undefined
    }, foldInto(acc)).pipe(Effect.flatMap((reached) => {
      if (start._tag === "Replay" && reached.version === 0) {
        return Effect.fail(new AggregateNotFound({ aggregateType: type, aggregateId: id }))
      }
      return start._tag === "Snapshot" && start.usable.migrated
        ? checkMigrated(id, start, acc.state, reached, checkAll)
        : Effect.succeed(loaded(start, acc.state, reached))
    }))
  }

  /** Runs `start` through the fold, and the next start when the stream disproves it. */
  const attempt = (id: string, begun: Start<S>, checkAll: boolean): Effect.Effect<Loaded<S>, LoadError> =>
    Effect.catchTag(
      fold(id, begun, checkAll),
      "Unusable",
      (unusable) => Effect.flatMap(next(id, begun, unusable), (after) => attempt(id, after, checkAll))
    )

  /**
   * Metrics, and what the load learned remembered (after the commit). The metrics are updated in place, in the
   * fiber's context: one step for all of them on the hot path.
   */
  const finish = (id: string, result: Loaded<S>, clock: Clock.Clock, started: bigint, route: Commit.Route) =>
    Effect.contextWith((context: Context.Context<never>): Effect.Effect<Loaded<S>> => {
      const duration = Duration.nanos(clock.currentTimeNanosUnsafe() - started)
      const fromCache = result.source === "cache"
      const known: Known<S> = fromCache
        ? result.known
        : { ...result.known, replayed: Option.some(result.replayed), duration: Option.some(duration) }
      const sourceCounter = fromCache ? metrics.cacheHits : result.source === "snapshot" ? metrics.hits : metrics.misses
      sourceCounter.updateUnsafe(1, context)
      metrics.replayed.updateUnsafe(result.replayed, context)
      metrics.duration.updateUnsafe(duration, context)
      const answer: Loaded<S> = fromCache ? result : { ...result, known }
      return !fromCache || result.replayed > 0
        ? Effect.as(remember(cache, id, known, route), answer)
        : Effect.succeed(answer)
    })

  /** `useCache: false` reads the stores (verify and rebuild compare and write what they hold). */
  const load = (id: string, route: Commit.Route, useCache = true): Effect.Effect<Loaded<S>, LoadError> =>
    Effect.clockWith((clock) => {
      const started = clock.currentTimeNanosUnsafe()
      // Without the cache (verify, rebuild) every migrated state is checked against the full replay.
      return Effect.flatMap(
        Effect.flatMap(start(id, useCache), (begun) => attempt(id, begun, !useCache)),
        (result) => finish(id, result, clock, started, route)
      )
    })

  return { load, replayAll }
}
