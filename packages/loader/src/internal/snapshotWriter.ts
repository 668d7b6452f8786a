/**
 * The one snapshot writer, for inline and background mode: it writes a job's state, or loads the aggregate and
 * decides again with what it learned. In background mode jobs go through a bounded, dropping `Queue` drained by
 * one fiber of the repository's scope.
 *
 * What it guarantees (tested in test/RepositoryWriter.test.ts):
 * - every accepted request is written, failed (logged, counted) or merged into a newer request for the same
 *   aggregate of its batch; a request offered after the scope began to close is refused ("dropped", counted):
 *   `Queue.offerUnsafe` answers false once the queue is ended, and nothing is ever interrupted to close it;
 * - closing the scope ends the queue (`Queue.end`) and waits until the writer has drained it;
 * - `flush` returns once every request accepted before it has been handled (a synchronous counter, raised in
 *   the same step as the offer that it counts, so no interruption can leave it raised);
 * - merging a batch keeps every `obsolete` delete of the merged requests.
 *
 * @internal
 */
import { Snapshot, type SnapshotStore, Storable } from "@effect-snapshots/store"
import type * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { SnapshotOutcome } from "../EventSourcedRepository.js"
import type * as SnapshotMetrics from "../SnapshotMetrics.js"
import * as Commit from "./commit.js"
import type * as Decision from "./decision.js"
import type { Known, LastSnapshot } from "./knownStateCache.js"
import * as Load from "./load.js"
import type { Ops } from "./ops.js"
import { cut, quote } from "./text.js"

/** A snapshot request. @internal */
export interface Job<S> {
  readonly id: string
  /** The version it is for (the newest request per aggregate wins a batch). */
  readonly version: number
  /** The state to write; none: load the aggregate, then decide again on what the load learned. */
  readonly known: Option.Option<Known<S>>
  /** Stored versions to delete first (unusable snapshots that a new one would not hide). */
  readonly obsolete: ReadonlyArray<number>
  /**
   * The decision's input: for a job without a state, taken again after the load; for one with a state that
   * waited in the background writer's queue, confirmed right before the write.
   */
  readonly decide: Option.Option<Decision.Input>
}

/** @internal */
export interface Writer<S> {
  /** Write now (inline, or inside a bare transaction), or hand to the background writer (after the commit in a unit). */
  readonly submit: (job: Job<S>, route: Commit.Route) => Effect.Effect<SnapshotOutcome>
  /** Write now, whatever the mode (verify's repair). */
  readonly run: (job: Job<S>, route: Commit.Route) => Effect.Effect<SnapshotOutcome>
  /** `submit` the replacement a load asked for; undefined when it asked for none. */
  readonly repair: (
    id: string,
    loaded: Load.Loaded<S>,
    route: Commit.Route
  ) => Effect.Effect<SnapshotOutcome | undefined>
  /** Wait until every request accepted before has been handled (immediate in inline mode). */
  readonly flush: Effect.Effect<void>
}

/** @internal */
export interface Options<S, E> {
  readonly ops: Ops<S, E>
  readonly snapshots: SnapshotStore.SnapshotStoreService
  readonly metrics: ReturnType<typeof SnapshotMetrics.forAggregateType>
  readonly decide: Decision.Decide
  /** The load; `useCache: false` reads the stores and checks a migrated snapshot against the full replay. */
  readonly load: (
    id: string,
    route: Commit.Route,
    useCache?: boolean
  ) => Effect.Effect<Load.Loaded<S>, { readonly message: string }>
  /** A snapshot of `id` at `version` was stored (runs after the commit in a unit). */
  readonly written: (id: string, version: number, at: DateTime.Utc, bytes: number) => Effect.Effect<void>
  readonly background: false | { readonly capacity: number; readonly concurrency: number }
}

/** The job of a load's repair request: the replacement is written whatever the strategy says. */
const repairJob = <S>(id: string, repair: Load.Repair<S>): Job<S> => ({
  id,
  version: repair.known.version,
  known: Option.some(repair.known),
  obsolete: repair.obsolete,
  decide: Option.none()
})

const repairWith = <S>(submit: Writer<S>["submit"]): Writer<S>["repair"] => (id, loaded, route) =>
  Option.match(loaded.repair, {
    onNone: () => Effect.succeed(undefined),
    onSome: (repair) => submit(repairJob(id, repair), route)
  })

