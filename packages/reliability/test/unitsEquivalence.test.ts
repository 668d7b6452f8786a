/**
 * Overlapping units, memory vs Postgres (issue 22, item 1): random schedules of units of work over a few
 * aggregates — units begin, append through `repo.update` or `repo.load` + `repo.save` (each append also
 * writes a read-model row in the unit), commit or fail (rollback), with delays between — run step by step on
 * the memory layers (`UnitOfWork.layerMemory`) and on PostgreSQL (`SqlUnitOfWork.layer`). Afterwards both
 * must hold the same streams (version, type, batch and index of every event), the same snapshots (version and
 * state; written inline, inside the unit; a quarter of the schedules run in background mode, where which
 * versions get a snapshot depends on timing: there each snapshot is only checked against the replay), the same
 * read model, and every step must have had the same outcome (its version, or a conflict). No event of a
 * rolled-back unit anywhere ("phantom events"), no acknowledged event of a committed unit missing ("rows
 * lost"), every snapshot equal to the replay at its version.
 *
 * A schedule is generated against a model of the locks (a unit that has appended to an aggregate holds it
 * until it ends), so that each step's outcome is decided by the order of the steps, never by timing: a step
 * on an aggregate another open unit holds is issued and left waiting (as PostgreSQL's insert waits on the
 * uncommitted row), and awaited once that unit has ended; at most one waiter per aggregate, and never a wait
 * that would close a cycle (a deadlock: memory and PostgreSQL fail it differently, see `UnitOfWork.awaitEnd`;
 * EventStoreUnit.test.ts covers it). A waiting `save` loads before the holder ends (the driver waits for the
 * load), so it always meets the holder's outcome: a conflict if it committed, the append if it rolled back.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Pcg } from "@effect-snapshots/reliability"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as Result from "effect/Result"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import { record } from "./utils/figures.js"

const SCHEDULES = 100
const AGGREGATES = 3
const MAX_OPEN = 3
const SECTION = "units (memory vs Postgres)"

// ---------------------------------------------------------------------------------------------------------------
// schedules
// ---------------------------------------------------------------------------------------------------------------

type Step =
  | { readonly _tag: "Begin"; readonly unit: number }
  | {
    readonly _tag: "Append"
    readonly unit: number
    readonly aggregate: number
    readonly via: "update" | "save"
    readonly size: number
    /** The open unit this step waits for (it holds the aggregate), if any. */
    readonly waitsFor: number | undefined
  }
  | { readonly _tag: "End"; readonly unit: number; readonly commit: boolean }
  | { readonly _tag: "Delay"; readonly millis: number }

/** A schedule from `seed`, generated against a model of who holds which aggregate (see the header). */
const makeSchedule = (seed: number): ReadonlyArray<Step> => {
  const rng = Pcg.make(seed)
  const steps: Array<Step> = []
  const open = new Set<number>()
  const holder = new Map<number, number>()
  /** A waiting unit's aggregate, holder and way of appending. */
  const waiting = new Map<number, { aggregate: number; holder: number; via: "update" | "save" }>()
  const length = 6 + rng.integer(24)
  let units = 0
  const reaches = (from: number, target: number): boolean => {
    for (let u: number | undefined = from; u !== undefined; u = waiting.get(u)?.holder) {
      if (u === target) return true
    }
    return false
  }
  while (steps.length < length || open.size > 0) {
    const closing = steps.length >= length
    const active = [...open].filter((u) => !waiting.has(u))
    const r = rng.number()
    if (!closing && open.size < MAX_OPEN && (active.length === 0 || r < 0.2)) {
      open.add(units)
      steps.push({ _tag: "Begin", unit: units++ })
      continue
    }
    const unit = active[rng.integer(active.length)]!
    if (closing || r > 0.82) {
      const commit = rng.number() < 0.7
      steps.push({ _tag: "End", unit, commit })
      open.delete(unit)
      for (const [aggregate, held] of [...holder]) {
        if (held === unit) holder.delete(aggregate)
      }
      for (const [waiter, on] of [...waiting]) {
        if (on.holder !== unit) continue
        waiting.delete(waiter)
        // `update` retries on a conflict; a `save` goes through only where the holder rolled back.
        if (on.via === "update" || !commit) holder.set(on.aggregate, waiter)
      }
      continue
    }
    if (r > 0.74) {
      steps.push({ _tag: "Delay", millis: rng.integer(3) })
      continue
    }
    const aggregate = rng.integer(AGGREGATES)
    const via = rng.number() < 0.6 ? "update" as const : "save" as const
    const size = 1 + rng.integer(3)
    const held = holder.get(aggregate)
    if (held === undefined || held === unit) {
      holder.set(aggregate, unit)
      steps.push({ _tag: "Append", unit, aggregate, via, size, waitsFor: undefined })
      continue
    }
    const taken = [...waiting.values()].some((on) => on.aggregate === aggregate)
    if (taken || reaches(held, unit)) continue
    waiting.set(unit, { aggregate, holder: held, via })
    steps.push({ _tag: "Append", unit, aggregate, via, size, waitsFor: held })
  }
  return steps
}

