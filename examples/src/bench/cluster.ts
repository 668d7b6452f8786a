/**
 * Event-sourced cluster entities on a real Postgres (the inventory's `Stock` entity of clusterInventory.ts):
 *   1. activation of a 10,000-event entity with a snapshot at its last version vs without one (a fresh runner
 *      and repository per sample: the first command's time, load included);
 *   2. commands per second on one hot entity: through the cluster entity (16 fibers sending) vs `repo.update`
 *      from 16 fibers, with the conflicts the event store answered counted;
 *   3. p50 / p99 of one command: on the hot entity under the 16 senders, and one at a time on warm entities.
 * The cluster here is one runner in this process (`TestCluster`'s sharding with the SQL stores): no network hop
 * between the client and the runner; the events and snapshots go to Postgres.
 *
 *   pnpm bench:cluster [--commands N] [--samples N]
 *
 * Needs PG_URL (default postgres://postgres@127.0.0.1:5432/test); works in a schema of its own, dropped at the end.
 */
import { EventSourcedEntity } from "@effect-snapshots/cluster"
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import * as TestRunner from "effect/cluster/TestRunner"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import { Stock, StockEntity, stockHandlers, Stocks } from "../clusterInventory.js"

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const commands = arg("commands", 2_000)
const samples = arg("samples", 5)
const fibers = 16
const bigStream = 10_000

const url = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `bench_cluster_${Date.now().toString(36)}`

let conflicts = 0
/** The repository's default retry (exponential from 2 ms, jittered, capped at 500 ms, 30 times), counting. */
const countingRetry = Schedule.max([
  Schedule.jittered(
    Schedule.modifyDelay(Schedule.exponential("2 millis"), ({ duration }) =>
      Effect.sync(() => {
        conflicts++
        return Duration.min(duration, Duration.millis(500))
      }))
  ),
  Schedule.recurs(30)
])

const Stores = Layer.merge(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layerUrl(url, { schema, maxConnections: 16 }))
)

const strategy = SnapshotStrategy.everyNEvents(100)

/** One runner: the entity (no passivation snapshot, so the stream without one stays without), its repository. */
const runner = EventSourcedEntity.make(StockEntity, Stocks).toLayer(stockHandlers).pipe(
  Layer.provideMerge(Stocks.layer({ strategy, mode: "background" })),
  Layer.provideMerge(TestRunner.layer)
)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
const ms = (n: number) => n.toFixed(2)
const median = (values: ReadonlyArray<number>) => percentile([...values].sort((a, b) => a - b), 0.5)

const seed = Effect.gen(function*() {
  const events = yield* EventStore.EventStore
  const snapshots = yield* SnapshotStore.SnapshotStore
  let position = 0
  for (const id of ["big-snapshot", "big-replay"]) {
    for (let version = 0; version < bigStream; version += 1_000) {
      const batch = Array.from(
        { length: 1_000 },
        () => ({ type: "Restocked", payload: { _tag: "Restocked", quantity: 1 } })
      )
      const appended = yield* events.append("Stock", id, version, batch)
      position = appended.positions[appended.positions.length - 1]!
    }
    if (id === "big-snapshot") {
      yield* snapshots.save(
        new Snapshot.Snapshot({
          aggregateType: "Stock",
          aggregateId: id,
          version: bigStream,
          schemaVersion: Stock.schemaVersion,
          createdAt: yield* DateTime.now,
          metadata: Aggregate.snapshotMetadata(Stock, position),
          state: { onHand: bigStream, reservations: {} }
        })
      )
    }
  }
})

/** The first command on a fresh runner: activation (load) and the command. */
const activation = (id: string) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.fresh(runner))
    return yield* Effect.gen(function*() {
      const client = yield* StockEntity.client
      const start = performance.now()
      const reply = yield* client(id).Availability()
      if (reply.available !== bigStream) return yield* Effect.die(`${id}: ${reply.available} available`)
      return performance.now() - start
    }).pipe(Effect.provide(context))
  }).pipe(Effect.scoped)