/** Merge a batch: the newest request per aggregate, with every obsolete version of the merged ones. @internal */
export const merge = <S>(batch: Iterable<Job<S>>): Array<Job<S>> => {
  const newest = new Map<string, Job<S>>()
  for (const job of batch) {
    const seen = newest.get(job.id)
    if (seen === undefined) {
      newest.set(job.id, job)
      continue
    }
    const winner = job.version >= seen.version ? job : seen
    const obsolete = seen.obsolete.length === 0 && job.obsolete.length === 0
      ? winner.obsolete
      : Array.from(new Set([...seen.obsolete, ...job.obsolete]))
    newest.set(job.id, obsolete === winner.obsolete ? winner : { ...winner, obsolete })
  }
  return Array.from(newest.values())
}

/** @internal */
export const make = Effect.fnUntraced(function*<S, E>(
  options: Options<S, E>
): Effect.fn.Return<Writer<S>, never, Scope.Scope> {
  const { metrics, ops, snapshots } = options
  const type = ops.type

  const failed = (id: string, version: number, message: string) =>
    Effect.andThen(
      Metric.update(metrics.failures, 1),
      Effect.logWarning(`Snapshot of ${type} ${quote(id)} at version ${version} not written: ${message}`).pipe(
        Effect.annotateLogs({ aggregateType: type, aggregateId: cut(id), version })
      )
    ).pipe(Effect.as("failed" as const))

  // `dueFrom` (a strategy's decision) writes through `saveIfDue`, so that of several
  // instances acting on one due point exactly one writes; without it (a repair, rebuild, verify) a plain save.
  const write = Effect.fnUntraced(function*(
    id: string,
    known: Known<S>,
    obsolete: ReadonlyArray<number>,
    route: Commit.Route,
    dueFrom?: number
  ) {
    const encoded = ops.encodeState(known.state)
    if (Result.isFailure(encoded)) {
      return yield* failed(id, known.version, `the state does not encode: ${encoded.failure}`)
    }
    // Checked and stringified once: the stores reuse this text instead of walking the state again.
    const json = Storable.toJson(encoded.success)
    if (Result.isFailure(json)) {
      return yield* failed(id, known.version, `invalid snapshot: the state is not JSON: ${json.failure}`)
    }
    // The store's clock when it stamps snapshots itself (SQL): the time it will store.
    const createdAt = yield* (snapshots.now ?? DateTime.now)
    const snapshot = yield* Effect.try({
      try: () =>
        Snapshot.Snapshot.make({
          aggregateType: type,
          aggregateId: id,
          version: known.version,
          state: encoded.success,
          schemaVersion: ops.schemaVersion,
          createdAt,
          metadata: ops.snapshotMetadata(known.position)
        }),
      catch: (cause) => String(cause)
    }).pipe(Effect.result)
    if (Result.isFailure(snapshot)) {
      return yield* failed(id, known.version, `invalid snapshot: ${snapshot.failure}`)
    }
    const saved = yield* Effect.result(
      Effect.andThen(
        Effect.forEach(obsolete, (version) => snapshots.delete(type, id, { version }), { discard: true }),
        dueFrom === undefined
          ? Effect.as(snapshots.save(snapshot.success), "Written" as const)
          : snapshots.saveIfDue(snapshot.success, { dueFrom })
      )
    )
    if (Result.isFailure(saved)) return yield* failed(id, known.version, saved.failure.message)
    if (saved.success === "AlreadyCovered") {
      // Another writer (another instance's) wrote the snapshot for this due point first: not written here.
      return yield* Effect.as(
        Effect.andThen(
          Metric.update(metrics.covered, 1),
          Effect.logDebug(
            `Snapshot of ${type} ${quote(id)} at version ${known.version} not written: already covered ` +
              `(a snapshot at or past version ${dueFrom} is stored)`
          ).pipe(Effect.annotateLogs({ aggregateType: type, aggregateId: cut(id), version: known.version }))
        ),
        "none" as const
      )
    }
    // Written once the store answered; in a unit, counted and remembered once the unit committed.
    const bytes = json.success.length
    yield* route.afterCommit(
      Effect.andThen(
        Metric.update(metrics.written, 1),
        route.cacheable ? options.written(id, known.version, createdAt, bytes) : Effect.void
      )
    )
    return "written" as const
  })

  /** The strategy's decision on `input` taken again at `currentVersion`, on what is known of `last`. */
  const decidesAgain = (input: Decision.Input, currentVersion: number, last: LastSnapshot | undefined) =>
    options.decide({ ...input, currentVersion, last })

  /**
   * The due point of a yes at `version`, for `saveIfDue`: the lowest version v such that, had a
   * snapshot at v been taken at the decision's time, the strategy would not have asked for this one (for
   * `eventsSinceSnapshot(n)`: version - n + 1; for `afterDuration`: the version after the last snapshot's, as a
   * newer snapshot was written since the decision read it). Searched between the last snapshot the decision
   * rested on (it must have been read from the store: `real`) and `version`, by bisection, which assumes the
   * strategy says yes less often the newer the last snapshot (all but `not` and `custom`). A yes that even a
   * snapshot at `version` itself would not stop (`everyNEvents`, `onEventTypes`, `always`...) has no due
   * point: then, as without a real last snapshot, `version` (never a snapshot at or behind a stored one).
   */
  const dueFromOf = Effect.fnUntraced(function*(input: Decision.Input, version: number, decided: Decision.Decided) {
    const last = decided.last
    if (last?.source !== "real") return version
    const after = Option.getOrElse(last.version, () => 0)
    const coveredBy = (v: number) =>
      Effect.map(
        decidesAgain(input, version, { version: Option.some(v), at: Option.some(input.now), source: "real" }),
        ({ decision }) => !decision.take
      )
    if (after >= version || !(yield* coveredBy(version))) return version
    let low = after + 1
    let high = version
    while (low < high) {
      const middle = Math.floor((low + high) / 2)
      if (yield* coveredBy(middle)) high = middle
      else low = middle + 1
    }
    return high
  })

  /** Write `known` if the decision says yes, with the due point it computed. */
  const writeIfDue = (
    job: Job<S>,
    known: Known<S>,
    input: Decision.Input,
    decided: Decision.Decided,
    route: Commit.Route
  ) =>
    decided.decision.take
      ? Effect.flatMap(dueFromOf(input, known.version, decided), (dueFrom) =>
        write(job.id, known, job.obsolete, route, dueFrom))
      : Effect.succeed("none" as const)

  /** The job's own state written, if the decision (confirmed when the job waited in the queue) still says yes. */
  const writeKnown = (job: Job<S>, known: Known<S>, route: Commit.Route, queued: boolean) => {
    if (Option.isNone(job.decide)) return write(job.id, known, job.obsolete, route)
    const input = job.decide.value
    return queued
      ? Effect.flatMap(
        decidesAgain(input, known.version, Load.hint(input.last)),
        (decided) => writeIfDue(job, known, input, decided, route)
      )
      // Decided just now, on `input.last` (the last snapshot that decision rested on).
      : writeIfDue(job, known, input, { decision: { take: true, reasons: [] }, last: input.last }, route)
  }

  /**
   * The aggregate loaded, and the job decided again on what the load learned. `useCache: false` reads the
   * stores, so a migrated snapshot is checked against the full replay.
   */
  const loadAndWrite = (job: Job<S>, route: Commit.Route, useCache: boolean): Effect.Effect<SnapshotOutcome> =>
    Effect.matchEffect(options.load(job.id, route, useCache), {
      onFailure: (e) => failed(job.id, job.version, `the aggregate could not be loaded: ${e.message}`),
      onSuccess: ({ known: loaded, repair }) => {
        // The load found an unusable (or migrated) snapshot: its replacement is this job's write.
        if (Option.isSome(repair)) return run(repairJob(job.id, repair.value), route)
        const last = loaded.lastSnapshot === undefined
          ? 0
          : Option.getOrElse(loaded.lastSnapshot.version, () => 0)
        // A cached state built on an unchecked migration: loaded again from the stores, checked.
        if (loaded.migrationUnchecked === true) {
          return useCache ? loadAndWrite(job, route, false) : Effect.succeed("none" as const)
        }
        if (last >= loaded.version) return Effect.succeed("none" as const)
        return Option.match(job.decide, {
          onNone: () => write(job.id, loaded, job.obsolete, route),
          onSome: (input) =>
            Effect.flatMap(
              decidesAgain(
                input,
                loaded.version,
                // In the background another instance's writer may be deciding at the same time: a yes is
                // confirmed with a fresh read of the real last snapshot, right before the write.
                options.background === false ? loaded.lastSnapshot : Load.hint(loaded.lastSnapshot)
              ),
              (decided) => writeIfDue(job, loaded, input, decided, route)
            )
        })
      }
    })

  /**
   * A job: write its state, or load the aggregate and decide again on what the load learned. `queued`: the job
   * waited in the background writer's queue, so a yes taken at save time is confirmed right before the
   * write (since the decision, this writer or another instance's may have written the snapshot it called for,
   * and what the save knew of the last snapshot, even read from the store, is then out of date). A state built
   * on a migration the check skipped is never written as it is: the aggregate is loaded from the stores, checked.
   */
  const run = (job: Job<S>, route: Commit.Route, queued = false): Effect.Effect<SnapshotOutcome> =>
    Option.match(job.known, {
      onSome: (known) =>
        known.migrationUnchecked === true
          ? loadAndWrite(job, route, false)
          : writeKnown(job, known, route, queued),
      onNone: () => loadAndWrite(job, route, true)
    }).pipe(
      // A defect in a job (a throwing fold, a store's bug) is a failed snapshot, never a failed command.
      Effect.catchDefect((defect) => failed(job.id, job.version, `defect: ${String(defect)}`))
    )

  /**
   * Inline: the job now. In a unit with a store outside the transaction (Redis), the job runs once the unit
   * committed, through the store as decorated (its timeout bounds it): reported "queued", counted when written.
   */
  const runInline = (job: Job<S>, route: Commit.Route): Effect.Effect<SnapshotOutcome> =>
    route._tag === "Unit" && snapshots.writesAfterCommit === true
      ? Effect.as(route.afterCommit(Effect.asVoid(run(job, Commit.none))), "queued" as const)
      : run(job, route)

  if (options.background === false) {
    const writer: Writer<S> = { submit: runInline, run: runInline, repair: repairWith(runInline), flush: Effect.void }
    return writer
  }

  const { capacity, concurrency } = options.background
  const queue = yield* Queue.make<Job<S>, Cause.Done>({ capacity, strategy: "dropping" })
  let pending = 0
  const idle = new Set<(done: Effect.Effect<void>) => void>()
  const handled = (n: number) =>
    Effect.sync(() => {
      pending -= n
      if (pending === 0) {
        // Effect 4 runs a resumed fiber at once, inside `resume`: a waiter may flush again (and be added to
        // `idle`) before this loop ends, so resume only the ones waiting now.
        const waiting = Array.from(idle)
        idle.clear()
        for (const resume of waiting) resume(Effect.void)
      }
    })

  const runBatch = (batch: ReadonlyArray<Job<S>>) =>
    Effect.forEach(merge(batch), (job) => run(job, Commit.none, true), { concurrency, discard: true }).pipe(
      Effect.ensuring(handled(batch.length))
    )
  // The writer takes whatever is queued, writes it, and stops once the queue is ended and empty (`takeAll`
  // then fails with `Done`). It is never interrupted (closing ends the queue instead), so no request it took
  // can be lost; it stays interruptible inside, so a timeout (resilient's) can cut a store call that hangs.
  const loop: Effect.Effect<void> = Queue.takeAll(queue).pipe(
    Effect.matchEffect({
      onFailure: () => Effect.void,
      onSuccess: (batch) => Effect.andThen(runBatch(batch), loop)
    })
  )
  yield* Effect.acquireRelease(
    Effect.forkDetach(Effect.interruptible(loop)),
    (fiber) => Effect.andThen(Queue.end(queue), Fiber.await(fiber))
  )

  const offer = (job: Job<S>): Effect.Effect<SnapshotOutcome> =>
    Effect.suspend(() => {
      if (Queue.offerUnsafe(queue, job)) {
        pending++
        return Effect.succeed("queued" as const)
      }
      return Effect.andThen(
        Metric.update(metrics.drops, 1),
        Effect.as(
          Effect.logWarning(`Snapshot request for ${type} ${quote(job.id)} dropped: queue full or repository closed`),
          "dropped" as const
        )
      )
    })

  const flush: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (pending === 0) return resume(Effect.void)
    idle.add(resume)
    return Effect.sync(() => {
      idle.delete(resume)
    })
  })

  const submit = (job: Job<S>, route: Commit.Route): Effect.Effect<SnapshotOutcome> => {
    switch (route._tag) {
      case "None":
        return offer(job)
      case "Unit":
        // Requested once the unit committed; the outcome then is the offer's (counted when dropped).
        return Effect.as(route.afterCommit(Effect.asVoid(offer(job))), "queued" as const)
      case "Transaction":
        // Written inside the bare transaction (the store's savepoint), never outside: the repository does not
        // defer to the commit here (see commit.ts on `sql.afterCommit`), and a SQL snapshot store on another
        // client than the transaction's refuses the write (counted as failed) rather than commit it early.
        return run(job, route)
    }
  }
  const writer: Writer<S> = { submit, run, repair: repairWith(submit), flush }
  return writer
})
