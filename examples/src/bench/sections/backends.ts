/**
 * The sections on other backends, each skipped (with the reason) when its server is not set: the stores
 * distributed on Citus against a plain server (`citus.ts`), a snapshot in Redis against one in PostgreSQL
 * (`redis.ts`).
 */
import * as Citus from "../citus.js"
import type { Context } from "../context.js"
import * as RedisBench from "../redis.js"

// ------------------------------------------------------------------------------------------------------
// citus: the stores distributed on a Citus cluster vs a plain server, side by side
// ------------------------------------------------------------------------------------------------------
export const runCitus = async (ctx: Context) => {
  const { log, measureOptions, options, section, skipped, wants } = ctx
  let citus: Record<string, unknown> | null = null
  if (wants("citus")) {
    section(`citus: Citus (CITUS_URL) vs a plain server, repository load/save, append, readAll poll`)
    const outcome = await Citus.run({
      events: options.citusEvents,
      tail: options.tail,
      snapshotEvery: options.snapshotEvery,
      writeIterations: options.saveIterations,
      measure: measureOptions,
      schema: options.profile === "smoke"
        ? `effect_snapshots_bench_citus_${process.pid}`
        : "effect_snapshots_bench_citus",
      log
    })
    if (outcome._tag === "Skipped") {
      log(`  skipped: ${outcome.reason}`)
      skipped.push({ part: "citus", reason: outcome.reason })
    } else citus = outcome.result
  }
  return citus
}

// ------------------------------------------------------------------------------------------------------
// redis: a cold load from a snapshot in Redis vs in PostgreSQL (events in PostgreSQL)
// ------------------------------------------------------------------------------------------------------
export const runRedis = async (ctx: Context) => {
  const { log, measureOptions, options, section, skipped, wants } = ctx
  let redis: Record<string, unknown> | null = null
  if (wants("redis")) {
    section(`redis: cold load from a snapshot in Redis (REDIS_URL) vs in PostgreSQL, events in PostgreSQL`)
    const outcome = await RedisBench.run({
      events: options.vsRawEvents,
      tail: options.tail,
      measure: { ...measureOptions, iterations: options.iterations * 3 },
      schema: options.profile === "smoke"
        ? `effect_snapshots_bench_redis_${process.pid}`
        : "effect_snapshots_bench_redis",
      log
    })
    if (outcome._tag === "Skipped") {
      log(`  skipped: ${outcome.reason}`)
      skipped.push({ part: "redis", reason: outcome.reason })
    } else redis = outcome.result
  }
  return redis
}