// ---------------------------------------------------------------------------------------------------------------
// the read model: a table on Postgres, rows that follow the unit on memory
// ---------------------------------------------------------------------------------------------------------------

interface Row {
  readonly tx: string
  readonly aggregateId: string
  readonly version: number
}

interface ReadModel {
  readonly insert: (row: Row) => Effect.Effect<void, SqlError>
  readonly rows: (prefix: string) => Effect.Effect<ReadonlyArray<Row>, SqlError>
}

/** Rows a unit writes are its own until it commits (`Transaction.onEnd`), and a failed nested unit's go. */
const memoryReadModel = (): ReadModel => {
  const committed: Array<Row> = []
  const pending = new Map<UnitOfWork.Transaction, Array<Row>>()
  return {
    insert: (row) =>
      Effect.flatMap(UnitOfWork.enclosing, (around) => {
        if (around._tag !== "Unit") return Effect.sync(() => void committed.push(row))
        const { transaction } = around.unit
        return Effect.uninterruptible(Effect.suspend(() => {
          const known = pending.get(transaction)
          const own = known ?? []
          const mark = own.length
          own.push(row)
          if (known === undefined) pending.set(transaction, own)
          const takeBack = around.unit.onRollback(Effect.sync(() => {
            own.length = Math.min(own.length, mark)
          }))
          return known !== undefined ? takeBack : Effect.andThen(
            transaction.onEnd((outcome) =>
              Effect.sync(() => {
                pending.delete(transaction)
                if (outcome === "Committed") committed.push(...own)
              })
            ),
            takeBack
          )
        }))
      }),
    rows: (prefix) => Effect.sync(() => committed.filter((row) => row.aggregateId.startsWith(`${prefix}-`)))
  }
}

const sqlReadModel: Effect.Effect<ReadModel, SqlError, SqlClient.SqlClient> = Effect.map(
  Effect.tap(
    SqlClient.SqlClient,
    (sql) =>
      sql`CREATE TABLE IF NOT EXISTS units_read_model (
        tx text PRIMARY KEY, aggregate_id text NOT NULL, version int NOT NULL)`
  ),
  (sql): ReadModel => ({
    insert: (row) =>
      Effect.asVoid(sql`INSERT INTO units_read_model (tx, aggregate_id, version)
        VALUES (${row.tx}, ${row.aggregateId}, ${row.version})`),
    rows: (prefix) =>
      Effect.map(
        sql<{ tx: string; aggregate_id: string; version: number }>`
          SELECT tx, aggregate_id, version FROM units_read_model WHERE aggregate_id LIKE ${prefix + "-%"}`,
        (rows) => rows.map((row) => ({ tx: row.tx, aggregateId: row.aggregate_id, version: row.version }))
      )
  })
)

