/**
 * Two runners that both believe they own the same entity (two clusters, each with its own runner storage, so
 * each holds every shard — a split brain) on one event store: the memory store, and real Postgres when PG_URL
 * is set. The event store's expected version fences them: no acknowledged command lost, no batch interleaved.
 */
import { EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import type * as Sharding from "effect/cluster/Sharding"
import * as TestRunner from "effect/cluster/TestRunner"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { CounterEntity, entityLayer, repositoryLayer } from "./fixtures/counter.js"

const COMMANDS = 120

const runner = entityLayer().pipe(Layer.provideMerge(repositoryLayer(3)), Layer.provideMerge(TestRunner.layer))

const splitBrain = Effect.gen(function*() {
  const stores = yield* Effect.context<EventStore.EventStore | SnapshotStore.SnapshotStore>()
  // Layer.fresh: two runners with their own sharding, repository and cache, on the same stores.
  const a = yield* Layer.build(Layer.fresh(runner).pipe(Layer.provide(Layer.succeedContext(stores))))
  const b = yield* Layer.build(Layer.fresh(runner).pipe(Layer.provide(Layer.succeedContext(stores))))
  let fenced = 0
  const acked: Array<string> = []
  const drive = (name: string, context: Context.Context<Sharding.Sharding>) =>
    Effect.forEach(Array.from({ length: COMMANDS }, (_, n) => `${name}${n}`), (by) =>
      Effect.gen(function*() {
        const client = yield* CounterEntity.client
        // The caller retries a fenced command: the cluster (here: the same split runner) reloads first.
        for (let attempt = 0; attempt < 200; attempt++) {
          const result = yield* Effect.result(client("hot").AddTwice({ amount: 1, by }))
          if (Result.isSuccess(result)) return yield* Effect.sync(() => acked.push(by))
          if (result.failure._tag !== "EntityError" || result.failure.reason !== "OwnershipLost") {
            return yield* Effect.die(result.failure)
          }
          fenced++
        }
        return yield* Effect.die(`${by} fenced 200 times`)
      }).pipe(Effect.provide(context)), { concurrency: 4, discard: true })
  yield* Effect.all([drive("a", a), drive("b", b)], { concurrency: "unbounded" })
  const events = yield* EventStore.EventStore
  const stored = yield* Stream.runCollect(events.read("Counter", "hot"))
  const by = stored.map((event) => (event.payload as { by: string }).by)
  return { fenced, acked, versions: stored.map((event) => event.version), by }
}).pipe(Effect.scoped)

const check = (result: Effect.Success<typeof splitBrain>) => {
  // Both owners wrote, and each was fenced by the other's appends.
  assert.isAbove(result.fenced, 0)
  assert.strictEqual(result.acked.length, 2 * COMMANDS)
  assert.deepStrictEqual(result.versions, result.by.map((_, i) => i + 1))
  // Every acknowledged command's two events, once, side by side; nothing else.
  assert.strictEqual(result.by.length, 2 * result.acked.length)
  for (let i = 0; i < result.by.length; i += 2) assert.strictEqual(result.by[i], result.by[i + 1])
  assert.deepStrictEqual(
    result.by.filter((_, i) => i % 2 === 0).sort(),
    [...result.acked].sort()
  )
}

describe("fencing: two runners that both own one entity", () => {
  it.live("on the memory event store", () =>
    splitBrain.pipe(
      Effect.map(check),
      Effect.provide(Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory))
    ))

  it.live.skipIf(!Postgres.hasServer)("on Postgres", () =>
    splitBrain.pipe(
      Effect.map(check),
      Effect.provide(
        Layer.merge(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
          Layer.provide(Postgres.layerUrlTest(process.env.PG_URL ?? "", "cluster_fencing"))
        )
      )
    ))
})
