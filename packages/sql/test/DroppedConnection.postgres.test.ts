/**
 * A dropped connection inside a transaction (PG_URL; skipped without it): the transaction's own connection is
 * killed with `pg_terminate_backend` from another pool, during `repo.update` in a unit of work or in a bare
 * `sql.withTransaction`, right before its COMMIT, while its COMMIT waits, and inside a nested unit (a savepoint).
 * Every case must end in a typed error that `Effect.catch` around the unit sees (never a defect), say whether
 * the commit may have happened, log no defect, leave the stream wholly present or wholly absent, and leave the
 * pool usable for the next unit.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import * as Net from "node:net"
import { Ledger } from "../../loader/test/utils/Ledger.js"
import { deposits, freshId } from "../../loader/test/utils/repositorySuite.js"

/** Provides the SQL stores. */
type Provide = <A, E, R>(
  effect: Effect.Effect<A, E, R>
) => Effect.Effect<A, E, Exclude<Exclude<R, EventStore.EventStore>, SnapshotStore.SnapshotStore>>

const TestLayer = Postgres.layerTest("loader_dropped_connection", { maxConnections: 4 })

/** The killer: a pool of its own on the same database and schema, so a kill never waits for the victim's pool. */
const killerPool = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe(`SELECT current_schema()`).values
  const schema = String(rows[0]![0])
  const context = yield* Layer.build(Postgres.layerUrl(process.env.PG_URL!, { schema, maxConnections: 3 }))
  return Context.get(context, SqlClient.SqlClient)
})

/** The backend of the connection the current fiber's statements run on (the transaction's, inside one). */
const ownPid = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => Effect.map(sql.unsafe(`SELECT pg_backend_pid()`).values, (rows) => Number(rows[0]![0]))
)

/** Terminates `pid` and waits (up to 5 s) until the server has ended it. */
const terminate = (killer: SqlClient.SqlClient, pid: number) =>
  Effect.asVoid(killer.unsafe(`SELECT pg_terminate_backend($1, 5000)`, [pid]))

/** Kill the connection this fiber's transaction runs on. */
const killOwnConnection = (killer: SqlClient.SqlClient) => Effect.flatMap(ownPid, (pid) => terminate(killer, pid))

/** Waits until `pid` waits for a lock of kind `waitEvent` (`relation`, `advisory`). */
const waitUntilWaiting = (killer: SqlClient.SqlClient, pid: number, waitEvent: string) =>
  killer.unsafe(
    `SELECT count(*)::int FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock' AND wait_event = $2`,
    [pid, waitEvent]
  ).values.pipe(
    Effect.flatMap((rows) => Number(rows[0]![0]) === 1 ? Effect.void : Effect.fail("not yet" as const)),
    Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 500 }),
    Effect.orDie
  )

/** Waits until `pid` waits for a lock of kind `waitEvent`, then terminates it. */
const killWhenWaiting = (killer: SqlClient.SqlClient, pid: number, waitEvent: string) =>
  Effect.andThen(waitUntilWaiting(killer, pid, waitEvent), terminate(killer, pid))

/**
 * A client of the application's own on the test's schema whose sockets the test can cut (a network failure:
 * the client sees its connections drop, the server's sessions go on until they next talk to the client).
 */
const cuttableClient = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe(`SELECT current_schema()`).values
  const url = new URL(process.env.PG_URL!)
  url.searchParams.set("options", `-c search_path=${String(rows[0]![0])}`)
  const sockets: Array<Net.Socket> = []
  const context = yield* Layer.build(PgClient.layer({
    url: Redacted.make(url.toString()),
    maxConnections: 3,
    stream: () => {
      const socket = Net.connect({ host: url.hostname, port: Number(url.port || "5432") })
      sockets.push(socket)
      return socket
    }
  }))
  return {
    sql: Context.get(context, SqlClient.SqlClient),
    cut: Effect.sync(() => {
      for (const socket of sockets.splice(0)) socket.destroy()
    })
  }
})

/** Runs `effect` while another connection of the killer holds `lock` (a statement run in its transaction). */
const whileHolding = <A, E, R>(
  killer: SqlClient.SqlClient,
  lock: string,
  effect: (release: Effect.Effect<void>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const held = Latch.makeUnsafe(false)
    const release = Latch.makeUnsafe(false)
    const holder = yield* Effect.forkChild(
      killer.withTransaction(
        Effect.andThen(killer.unsafe(lock), Effect.andThen(held.open, release.await))
      )
    )
    yield* held.await
    const result = yield* Effect.exit(effect(release.open))
    yield* release.open
    yield* Fiber.join(holder)
    return yield* result
  })

