/**
 * A Redis connection for tests (REDIS_URL; skipped without it): node-redis through `@effect/platform-node`, and
 * a key prefix of the test file's own that is deleted when the layer closes.
 */
import { RedisSnapshotStore } from "@effect-snapshots/store"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export const redisUrl = process.env.REDIS_URL ?? ""

export const hasRedis = redisUrl !== ""

/** A prefix no other test file uses. */
export const freshPrefix = (label: string): string =>
  `effect-snapshots-test:${label}:${Math.random().toString(36).slice(2, 10)}:`

/**
 * The `Redis` service on REDIS_URL (database `database`), deleting `prefix`'s keys when it closes. Built on the
 * real clock: its connection pool's idle timer must not run on a test's TestClock (a test adjusting it by a year
 * would spin the timer half a million times).
 */
export const layerRedis = (prefix: string, database?: number) =>
  Layer.effectDiscard(Effect.addFinalizer(() => Effect.ignore(RedisSnapshotStore.clear({ prefix })))).pipe(
    Layer.provideMerge(NodeRedis.layer({ url: redisUrl, ...(database === undefined ? {} : { database }) })),
    Layer.provide(Layer.succeed(Clock.Clock, Clock.Clock.defaultValue()))
  )
