/**
 * Stores on another pool than the application's transaction (PG_URL; skipped without it). In `effect/sql` each
 * `SqlClient` has a transaction of its own: a store built on pool B does not join `sql.withTransaction` run on
 * pool A. An application that does this must never be told "saved" for events that stay after its rollback, and
 * a snapshot is never written outside a transaction whose commit is unknown.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore, SnapshotMetrics } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as References from "effect/References"
import * as SqlClient from "effect/sql/SqlClient"
import { Ledger } from "../../loader/test/utils/Ledger.js"
import { deposits, freshId } from "../../loader/test/utils/repositorySuite.js"

// Pool A: the application's client (its transactions, its unit of work).
const TestLayer = Layer.mergeAll(
  Postgres.layerTest("loader_foreign_tx", { maxConnections: 4 }),
  // The refused snapshots are logged as warnings on purpose.
  Layer.succeed(References.MinimumLogLevel, "Error")
)

/** Pool B: a second `PgClient` pool on the same database and schema as pool A. */
const poolB = Effect.gen(function*() {
  const a = yield* SqlClient.SqlClient
  const rows = yield* a.unsafe(`SELECT current_schema()`).values
  const schema = String(rows[0]![0])
  const context = yield* Layer.build(Postgres.layerUrl(process.env.PG_URL!, { schema, maxConnections: 3 }))
  return Context.get(context, SqlClient.SqlClient)
})

const onClient = (client: SqlClient.SqlClient) => Effect.provideService(SqlClient.SqlClient, client)

/** The events of one Ledger stream, counted on pool A outside any transaction. */
const storedEvents = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (a) =>
    Effect.map(
      a.unsafe(
        `SELECT count(*)::int FROM effect_snapshots_events WHERE aggregate_type = 'Ledger' AND aggregate_id = $1`,
        [
          id
        ]
      ).values,
      (rows) => Number(rows[0]![0])
    ))

const storedSnapshots = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (a) =>
    Effect.map(
      a.unsafe(`SELECT count(*)::int FROM effect_snapshots WHERE aggregate_type = 'Ledger' AND aggregate_id = $1`, [id])
        .values,
      (rows) => Number(rows[0]![0])
    ))

const failures = Metric.withAttributes(SnapshotMetrics.snapshotFailures, { aggregate_type: "Ledger" })
const failureCount = Effect.map(Metric.value(failures), (state) => state.count)

/** A repository on the given event store and snapshot store. */
const repository = (
  events: EventStore.EventStoreService,
  snapshots: SnapshotStore.SnapshotStoreService,
  options: Partial<EventSourcedRepository.Options> = {}
) =>
  EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(2), ...options }).pipe(
    Effect.provideService(EventStore.EventStore, events),
    Effect.provideService(SnapshotStore.SnapshotStore, snapshots)
  )

const rolledBack = "the application rolled back" as const

const eventStoreError = (error: unknown): EventStore.EventStoreError =>
  error instanceof EventStore.EventStoreError
    ? error
    : assert.fail(`expected an EventStoreError, got ${error instanceof Error ? error.message : String(error)}`)