const hotThroughCluster = (id: string) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.fresh(runner))
    return yield* Effect.gen(function*() {
      const client = yield* StockEntity.client
      yield* client(id).Restock({ quantity: 1 })
      const latencies: Array<number> = []
      let fenced = 0
      const start = performance.now()
      yield* Effect.forEach(Array.from({ length: commands }), () =>
        Effect.suspend(() => {
          const t = performance.now()
          return client(id).Restock({ quantity: 1 }).pipe(
            Effect.tap(() => Effect.sync(() => latencies.push(performance.now() - t))),
            Effect.catchTag("EntityError", () => Effect.sync(() => fenced++))
          )
        }), { concurrency: fibers, discard: true })
      const seconds = (performance.now() - start) / 1000
      // One at a time on 20 warm entities.
      const single: Array<number> = []
      for (let i = 0; i < 20; i++) yield* client(`warm-${i}`).Restock({ quantity: 1 })
      for (let i = 0; i < 1_000; i++) {
        const t = performance.now()
        yield* client(`warm-${i % 20}`).Restock({ quantity: 1 })
        single.push(performance.now() - t)
      }
      return {
        perSecond: commands / seconds,
        fenced,
        latencies: latencies.sort((a, b) => a - b),
        single: single.sort((a, b) => a - b)
      }
    }).pipe(Effect.provide(context))
  }).pipe(Effect.scoped)

const hotThroughRepository = (id: string) =>
  Effect.gen(function*() {
    const repo = yield* EventSourcedRepository.make(Stock, { strategy, mode: "background", retry: countingRetry })
    let failed = 0
    const latencies: Array<number> = []
    const start = performance.now()
    yield* Effect.forEach(Array.from({ length: commands }), () =>
      Effect.suspend(() => {
        const t = performance.now()
        return repo.update(id, () => Effect.succeed([{ _tag: "Restocked" as const, quantity: 1 }])).pipe(
          Effect.tap(() => Effect.sync(() => latencies.push(performance.now() - t))),
          Effect.catchTag("ConcurrencyConflict", () =>
            Effect.sync(() => {
              failed++
              conflicts++
            }))
        )
      }), { concurrency: fibers, discard: true })
    const seconds = (performance.now() - start) / 1000
    return { perSecond: (commands - failed) / seconds, failed, latencies: latencies.sort((a, b) => a - b) }
  }).pipe(Effect.scoped)

const program = Effect.gen(function*() {
  yield* seed
  const withSnapshot: Array<number> = []
  const withoutSnapshot: Array<number> = []
  // Alternating, so that both variants see the same machine load.
  for (let i = 0; i < samples; i++) {
    withSnapshot.push(yield* activation("big-snapshot"))
    withoutSnapshot.push(yield* activation("big-replay"))
  }
  const cluster = yield* hotThroughCluster("hot-cluster")
  const repository = yield* hotThroughRepository("hot-repository")
  const repositoryConflicts = conflicts
  const rows = [
    `activation of a ${bigStream}-event entity, snapshot at its version: median ${
      ms(median(withSnapshot))
    } ms (${samples} fresh runners)`,
    `activation of a ${bigStream}-event entity, no snapshot (full replay): median ${ms(median(withoutSnapshot))} ms`,
    `one hot entity, ${commands} commands from ${fibers} fibers through the cluster entity: ${
      cluster.perSecond.toFixed(0)
    } commands/s, ${cluster.fenced} fenced (OwnershipLost); p50 ${ms(percentile(cluster.latencies, 0.5))} ms, p99 ${
      ms(percentile(cluster.latencies, 0.99))
    } ms`,
    `one hot aggregate, ${commands} repo.update from ${fibers} fibers: ${
      repository.perSecond.toFixed(0)
    } updates/s, ${repositoryConflicts} conflicts answered, ${repository.failed} updates failed after the retries; p50 ${
      ms(percentile(repository.latencies, 0.5))
    } ms, p99 ${ms(percentile(repository.latencies, 0.99))} ms`,
    `one command at a time on warm entities (1,000): p50 ${ms(percentile(cluster.single, 0.5))} ms, p99 ${
      ms(percentile(cluster.single, 0.99))
    } ms`
  ]
  for (const row of rows) console.log(row)
})

const dropSchema = Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
  .pipe(
    Effect.provide(Postgres.layerUrl(url, { maxConnections: 1 })),
    Effect.ignore
  )

Effect.runPromise(
  program.pipe(
    Effect.provide(Stores),
    Effect.ensuring(dropSchema),
    Effect.provideService(References.MinimumLogLevel, "Warn")
  )
).catch((error) => {
  console.error(`bench:cluster failed: ${String(error)}`)
  process.exitCode = 1
})
