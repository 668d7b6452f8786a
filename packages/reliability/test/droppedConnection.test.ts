/**
 * Dropped connections (real Postgres): units of work on 6 accounts (an update of one to three events, inline
 * snapshots every 2 events), most of them with the unit's own connection killed (`pg_terminate_backend` from
 * another pool) at a random point: in the command's decision (before the append), after the update (right
 * before COMMIT), or while COMMIT waits (a deferred trigger holds it on an advisory lock). Every unit must end
 * in success or a typed error (never a defect); an acknowledged batch must be in its stream, a `RolledBack`
 * one must not, and a `CommitOutcomeUnknown` one wholly or not at all; every aggregate then passes
 * `Checks.aggregate` (contiguous whole batches, sound snapshots, the load equal to the replay), and the pool
 * keeps serving the next unit.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Checks, Pcg } from "@effect-snapshots/reliability"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import { SqlClient } from "effect/sql"
import { record } from "./utils/figures.js"

const UNITS = 60
const IDS = 6
const SEED = 20_261_207
const SECTION = "dropped connection (Postgres)"

const Db = Postgres.layerTest("reliability_dropped", { maxConnections: 4 })
const Stack = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer, SqlUnitOfWork.layer).pipe(
  Layer.provideMerge(Db)
)

type Fault = "none" | "decide" | "beforeCommit" | "duringCommit"
const faults: ReadonlyArray<Fault> = ["none", "decide", "beforeCommit", "duringCommit"]

describe.skipIf(!Postgres.hasServer)("dropped connections inside units of work (real Postgres)", () => {
  layer(Stack, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    it.effect(`${UNITS} units, most with their connection killed: typed errors, no lost or phantom batch`, () =>
      Effect.gen(function*() {
        const started = Date.now()
        const sql = yield* SqlClient.SqlClient
        const [{ schema }] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
        const killer = Context.get(
          yield* Layer.build(Postgres.layerUrl(process.env.PG_URL!, { schema: schema!, maxConnections: 2 })),
          SqlClient.SqlClient
        )
        yield* sql.unsafe(`CREATE TABLE commit_gate (id int)`)
        yield* sql.unsafe(`CREATE FUNCTION commit_gate_wait() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock(4243); RETURN NULL; END $$`)
        yield* sql.unsafe(`CREATE CONSTRAINT TRIGGER commit_gate_wait AFTER INSERT ON commit_gate
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_gate_wait()`)

        const repo = yield* EventSourcedRepository.make(Account.Account, {
          strategy: SnapshotStrategy.everyNEvents(2),
          mode: "inline",
          retry: Schedule.recurs(0)
        })
        const rng = new Pcg.Pcg(SEED)
        const ownPid = Effect.map(sql.unsafe(`SELECT pg_backend_pid()`).values, (rows) => Number(rows[0]![0]))
        const terminate = (pid: number) => killer.unsafe(`SELECT pg_terminate_backend($1, 5000)`, [pid])
        const killOwn = Effect.flatMap(ownPid, terminate)
        const killWhenCommitWaits = (pid: number) =>
          killer.unsafe(
            `SELECT count(*)::int FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'advisory'`,
            [pid]
          ).values.pipe(
            Effect.flatMap((rows) => Number(rows[0]![0]) === 1 ? Effect.void : Effect.fail("not yet" as const)),
            Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 500 }),
            Effect.andThen(terminate(pid))
          )

        const acked = new Map<string, Set<string>>()
        const refused = new Map<string, Set<string>>()
        const unknown = new Map<string, Set<string>>()
        const add = (into: Map<string, Set<string>>, id: string, tx: string) =>
          into.set(id, (into.get(id) ?? new Set()).add(tx))
        const problems: Array<string> = []
        const outcomes = new Map<string, number>()
        let kills = 0

        for (let n = 0; n < UNITS; n++) {
          const id = `acct-${rng.integer(IDS)}`
          const fault = faults[rng.integer(faults.length)]!
          const tx = `u${n}-${fault}`
          const events = Account.batch(tx, 1 + rng.integer(3), () => rng.number())
          if (fault !== "none") kills++
          const unit = Effect.gen(function*() {
            yield* repo.update(id, () => fault === "decide" ? Effect.as(killOwn, events) : Effect.succeed(events))
            if (fault === "beforeCommit") yield* killOwn
            if (fault === "duringCommit") {
              yield* sql.unsafe(`INSERT INTO commit_gate VALUES (1)`)
              yield* Effect.forkDetach(Effect.flatMap(ownPid, killWhenCommitWaits))
            }
          })
          // The gate's lock is held in a transaction of the killer's until the unit has ended.
          const gate = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
            fault !== "duringCommit" ? effect : Effect.gen(function*() {
              const held = Latch.makeUnsafe(false)
              const done = Latch.makeUnsafe(false)
              const holder = yield* Effect.forkChild(killer.withTransaction(
                Effect.andThen(
                  killer.unsafe(`SELECT pg_advisory_xact_lock(4243)`),
                  Effect.andThen(held.open, done.await)
                )
              ))
              yield* held.await
              const exit = yield* Effect.exit(effect)
              yield* done.open
              yield* Fiber.join(holder)
              return yield* exit
            })
          const exit = yield* Effect.exit(
            gate(UnitOfWork.transaction(unit)).pipe(Effect.catch((error) => Effect.succeed({ caught: error })))
          )
          let outcome: string
          if (Exit.isFailure(exit)) {
            outcome = Cause.hasDies(exit.cause) ? "defect" : "uncaught"
            problems.push(`${tx}: ${outcome}: ${Cause.pretty(exit.cause).split("\n")[0]}`)
          } else if (exit.value === undefined) {
            outcome = "committed"
            add(acked, id, tx)
          } else {
            const error = exit.value.caught as { readonly _tag: string; readonly reason?: string }
            outcome = `${error._tag}/${error.reason}`
            if (error._tag === "UnitOfWorkError" && error.reason === "CommitOutcomeUnknown") add(unknown, id, tx)
            else add(refused, id, tx)
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
          if (fault === "none" && outcome !== "committed") problems.push(`${tx}: no fault, yet ${outcome}`)
        }

        let mismatches = 0
        let rowsLost = 0
        let phantomEvents = 0
        for (let i = 0; i < IDS; i++) {
          const id = `acct-${i}`
          const report = yield* Checks.aggregate(repo, id, { acked: acked.get(id) ?? [] })
          const replay = yield* Account.replay(id)
          const present = new Set(replay.txs)
          for (const tx of refused.get(id) ?? []) if (present.has(tx)) phantomEvents++
          if (report.mismatch) mismatches++
          rowsLost += report.lost
          if (report.problems.length > 0) problems.push(`${id}: ${report.problems.join("; ")}`)
        }
        record(
          SECTION,
          { casesTried: UNITS, faultsInjected: kills, mismatches, rowsLost, phantomEvents },
          Date.now() - started
        )
        assert.deepStrictEqual(problems, [], JSON.stringify([...outcomes]))
        assert.strictEqual(phantomEvents, 0)
        // The faults landed: units were refused, and units committed.
        assert.isAbove(outcomes.get("committed") ?? 0, 0)
        assert.isAbove(outcomes.get("UnitOfWorkError/RolledBack") ?? 0, 0, JSON.stringify([...outcomes]))
        assert.isAbove(outcomes.get("EventStoreError/Unavailable") ?? 0, 0, JSON.stringify([...outcomes]))
      }).pipe(Effect.provideService(References.MinimumLogLevel, "Error")))
  })
})