// ---------------------------------------------------------------------------------------------------------------
// running a schedule
// ---------------------------------------------------------------------------------------------------------------

type Command =
  | {
    readonly _tag: "Append"
    readonly id: string
    readonly tx: string
    readonly via: "update" | "save"
    readonly events: ReadonlyArray<Account.Event>
    /** Completed once a `save` has loaded (before it appends). */
    readonly loaded: Deferred.Deferred<void>
    readonly done: Deferred.Deferred<string>
  }
  | { readonly _tag: "End"; readonly commit: boolean }

type Repo = EventSourcedRepository.EventSourcedRepository<Account.State, Account.Event>

/** One step's work inside the unit: its outcome as text ("v3", "conflict", or an unexpected failure). */
const append = (repo: Repo, readModel: ReadModel, command: Extract<Command, { _tag: "Append" }>) =>
  Effect.gen(function*() {
    let version: number
    if (command.via === "update") {
      yield* Deferred.succeed(command.loaded, undefined)
      version = (yield* repo.update(command.id, () => Effect.succeed(command.events))).version
    } else {
      const found = yield* Effect.result(repo.load(command.id))
      const loaded = Result.isSuccess(found)
        ? found.success.version
        : found.failure._tag === "AggregateNotFound"
        ? 0
        : yield* Effect.fail(found.failure)
      yield* Deferred.succeed(command.loaded, undefined)
      version = (yield* repo.save(command.id, loaded, command.events)).version
    }
    yield* readModel.insert({ tx: command.tx, aggregateId: command.id, version })
    return `v${version}`
  }).pipe(
    Effect.catch((error) =>
      Effect.succeed(error._tag === "ConcurrencyConflict" ? "conflict" : `failed: ${error._tag}: ${error.message}`)
    ),
    Effect.flatMap((outcome) => Deferred.succeed(command.done, outcome))
  )

const unitFiber = (repo: Repo, readModel: ReadModel, commands: Queue.Queue<Command>) =>
  UnitOfWork.transaction(Effect.gen(function*() {
    while (true) {
      const command = yield* Queue.take(commands)
      if (command._tag === "End") {
        if (command.commit) return
        return yield* Effect.fail("rolled back on purpose" as const)
      }
      yield* append(repo, readModel, command)
    }
  }))

interface Picture {
  /** Each step's outcome. */
  readonly outcomes: ReadonlyArray<string>
  /** Per aggregate: its events, its snapshots, its read-model rows. */
  readonly aggregates: ReadonlyArray<{
    readonly events: ReadonlyArray<string>
    readonly snapshots: ReadonlyArray<string>
    readonly rows: ReadonlyArray<string>
  }>
  readonly phantomEvents: number
  readonly rowsLost: number
  readonly problems: ReadonlyArray<string>
}

