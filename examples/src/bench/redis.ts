/**
 * `--only redis`: a cold load (no cache) from a snapshot, with the events in PostgreSQL (PG_URL) and the
 * snapshot either in PostgreSQL (SqlSnapshotStore, read in the same statement as the tail) or in Redis
 * (RedisSnapshotStore on REDIS_URL, one command, then the tail from PostgreSQL), side by side in one loop
 * (alternating, rotating who goes first), medians. The same generated history on both sides: `events` events,
 * the snapshot `tail` events before the head. Without PG_URL or REDIS_URL the section is skipped and says why.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { RedisSnapshotStore } from "@effect-snapshots/store"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import pg from "pg"
import { Order } from "../Order.js"
import type * as OrderDomain from "../OrderDomain.js"
import { expectedState } from "./history.js"
import { compare, type MeasureOptions, round } from "./measure.js"
import * as Seed from "./seed.js"

export interface Options {
  readonly events: number
  readonly tail: number
  readonly measure: MeasureOptions
  /** The schema created (and dropped) on PG_URL; also the Redis key prefix. */
  readonly schema: string
  readonly log: (line?: string) => void
}

/** What the section measured, or why it did not run. */
export type Outcome =
  | { readonly _tag: "Skipped"; readonly reason: string }
  | { readonly _tag: "Measured"; readonly result: Record<string, unknown> }

const fingerprintOf = (state: OrderDomain.OrderState) =>
  `${state.itemCount}/${BigDecimal.format(state.total)}/${state.lines.length}/${state.status}`

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value

export const run = async (options: Options): Promise<Outcome> => {
  const pgUrl = nonEmpty(process.env.PG_URL)
  const redisUrl = nonEmpty(process.env.REDIS_URL)
  if (pgUrl === undefined) return { _tag: "Skipped", reason: "set PG_URL (the events' server)" }
  if (redisUrl === undefined) return { _tag: "Skipped", reason: "set REDIS_URL (the snapshots' server)" }
  const prefix = `${options.schema}:`
  const dropSchema = async () => {
    const client = new pg.Client({ connectionString: pgUrl })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS ${options.schema} CASCADE`)
    await client.end()
  }
  await dropSchema()
  const database = Postgres.layerUrl(pgUrl, { schema: options.schema, maxConnections: 4 })
  const redis = NodeRedis.layer({ url: redisUrl })
  const sides = {
    postgres: ManagedRuntime.make(
      Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(Layer.provideMerge(database))
    ),
    redis: ManagedRuntime.make(
      Layer.mergeAll(SqlEventStore.layer, RedisSnapshotStore.layerWith({ prefix })).pipe(
        Layer.provideMerge(Layer.merge(database, redis))
      )
    )
  }
  const scope = Effect.runSync(Scope.make())
  try {
    await sides.redis.runPromise(RedisSnapshotStore.clear({ prefix }))
    const ids = { postgres: `redis-bench-pg-${options.events}`, redis: `redis-bench-redis-${options.events}` }
    const cold = { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 }
    const repos = {
      postgres: await sides.postgres.runPromise(
        Scope.provide(EventSourcedRepository.make(Order, cold), scope)
      ),
      redis: await sides.redis.runPromise(Scope.provide(EventSourcedRepository.make(Order, cold), scope))
    }
    for (const name of ["postgres", "redis"] as const) {
      await sides[name].runPromise(
        Seed.seedStream(ids[name], options.events, options.tail, (id, from, to) => Seed.insertRange(id, from, to))
      )
    }
    const want = `${options.events}:${fingerprintOf(expectedState("x", options.events))}`
    const check = (name: "postgres" | "redis", result: unknown) => {
      const loaded = result as EventSourcedRepository.Loaded<OrderDomain.OrderState>
      const got = `${loaded.version}:${fingerprintOf(loaded.state)}`
      if (got !== want || loaded.source !== "snapshot") {
        throw new Error(`redis bench ${name}: loaded ${got} from ${loaded.source}, expected ${want} from a snapshot`)
      }
    }
    const stats = await compare(
      {
        postgres: () => sides.postgres.runPromise(repos.postgres.load(ids.postgres)),
        redis: () => sides.redis.runPromise(repos.redis.load(ids.redis))
      },
      options.measure,
      check
    )
    const result = {
      events: options.events,
      tail: options.tail,
      snapshotInPostgresMs: round(stats.postgres.medianMs),
      snapshotInRedisMs: round(stats.redis.medianMs),
      snapshotInPostgresP99Ms: round(stats.postgres.p99Ms),
      snapshotInRedisP99Ms: round(stats.redis.p99Ms),
      ratioRedisToPostgres: round(stats.redis.medianMs / stats.postgres.medianMs),
      samples: stats.redis.samples
    }
    options.log(
      `  cold load, ${options.events} events, snapshot ${options.tail} back: snapshot in PostgreSQL ${result.snapshotInPostgresMs} ms (p99 ${result.snapshotInPostgresP99Ms}), in Redis ${result.snapshotInRedisMs} ms (p99 ${result.snapshotInRedisP99Ms}); Redis / PostgreSQL ${result.ratioRedisToPostgres} (n=${result.samples})`
    )
    return { _tag: "Measured", result }
  } finally {
    await sides.redis.runPromise(RedisSnapshotStore.clear({ prefix })).catch(() => undefined)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await sides.postgres.dispose()
    await sides.redis.dispose()
    await dropSchema()
  }
}