const repository = EventSourcedRepository.make(Ledger, {
  strategy: SnapshotStrategy.everyNEvents(1),
  mode: "inline",
  retry: Schedule.recurs(0)
})

/** A fresh repository (no cache): what another process would load. */
const freshLoad = (id: string) =>
  Effect.flatMap(repository, (repo) =>
    repo.load(id).pipe(
      Effect.map((loaded) => loaded.version),
      Effect.catchTag("AggregateNotFound", () => Effect.succeed(0))
    ))

/** The outcome of a unit as an application sees it: a typed failure (with its tag) or a defect. */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return "success"
  if (Cause.hasDies(exit.cause)) return `defect: ${Cause.pretty(exit.cause).split("\n")[0]}`
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return "interrupted"
  const value = error.value as { readonly _tag?: string; readonly reason?: unknown }
  const reason = typeof value.reason === "string"
    ? `/${value.reason}`
    : typeof (value.reason as { _tag?: unknown } | undefined)?._tag === "string"
    ? `/${(value.reason as { _tag: string })._tag}`
    : ""
  return `${String(value._tag)}${reason}`
}

/** Runs `unit`, caught the way an application catches (`Effect.catch`), and collects its log lines. */
const runCaught = <A, E, R>(unit: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make(({ cause, message }) => {
      logs.push(
        `${(Array.isArray(message) ? message : [message]).map(String).join(" ")} ${
          cause.reasons.length > 0 ? Cause.pretty(cause) : ""
        }`
      )
    })
    const exit = yield* unit.pipe(
      Effect.map(() => "success"),
      Effect.catch((error) => Effect.succeed({ caught: error })),
      Effect.exit,
      Effect.provide(Logger.layer([logger]))
    )
    return { exit, logs }
  })

const caught = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isSuccess(exit) && typeof exit.value === "object" && exit.value !== null && "caught" in exit.value
    ? (exit.value as { caught: unknown }).caught
    : undefined