const runSchedule = (
  steps: ReadonlyArray<Step>,
  prefix: string,
  seed: number,
  mode: "inline" | "background",
  readModel: ReadModel
) =>
  Effect.scoped(Effect.gen(function*() {
    const repo = yield* EventSourcedRepository.make(Account.Account, {
      strategy: SnapshotStrategy.everyNEvents(2),
      mode
    })
    const idOf = (aggregate: number) => `${prefix}-a${aggregate}`
    const units = new Map<number, { queue: Queue.Queue<Command>; fiber: Fiber.Fiber<void, unknown> }>()
    const waiting = new Map<number, Array<Deferred.Deferred<string>>>()
    const outcomes: Array<string> = []
    const txOf = new Map<string, { unit: number; step: number }>()
    const committed = new Set<number>()
    const rng = Pcg.make(seed)
    for (const [index, step] of steps.entries()) {
      switch (step._tag) {
        case "Begin": {
          const queue = yield* Queue.unbounded<Command>()
          const fiber = yield* Effect.forkChild(unitFiber(repo, readModel, queue))
          units.set(step.unit, { queue, fiber })
          outcomes[index] = "begun"
          break
        }
        case "Append": {
          const tx = `${prefix}-s${index}`
          txOf.set(tx, { unit: step.unit, step: index })
          const command: Command = {
            _tag: "Append",
            id: idOf(step.aggregate),
            tx,
            via: step.via,
            events: Account.batch(tx, step.size, () => rng.number()),
            loaded: yield* Deferred.make<void>(),
            done: yield* Deferred.make<string>()
          }
          yield* Queue.offer(units.get(step.unit)!.queue, command)
          if (step.waitsFor === undefined) {
            outcomes[index] = yield* Deferred.await(command.done)
          } else {
            yield* Deferred.await(command.loaded)
            const list = waiting.get(step.waitsFor) ?? []
            list.push(command.done)
            waiting.set(step.waitsFor, list)
            outcomes[index] = "waits"
          }
          break
        }
        case "End": {
          const unit = units.get(step.unit)!
          yield* Queue.offer(unit.queue, { _tag: "End", commit: step.commit })
          const exit = yield* Fiber.await(unit.fiber)
          outcomes[index] = exit._tag === "Success" ? "committed" : "rolled back"
          if (exit._tag === "Success") committed.add(step.unit)
          for (const done of waiting.get(step.unit) ?? []) outcomes.push(`after: ${yield* Deferred.await(done)}`)
          waiting.delete(step.unit)
          break
        }
        case "Delay": {
          yield* Effect.sleep(`${step.millis} millis`)
          outcomes[index] = "delay"
          break
        }
      }
    }
    // what is stored, read outside any unit
    yield* repo.flush
    const events = yield* EventStore.EventStore
    const snapshots = yield* SnapshotStore.SnapshotStore
    const rows = yield* readModel.rows(prefix)
    let phantomEvents = 0
    let rowsLost = 0
    const problems: Array<string> = []
    const aggregates: Array<Picture["aggregates"][number]> = []
    const acknowledged = new Set(
      outcomes.flatMap((outcome, index) => outcome.startsWith("v") ? [`${prefix}-s${index}`] : [])
    )
    for (let aggregate = 0; aggregate < AGGREGATES; aggregate++) {
      const id = idOf(aggregate)
      const stream = yield* Stream.runCollect(events.read(Account.Account.type, id))
      const txs = new Set<string>()
      for (const event of stream) {
        const tx = (event.payload as { readonly tx: string }).tx
        txs.add(tx)
        if (!committed.has(txOf.get(tx)?.unit ?? -1)) phantomEvents++
      }
      const infos = yield* snapshots.list(Account.Account.type, id)
      const replay = yield* Account.replay(id, new Set(infos.map((info) => info.version)))
      problems.push(...replay.problems.map((problem) => `${id}: ${problem}`))
      const snapshotPictures: Array<string> = []
      for (const info of infos) {
        const snapshot = yield* snapshots.load(Account.Account.type, id, { maxVersion: info.version })
        const state = Option.getOrThrow(snapshot).state as Account.State
        const expected = replay.states.get(info.version)
        if (expected === undefined || !Account.sameState(state, expected)) {
          phantomEvents++
          problems.push(`${id}: the snapshot at ${info.version} is not the replay at that version`)
        }
        snapshotPictures.push(`${info.version}:${Account.canonical(state)}`)
      }
      for (const [tx, where] of txOf) {
        if (committed.has(where.unit) && acknowledged.has(tx) && idOf(stepAggregate(steps, where.step)) === id) {
          if (!txs.has(tx)) rowsLost++
        }
      }
      aggregates.push({
        events: stream.map((e) => {
          const payload = e.payload as { readonly tx: string; readonly index: number }
          return `${e.version}:${e.type}:${payload.tx}:${payload.index}`
        }),
        // Background snapshots are taken after the commit, by a fiber that loads the aggregate when it runs:
        // which versions get one depends on timing, on any backend. Each is checked against the replay above.
        snapshots: mode === "inline" ? snapshotPictures : [],
        rows: rows.filter((row) => row.aggregateId === id).map((row) => `${row.tx}:${row.version}`).sort()
      })
    }
    for (const row of rows) {
      if (!committed.has(txOf.get(row.tx)?.unit ?? -1)) phantomEvents++
    }
    const picture: Picture = { outcomes, aggregates, phantomEvents, rowsLost, problems }
    return picture
  }))

