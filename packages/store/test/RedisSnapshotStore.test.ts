/**
 * RedisSnapshotStore on a real Redis server (REDIS_URL; skipped without it): the store contract (also under the
 * compressed decorator, whose bytes Redis stores as base64), the conditional save, the unit-of-work policy of a
 * store outside the transaction, and what a flushed or damaged Redis answers. Each block works under a key
 * prefix of its own, deleted at its end.
 */
import { RedisSnapshotStore, SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import * as Stream from "effect/Stream"
import { contract, freshType, make } from "./utils/contract.js"
import { freshPrefix, hasRedis, layerRedis } from "./utils/redis.js"
import { saveIfDueSuite } from "./utils/saveIfDue.js"

const prefix = freshPrefix("store")
const RedisLayer = layerRedis(prefix)
// A small page, so that `aggregates` reads several pages of ids (and of types).
const Store = RedisSnapshotStore.layerWith({ prefix, pageSize: 50 })

describe.skipIf(!hasRedis)("RedisSnapshotStore", () => {
  layer(RedisLayer, { timeout: 120_000 })((it) => {
    it.layer(Store)("contract", (it) => contract(it, { large: true, manyKeys: 120 }))

    it.layer(
      RedisSnapshotStore.layerWith({ prefix: `${prefix}gzip:` }).pipe(SnapshotStore.compressed({ thresholdBytes: 256 }))
    )("contract + compressed (gzip)", (it) => contract(it))

    saveIfDueSuite(it, Effect.orDie(RedisSnapshotStore.make({ prefix: `${prefix}due:` })))

    it.effect("in a unit of work a snapshot is written after the commit, and not at all after a rollback", () =>
      Effect.gen(function*() {
        const store = yield* RedisSnapshotStore.make({ prefix: `${prefix}unit:` })
        const type = freshType("Unit")
        yield* UnitOfWork.transaction(Effect.gen(function*() {
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
          assert.strictEqual(
            yield* store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 2 }), {
              dueFrom: 2
            }),
            "Written"
          )
          // Not in Redis before the commit.
          assert.isTrue(Option.isNone(yield* store.load(type, "a")))
        }))
        assert.deepStrictEqual((yield* store.list(type, "a")).map((info) => info.version), [1, 2])

        const failed = yield* Effect.result(UnitOfWork.transaction(Effect.andThen(
          store.save(make({ aggregateType: type, aggregateId: "b", version: 1 })),
          Effect.fail("rolled back" as const)
        )))
        assert.strictEqual(failed._tag, "Failure")
        assert.deepStrictEqual(yield* store.list(type, "b"), [])
      }).pipe(Effect.provide(UnitOfWork.layerMemory)))

    it.effect("a flushed Redis answers no snapshot, never a failure; writes work again at once", () =>
      Effect.gen(function*() {
        const flushed = `${prefix}flushed:`
        const store = yield* RedisSnapshotStore.make({ prefix: flushed })
        const type = freshType("Flushed")
        yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 3 }))
        assert.isAbove(yield* RedisSnapshotStore.clear({ prefix: flushed }), 0)
        assert.isTrue(Option.isNone(yield* store.load(type, "a")))
        assert.deepStrictEqual(yield* store.list(type, "a"), [])
        assert.isTrue(Option.isNone(yield* store.latestForType(type)))
        assert.deepStrictEqual(yield* Stream.runCollect(store.aggregates(type)), [])
        yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 4 }))
        assert.strictEqual(Option.getOrThrow(yield* store.load(type, "a")).version, 4)
      }))

    it.effect("a damaged entry is Corrupt, not a defect", () =>
      Effect.gen(function*() {
        const damaged = `${prefix}damaged:`
        const store = yield* RedisSnapshotStore.make({ prefix: damaged })
        const redis = yield* Redis.Redis
        const type = freshType("Damaged")
        yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
        yield* redis.send("HSET", `${damaged}states:${type}\u0000a`, "0000000000000001", "j{not json")
        assert.strictEqual((yield* Effect.flip(store.load(type, "a"))).reason, "Corrupt")
        yield* redis.send("HSET", `${damaged}states:${type}\u0000a`, "0000000000000001", "x")
        assert.strictEqual((yield* Effect.flip(store.load(type, "a"))).reason, "Corrupt")
      }))

    it.effect("a key of another type under the prefix (WRONGTYPE) is Corrupt, not Unavailable", () =>
      Effect.gen(function*() {
        const foreign = `${prefix}foreign:`
        const store = yield* RedisSnapshotStore.make({ prefix: foreign })
        const redis = yield* Redis.Redis
        const type = freshType("Foreign")
        yield* redis.send("SET", `${foreign}history:${type}\u0000a`, "not a sorted set")
        const error = yield* Effect.flip(store.load(type, "a"))
        assert.strictEqual(error.reason, "Corrupt")
        assert.match(error.message, /^load failed: Redis: WRONGTYPE/)
      }))

    it.effect("clear deletes the keys under its prefix only, glob characters included; an empty prefix is refused", () =>
      Effect.gen(function*() {
        const globbed = `${prefix}g*[a]?:`
        const neighbour = `${prefix}gXab:` // what the prefix would match as a glob
        const type = freshType("Clear")
        for (const p of [globbed, neighbour]) {
          const store = yield* RedisSnapshotStore.make({ prefix: p })
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
        }
        // history, states, created, ids, types
        assert.strictEqual(yield* RedisSnapshotStore.clear({ prefix: globbed }), 5)
        const left = yield* RedisSnapshotStore.make({ prefix: neighbour })
        assert.strictEqual(Option.getOrThrow(yield* left.load(type, "a")).version, 1)
        assert.strictEqual((yield* Effect.flip(RedisSnapshotStore.clear({ prefix: "" })))._tag, "BadArgument")
      }))

    it.effect("bad options are a BadArgument", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(RedisSnapshotStore.make({ pageSize: 0 }))
        assert.strictEqual(error._tag, "BadArgument")
      }))
  })
})