describe.skipIf(!Postgres.hasServer)("a dropped connection inside a transaction (Postgres)", () => {
  layer(Layer.merge(TestLayer, SqlUnitOfWork.layer.pipe(Layer.provide(TestLayer))), {
    timeout: 120_000,
    excludeTestServices: true
  })((it) => {
    const setup = Effect.gen(function*() {
      const killer = yield* killerPool
      const events = yield* SqlEventStore.make()
      const snapshots = yield* SqlSnapshotStore.make()
      const provide: Provide = (effect) =>
        effect.pipe(
          Effect.provideService(EventStore.EventStore, events),
          Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
        )
      // A gate whose deferred trigger waits for advisory lock 4242 at COMMIT: a COMMIT that hangs on demand.
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS commit_gate (id int)`)
      yield* sql.unsafe(`CREATE OR REPLACE FUNCTION commit_gate_wait() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$`)
      yield* sql.unsafe(`DROP TRIGGER IF EXISTS commit_gate_wait ON commit_gate`)
      yield* sql.unsafe(`CREATE CONSTRAINT TRIGGER commit_gate_wait AFTER INSERT ON commit_gate
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_gate_wait()`)
      return { killer, provide }
    })

    /** Two committed events first, so a lost or phantom write shows in the version. */
    const seeded = (provide: Provide) =>
      Effect.gen(function*() {
        const id = freshId("drop")
        const repo = yield* provide(repository)
        yield* provide(repo.save(id, 0, deposits(2)))
        return { id, repo }
      })

    /** The checks every case ends with. */
    const settle = Effect.fnUntraced(function*(
      provide: Provide,
      id: string,
      result: { readonly exit: Exit.Exit<unknown, unknown>; readonly logs: ReadonlyArray<string> },
      expected: { readonly outcome: string; readonly versions: ReadonlyArray<number> }
    ) {
      assert.strictEqual(
        outcomeOf(
          Exit.isSuccess(result.exit) && caught(result.exit) !== undefined
            ? Exit.fail(caught(result.exit))
            : result.exit
        ),
        expected.outcome
      )
      assert.isFalse(Exit.isFailure(result.exit), "Effect.catch around the unit saw the failure")
      for (const line of result.logs) assert.notMatch(line, /defect|Die/i, line)
      // Wholly present or wholly absent, as a fresh process loads it.
      assert.include(expected.versions, yield* provide(freshLoad(id)))
      // The pool recovered: the next unit commits.
      const repo = yield* provide(repository)
      const version = yield* provide(freshLoad(id))
      const next = yield* UnitOfWork.transaction(provide(repo.save(id, version, deposits(1))))
      assert.strictEqual(next.version, version + 1)
    })

    it.effect("killed during repo.update inside UnitOfWork.transaction: a typed error, nothing stored", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const { id, repo } = yield* seeded(provide)
        const result = yield* runCaught(UnitOfWork.transaction(provide(
          repo.update(id, () => Effect.as(killOwnConnection(killer), deposits(1, 3)))
        )))
        yield* settle(provide, id, result, { outcome: "EventStoreError/Unavailable", versions: [2] })
      }))

    it.effect("killed while the append waits for a lock, inside UnitOfWork.transaction: a typed error, nothing stored", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const { id, repo } = yield* seeded(provide)
        const result = yield* whileHolding(
          killer,
          `LOCK TABLE effect_snapshots_events IN EXCLUSIVE MODE`,
          () =>
            runCaught(UnitOfWork.transaction(provide(
              repo.update(id, () =>
                Effect.flatMap(ownPid, (pid) =>
                  Effect.as(
                    Effect.forkDetach(killWhenWaiting(killer, pid, "relation")),
                    deposits(1, 3)
                  )))
            )))
        )
        yield* settle(provide, id, result, { outcome: "EventStoreError/Unavailable", versions: [2] })
      }))

    it.effect("killed during repo.update inside a bare sql.withTransaction: a typed error, nothing stored", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const sql = yield* SqlClient.SqlClient
        const { id, repo } = yield* seeded(provide)
        const result = yield* runCaught(sql.withTransaction(provide(
          repo.update(id, () => Effect.as(killOwnConnection(killer), deposits(1, 3)))
        )))
        yield* settle(provide, id, result, { outcome: "EventStoreError/Unavailable", versions: [2] })
      }))

    it.effect("killed right before the unit's COMMIT: RolledBack, nothing stored", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const { id, repo } = yield* seeded(provide)
        const result = yield* runCaught(UnitOfWork.transaction(provide(
          Effect.andThen(repo.update(id, () => Effect.succeed(deposits(1, 3))), killOwnConnection(killer))
        )))
        yield* settle(provide, id, result, { outcome: "UnitOfWorkError/RolledBack", versions: [2] })
      }))

    it.effect("killed right before a bare sql.withTransaction's COMMIT: a typed SqlError, nothing stored", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const sql = yield* SqlClient.SqlClient
        const { id, repo } = yield* seeded(provide)
        const result = yield* runCaught(sql.withTransaction(provide(
          Effect.andThen(repo.update(id, () => Effect.succeed(deposits(1, 3))), killOwnConnection(killer))
        )))
        yield* settle(provide, id, result, { outcome: "SqlError/UnknownError", versions: [2] })
      }))

    it.effect("killed between the append and the inline snapshot: the snapshot fails typed, the unit is RolledBack", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const sql = yield* SqlClient.SqlClient
        const { id } = yield* seeded(provide)
        const snapshots = yield* provide(SnapshotStore.SnapshotStore)
        // The kill comes from a decorator of the store, right before the snapshot's statement.
        const kill = Effect.orDie(Effect.provideService(killOwnConnection(killer), SqlClient.SqlClient, sql))
        const killing: SnapshotStore.SnapshotStoreService = {
          ...snapshots,
          save: (snapshot) => Effect.andThen(kill, snapshots.save(snapshot)),
          saveIfDue: (snapshot, options) => Effect.andThen(kill, snapshots.saveIfDue(snapshot, options))
        }
        const repo = yield* repository.pipe(
          Effect.provideService(SnapshotStore.SnapshotStore, killing),
          Effect.provideService(EventStore.EventStore, yield* provide(EventStore.EventStore))
        )
        let snapshot = ""
        const result = yield* runCaught(UnitOfWork.transaction(
          Effect.tap(repo.save(id, 2, deposits(1, 3)), (saved) => Effect.sync(() => snapshot = saved.snapshot))
        ))
        assert.strictEqual(snapshot, "failed")
        // The writer logs the store's typed error (its message), not a defect.
        assert.isTrue(
          result.logs.some((line) => line.includes("not written: saveIfDue failed:") && line.includes("57P01")),
          result.logs.join("\n")
        )
        yield* settle(provide, id, result, { outcome: "UnitOfWorkError/RolledBack", versions: [2] })
      }))

    it.effect("killed while the unit's COMMIT waits: the server says it rolled back, RolledBack, nothing stored", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const sql = yield* SqlClient.SqlClient
        const { id, repo } = yield* seeded(provide)
        const result = yield* whileHolding(
          killer,
          `SELECT pg_advisory_xact_lock(4242)`,
          () =>
            runCaught(UnitOfWork.transaction(provide(
              Effect.gen(function*() {
                yield* repo.update(id, () => Effect.succeed(deposits(1, 3)))
                yield* sql.unsafe(`INSERT INTO commit_gate VALUES (1)`)
                const pid = yield* ownPid
                yield* Effect.forkDetach(killWhenWaiting(killer, pid, "advisory"))
              })
            )))
        )
        yield* settle(provide, id, result, { outcome: "UnitOfWorkError/RolledBack", versions: [2] })
      }))

    /**
     * The network between the application and the server fails while COMMIT waits (the client's sockets are
     * cut; the server's session goes on): the server commits once the gate opens, after `openAfter`.
     */
    const cutDuringCommit = (openAfter: Duration.Input) =>
      Effect.gen(function*() {
        const { killer } = yield* setup
        const victim = yield* cuttableClient
        const onVictim = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.provideService(effect, SqlClient.SqlClient, victim.sql)
        const events = yield* onVictim(SqlEventStore.make())
        const snapshots = yield* onVictim(SqlSnapshotStore.make())
        const provideVictim: Provide = (effect) =>
          effect.pipe(
            Effect.provideService(EventStore.EventStore, events),
            Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
          )
        const unitOfWork = yield* onVictim(SqlUnitOfWork.make)
        const { id, repo } = yield* seeded(provideVictim)
        let victimPid = 0
        const result = yield* whileHolding(killer, `SELECT pg_advisory_xact_lock(4242)`, (release) =>
          runCaught(onVictim(unitOfWork.transaction(provideVictim(
            Effect.gen(function*() {
              yield* repo.update(id, () =>
                Effect.succeed(deposits(1, 3)))
              yield* victim.sql.unsafe(`INSERT INTO commit_gate VALUES (1)`)
              const pid = yield* ownPid
              victimPid = pid
              yield* Effect.forkDetach(
                waitUntilWaiting(killer, pid, "advisory").pipe(
                  Effect.andThen(victim.cut),
                  Effect.andThen(Effect.sleep(openAfter)),
                  Effect.andThen(release)
                )
              )
            })
          )))))
        // The server's session ends once its COMMIT is done (it finds its client gone when it answers).
        yield* killer.unsafe(`SELECT count(*)::int FROM pg_stat_activity WHERE pid = $1`, [victimPid]).values.pipe(
          Effect.flatMap((rows) =>
            Number(rows[0]![0]) === 0 ? Effect.void : Effect.fail("still there" as const)
          ),
          Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 }),
          Effect.orDie
        )
        return { id, result }
      })

    it.effect("the network fails while the unit's COMMIT waits, the server commits within a second: the unit asks and succeeds", () =>
      Effect.gen(function*() {
        const { provide } = yield* setup
        const { id, result } = yield* cutDuringCommit("300 millis")
        assert.isTrue(result.logs.some((line) => line.includes("the transaction committed")), result.logs.join("\n"))
        yield* settle(provide, id, result, { outcome: "success", versions: [3] })
      }))

    it.effect("the network fails while the unit's COMMIT waits, the server commits later: CommitOutcomeUnknown, then wholly stored", () =>
      Effect.gen(function*() {
        const { provide } = yield* setup
        const { id, result } = yield* cutDuringCommit("2500 millis")
        // The server committed once the gate opened: wholly there.
        yield* settle(provide, id, result, { outcome: "UnitOfWorkError/CommitOutcomeUnknown", versions: [3] })
      }))

    it.effect("killed inside a nested unit (a savepoint): typed errors for the inner and the outer unit, nothing stored", () =>
      Effect.gen(function*() {
        const { killer, provide } = yield* setup
        const { id, repo } = yield* seeded(provide)
        const other = yield* seeded(provide)
        let inner = "not run"
        const result = yield* runCaught(UnitOfWork.transaction(provide(
          Effect.gen(function*() {
            yield* repo.update(id, () => Effect.succeed(deposits(1, 3)))
            const exit = yield* Effect.exit(UnitOfWork.transaction(
              repo.update(other.id, () => Effect.as(killOwnConnection(killer), deposits(1, 3)))
            ))
            inner = outcomeOf(exit)
          })
        )))
        assert.strictEqual(inner, "EventStoreError/Unavailable")
        yield* settle(provide, id, result, { outcome: "UnitOfWorkError/RolledBack", versions: [2] })
        assert.strictEqual(yield* provide(freshLoad(other.id)), 2)
      }))
  })
})
