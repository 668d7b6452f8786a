/**
 * The repository suite with events in PostgreSQL (SqlEventStore on PG_URL) and snapshots in Redis
 * (RedisSnapshotStore on REDIS_URL); skipped without both. Redis is in no transaction: in a unit of work the
 * snapshot is written after the commit, and a flushed Redis costs a replay, never a failure. The file works in
 * Redis database 1 under a key prefix of its own (its FLUSHDB must not touch the other test files' keys).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { RedisSnapshotStore, SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import * as SqlClient from "effect/sql/SqlClient"
import { encode, expected, Ledger } from "../../loader/test/utils/Ledger.js"
import { deposits, freshId, repositorySuite } from "../../loader/test/utils/repositorySuite.js"

const redisUrl = process.env.REDIS_URL ?? ""
const prefix = `effect-snapshots-test:loader:${Math.random().toString(36).slice(2, 10)}:`

// On the real clock: the connection pool's idle timer must not run on the tests' TestClock.
const RedisLayer = Layer.effectDiscard(Effect.addFinalizer(() => Effect.ignore(RedisSnapshotStore.clear({ prefix }))))
  .pipe(
    Layer.provideMerge(NodeRedis.layer({ url: redisUrl, database: 1 })),
    Layer.provide(Layer.succeed(Clock.Clock, Clock.Clock.defaultValue()))
  )

const TestLayer = Layer.mergeAll(SqlEventStore.layer, RedisSnapshotStore.layerWith({ prefix }), SqlUnitOfWork.layer)
  .pipe(
    Layer.provideMerge(RedisLayer),
    Layer.provideMerge(Postgres.layerTest("loader_repository_redis", { maxConnections: 20 }))
  )

const snapshotVersions = (id: string) =>
  Effect.flatMap(
    SnapshotStore.SnapshotStore,
    (store) => Effect.map(store.list(Ledger.type, id), (infos) => infos.map((info) => info.version))
  )

describe.skipIf(!Postgres.hasServer || redisUrl === "")(
  "EventSourcedRepository: events in PostgreSQL, snapshots in Redis",
  () => {
    layer(TestLayer, { timeout: 120_000 })((it) => {
      repositorySuite(it, { propertyRuns: 50, multiConnection: true })

      it.effect("FLUSHDB between save and load: the load replays, the state is right, and the snapshot comes back", () =>
        Effect.gen(function*() {
          const id = freshId()
          const all = deposits(30)
          yield* Effect.scoped(Effect.gen(function*() {
            const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(20) })
            assert.strictEqual((yield* repo.save(id, 0, all.slice(0, 25))).snapshot, "written")
            yield* repo.save(id, 25, all.slice(25))
            assert.deepStrictEqual(yield* snapshotVersions(id), [25])

            yield* Effect.flatMap(Redis.Redis, (redis) => redis.send("FLUSHDB"))
            const cold = yield* EventSourcedRepository.make(Ledger, {
              strategy: SnapshotStrategy.everyNEvents(20),
              cacheMaxBytes: 0
            })
            const replayed = yield* cold.load(id)
            assert.strictEqual(replayed.source, "replay")
            assert.strictEqual(replayed.version, 30)
            assert.strictEqual(encode(replayed.state), expected(id, all))

            // The next commit that the strategy finds due writes a snapshot again, and loads start from it.
            assert.strictEqual((yield* cold.save(id, 30, deposits(15, 31))).snapshot, "written")
            const again = yield* cold.load(id)
            assert.strictEqual(again.source, "snapshot")
            assert.deepStrictEqual(again.snapshotVersion, Option.some(45))
            assert.strictEqual(encode(again.state), expected(id, [...all, ...deposits(15, 31)]))
          }))
        }))

      it.effect("in a unit of work the snapshot reaches Redis after the commit, and never after a rollback", () =>
        Effect.gen(function*() {
          const committed = freshId()
          const rolledBack = freshId()
          yield* Effect.scoped(Effect.gen(function*() {
            const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(3) })
            yield* UnitOfWork.transaction(Effect.gen(function*() {
              const saved = yield* repo.save(committed, 0, deposits(3))
              // Not written yet: handed to the store for after the commit.
              assert.strictEqual(saved.snapshot, "queued")
              assert.deepStrictEqual(yield* snapshotVersions(committed), [], "written before the commit")
            }))
            yield* repo.flush
            assert.deepStrictEqual(yield* snapshotVersions(committed), [3])

            const failed = yield* Effect.flip(
              UnitOfWork.transaction(Effect.andThen(repo.save(rolledBack, 0, deposits(3)), Effect.fail("rolled back")))
            )
            assert.strictEqual(failed, "rolled back")
            yield* repo.flush
            assert.deepStrictEqual(yield* snapshotVersions(rolledBack), [])
          }))
        }))

      it.effect("in a bare SQL transaction the Redis write is refused (a failed snapshot), and the commit stands", () =>
        Effect.gen(function*() {
          const id = freshId()
          const sql = yield* SqlClient.SqlClient
          yield* Effect.scoped(Effect.gen(function*() {
            const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(3) })
            const saved = yield* sql.withTransaction(repo.save(id, 0, deposits(3)))
            assert.strictEqual(saved.snapshot, "failed")
            assert.deepStrictEqual(yield* snapshotVersions(id), [])
            assert.strictEqual((yield* repo.load(id)).version, 3)
          }))
        }))
    })
  }
)
