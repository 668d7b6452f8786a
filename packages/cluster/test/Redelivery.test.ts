/**
 * A command committed by one owner and delivered again — the cluster resends a request whose runner died
 * before it answered — to a new owner that activates the entity afresh. The request is handed to each runner's
 * Sharding as the cluster delivers it (same request id, same payload), on shared memory stores.
 */
import { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as EntityAddress from "effect/cluster/EntityAddress"
import * as EntityId from "effect/cluster/EntityId"
import * as Envelope from "effect/cluster/Envelope"
import * as Message from "effect/cluster/Message"
import type * as Reply from "effect/cluster/Reply"
import * as Sharding from "effect/cluster/Sharding"
import type * as Snowflake from "effect/cluster/Snowflake"
import * as TestRunner from "effect/cluster/TestRunner"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Headers from "effect/http/Headers"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { CounterEntity, entityLayer, repositoryLayer } from "./fixtures/counter.js"

const runner = entityLayer().pipe(Layer.provideMerge(repositoryLayer(1000)), Layer.provideMerge(TestRunner.layer))

/** Deliver one Add request with the given id to a runner, as the cluster does, and wait for its reply. */
const deliver = (requestId: Snowflake.Snowflake, entityId: string, payload: { amount: number; by: string }) =>
  Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    const replied = yield* Deferred.make<Reply.Reply<never>>()
    yield* sharding.sendOutgoing(
      new Message.OutgoingRequest({
        envelope: Envelope.makeRequest({
          requestId,
          address: EntityAddress.make({
            shardId: sharding.getShardId(EntityId.make(entityId), "default"),
            entityType: CounterEntity.type,
            entityId: EntityId.make(entityId)
          }),
          tag: "Add" as never,
          payload: payload as never,
          headers: Headers.empty
        }),
        context: Context.empty() as Context.Context<never> as Context.Context<unknown>,
        lastReceivedReply: Option.none(),
        rpc: CounterEntity.protocol.requests.get("Add")!,
        respond: (reply) =>
          reply._tag === "WithExit" ? Deferred.succeed(replied, reply).pipe(Effect.asVoid) : Effect.void,
        annotations: Context.empty()
      }),
      false
    )
    const reply = yield* Deferred.await(replied)
    return reply._tag === "WithExit" ? reply.exit : yield* Effect.die("no exit")
  })

describe("a redelivered command", () => {
  it.live("is applied once: the new owner finds its id in the stream's tail and answers from the state", () =>
    Effect.gen(function*() {
      const stores = yield* Effect.context<EventStore.EventStore | SnapshotStore.SnapshotStore>()
      const first = yield* Layer.build(Layer.fresh(runner).pipe(Layer.provide(Layer.succeedContext(stores))))
      const requestId = yield* Effect.flatMap(Sharding.Sharding, (s) => s.getSnowflake).pipe(Effect.provide(first))
      const other = yield* Effect.flatMap(Sharding.Sharding, (s) => s.getSnowflake).pipe(Effect.provide(first))
      const once = yield* deliver(requestId, "r-1", { amount: 5, by: "x" }).pipe(Effect.provide(first))
      yield* deliver(other, "r-1", { amount: 1, by: "y" }).pipe(Effect.provide(first))
      // The first owner is gone without a word; the cluster hands the same request to the next one.
      const second = yield* Layer.build(Layer.fresh(runner).pipe(Layer.provide(Layer.succeedContext(stores))))
      const again = yield* deliver(requestId, "r-1", { amount: 5, by: "x" }).pipe(Effect.provide(second))
      // On the same runner, the cluster itself refuses a request id it has processed.
      const refused = yield* Effect.flip(deliver(requestId, "r-1", { amount: 5, by: "x" }).pipe(Effect.provide(second)))
      assert.strictEqual(refused._tag, "AlreadyProcessingMessage")
      // A different command that happens to carry the same request id (two clusters' ids collide) is applied.
      const third = yield* Layer.build(Layer.fresh(runner).pipe(Layer.provide(Layer.succeedContext(stores))))
      const collision = yield* deliver(requestId, "r-1", { amount: 7, by: "z" }).pipe(Effect.provide(third))
      const events = yield* EventStore.EventStore
      const stored = yield* Stream.runCollect(events.read("Counter", "r-1"))
      assert.deepStrictEqual(stored.map((event) => (event.payload as { by: string }).by), ["x", "y", "z"])
      assert.isTrue(Exit.isSuccess(once) && Exit.isSuccess(again) && Exit.isSuccess(collision))
      assert.deepStrictEqual(Exit.isSuccess(again) ? again.value : undefined, { total: 6, adds: 2 })
      assert.deepStrictEqual(Exit.isSuccess(collision) ? collision.value : undefined, { total: 13, adds: 3 })
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory))))
})