describe.skipIf(!Postgres.hasServer)("stores on another pool than the application's transaction", () => {
  layer(TestLayer, { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("SqlEventStore on pool B in sql.withTransaction on pool A: save and update are refused with a typed error; a rollback leaves no events", () =>
      Effect.gen(function*() {
        const a = yield* SqlClient.SqlClient
        const b = yield* poolB
        const eventsB = yield* onClient(b)(SqlEventStore.make())
        const snapshotsA = yield* SqlSnapshotStore.make()
        const repo = yield* repository(eventsB, snapshotsA)

        const id = freshId()
        const failed = yield* a.withTransaction(
          Effect.andThen(repo.save(id, 0, deposits(3)), Effect.fail(rolledBack))
        ).pipe(Effect.flip)
        // The events must not outlive the application's rollback (with autocommit on pool B they did).
        assert.strictEqual(yield* storedEvents(id), 0)
        const refused = eventStoreError(failed)
        assert.strictEqual(refused.reason, "InvalidInput")
        assert.match(refused.message, /another SqlClient/)
        assert.match(refused.message, /build the stores on the application's client/)
        assert.notInclude(refused.message, "\n")

        const updated = yield* a.withTransaction(
          Effect.andThen(repo.update(id, () => Effect.succeed(deposits(2))), Effect.fail(rolledBack))
        ).pipe(Effect.flip)
        assert.strictEqual(yield* storedEvents(id), 0)
        eventStoreError(updated)

        // Committed: the save is still refused (the events would have committed on their own).
        const committed = yield* a.withTransaction(repo.save(id, 0, deposits(1))).pipe(Effect.flip)
        eventStoreError(committed)
        assert.strictEqual(yield* storedEvents(id), 0)

        // Outside any transaction, and inside a transaction of its own client, the store on pool B works.
        const saved = yield* repo.save(id, 0, deposits(1))
        assert.strictEqual(saved.version, 1)
        yield* b.withTransaction(Effect.andThen(repo.save(id, 1, deposits(1, 2)), Effect.fail(rolledBack))).pipe(
          Effect.flip
        )
        assert.strictEqual(yield* storedEvents(id), 1)
        yield* b.withTransaction(repo.save(id, 1, deposits(1, 2)))
        assert.strictEqual(yield* storedEvents(id), 2)
      }))

    it.effect("SqlSnapshotStore on pool B in sql.withTransaction on pool A: the snapshot is skipped and counted, never written outside the transaction (inline and background)", () =>
      Effect.gen(function*() {
        const a = yield* SqlClient.SqlClient
        const b = yield* poolB
        const eventsA = yield* SqlEventStore.make()
        const snapshotsB = yield* onClient(b)(SqlSnapshotStore.make())
        for (const mode of ["inline", "background"] as const) {
          const repo = yield* repository(eventsA, snapshotsB, { mode })
          const id = freshId()
          const before = yield* failureCount
          let outcome = ""
          const failed = yield* a.withTransaction(
            Effect.andThen(
              Effect.tap(repo.save(id, 0, deposits(3)), (saved) => Effect.sync(() => outcome = saved.snapshot)),
              Effect.fail(rolledBack)
            )
          ).pipe(Effect.flip)
          assert.strictEqual(failed, rolledBack, mode)
          yield* repo.flush
          assert.strictEqual(yield* storedEvents(id), 0, mode)
          // A snapshot at version 2 of a stream that has no events: written at once on pool B, before the rollback.
          assert.strictEqual(yield* storedSnapshots(id), 0, mode)
          assert.strictEqual(outcome, "failed", mode)
          assert.strictEqual((yield* failureCount) - before, 1, mode)

          // Committed: the events are stored, the snapshot skipped (counted); the command never fails for it.
          const saved = yield* a.withTransaction(repo.save(id, 0, deposits(3)))
          yield* repo.flush
          assert.strictEqual(saved.version, 3, mode)
          assert.strictEqual(saved.snapshot, "failed", mode)
          assert.strictEqual(yield* storedEvents(id), 3, mode)
          assert.strictEqual(yield* storedSnapshots(id), 0, mode)
          assert.strictEqual((yield* failureCount) - before, 2, mode)
          // The next save outside a transaction snapshots as the strategy asks.
          const next = yield* repo.save(id, 3, deposits(1, 4))
          yield* repo.flush
          assert.strictEqual(next.snapshot, mode === "inline" ? "written" : "queued", mode)
          assert.strictEqual(yield* storedSnapshots(id), 1, mode)
        }
      }))

    it.effect("UnitOfWork on pool A with SqlSnapshotStore on pool B: background snapshots are requested after the commit and written; inline ones are skipped, never written before the commit", () =>
      Effect.gen(function*() {
        const b = yield* poolB
        const unit = yield* SqlUnitOfWork.make
        const inUnit = <A, E, R>(effect: Effect.Effect<A, E, R>) => unit.transaction(effect)
        const eventsA = yield* SqlEventStore.make()
        const snapshotsB = yield* onClient(b)(SqlSnapshotStore.make())

        const background = yield* repository(eventsA, snapshotsB, { mode: "background" })
        const id = freshId()
        const saved = yield* inUnit(background.save(id, 0, deposits(3)))
        assert.strictEqual(saved.snapshot, "queued")
        yield* background.flush
        assert.strictEqual(yield* storedEvents(id), 3)
        assert.strictEqual(yield* storedSnapshots(id), 1)
        // Rolled back: nothing is requested, nothing written.
        const other = freshId()
        yield* inUnit(Effect.andThen(background.save(other, 0, deposits(3)), Effect.fail(rolledBack))).pipe(
          Effect.flip
        )
        yield* background.flush
        assert.strictEqual(yield* storedEvents(other), 0)
        assert.strictEqual(yield* storedSnapshots(other), 0)

        const inline = yield* repository(eventsA, snapshotsB, { mode: "inline" })
        const third = freshId()
        const before = yield* failureCount
        yield* inUnit(Effect.andThen(inline.save(third, 0, deposits(3)), Effect.fail(rolledBack))).pipe(Effect.flip)
        assert.strictEqual(yield* storedEvents(third), 0)
        assert.strictEqual(yield* storedSnapshots(third), 0)
        assert.strictEqual((yield* failureCount) - before, 1)
      }))
  })
})