const stepAggregate = (steps: ReadonlyArray<Step>, index: number): number => {
  const step = steps[index]
  return step?._tag === "Append" ? step.aggregate : -1
}

/** The repository's warnings (a snapshot that could not be written...) are not what this section checks. */
const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, References.MinimumLogLevel, "Error")
const memory = Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory, UnitOfWork.layerMemory)
const postgres = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer, SqlUnitOfWork.layer).pipe(
  Layer.provideMerge(Postgres.layerTest("reliability_units", { maxConnections: 8 }))
)

describe.skipIf(!Postgres.hasServer)(SECTION, () => {
  it.live(
    `${SCHEDULES} random schedules of overlapping units: the same outcomes, streams, snapshots and read model`,
    () =>
      Effect.gen(function*() {
        const started = Date.now()
        const memoryModel = memoryReadModel()
        const sqlModel = yield* sqlReadModel
        const seeds = Pcg.make(20_261_207)
        const mismatches: Array<string> = []
        const problems: Array<string> = []
        let phantomEvents = 0
        let rowsLost = 0
        let waits = 0
        let rollbacks = 0
        for (let i = 0; i < SCHEDULES; i++) {
          const seed = seeds.integer(2 ** 31)
          const schedule = makeSchedule(seed)
          waits += schedule.filter((s) => s._tag === "Append" && s.waitsFor !== undefined).length
          rollbacks += schedule.filter((s) => s._tag === "End" && !s.commit).length
          const prefix = `u${i}`
          const mode = i % 4 === 3 ? "background" as const : "inline" as const
          const onMemory = yield* runSchedule(schedule, prefix, seed, mode, memoryModel).pipe(
            Effect.provide(memory),
            quiet
          )
          const onPostgres = yield* quiet(runSchedule(schedule, prefix, seed, mode, sqlModel))
          phantomEvents += onMemory.phantomEvents + onPostgres.phantomEvents
          rowsLost += onMemory.rowsLost + onPostgres.rowsLost
          problems.push(...onMemory.problems.map((p) => `memory ${p}`), ...onPostgres.problems.map((p) => `pg ${p}`))
          const a = JSON.stringify({ outcomes: onMemory.outcomes, aggregates: onMemory.aggregates })
          const b = JSON.stringify({ outcomes: onPostgres.outcomes, aggregates: onPostgres.aggregates })
          if (a !== b) {
            mismatches.push(`seed ${seed}:\n memory   ${a}\n postgres ${b}\n schedule ${JSON.stringify(schedule)}`)
          }
        }
        yield* Effect.logInfo(
          `${SECTION}: ${SCHEDULES} schedules, ${waits} waiting appends, ${rollbacks} rollbacks, ` +
            `${mismatches.length} mismatches, ${phantomEvents} phantom events, ${rowsLost} rows lost`
        )
        record(
          SECTION,
          { casesTried: SCHEDULES, mismatches: mismatches.length, phantomEvents, rowsLost },
          Date.now() - started
        )
        assert.deepStrictEqual(mismatches.slice(0, 2), [])
        assert.deepStrictEqual(problems.slice(0, 5), [])
        assert.strictEqual(phantomEvents, 0)
        assert.strictEqual(rowsLost, 0)
        // the schedules do exercise what they are about
        assert.isAbove(waits, SCHEDULES / 4)
        assert.isAbove(rollbacks, SCHEDULES / 4)
      }).pipe(Effect.provide(postgres), Effect.scoped),
    300_000
  )
})
