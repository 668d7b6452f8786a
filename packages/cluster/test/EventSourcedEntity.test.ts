import { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as EventSourcedEntity from "../src/EventSourcedEntity.js"
import * as TestCluster from "../src/TestCluster.js"
import { Counter, CounterEntity, entityLayer, repositoryLayer } from "./fixtures/counter.js"

const build = (options: Parameters<typeof entityLayer>[0] = {}, every = 1000) =>
  entityLayer(options).pipe(
    Layer.provideMerge(repositoryLayer(every)),
    Layer.provideMerge(TestCluster.layer)
  )

const events = (id: string) =>
  Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.read("Counter", id)))

describe("EventSourcedEntity on TestCluster (memory stores, one in-process runner)", () => {
  it.live("a command's events are committed before its reply, one version after the other", () =>
    Effect.gen(function*() {
      const client = yield* CounterEntity.client
      const first = yield* client("c-1").Add({ amount: 2, by: "a" })
      const second = yield* client("c-1").Add({ amount: 3, by: "b" })
      assert.deepStrictEqual(first, { total: 2, adds: 1 })
      assert.deepStrictEqual(second, { total: 5, adds: 2 })
      const stored = yield* events("c-1")
      assert.deepStrictEqual(stored.map((event) => event.version), [1, 2])
      // The cluster's request id is each command's causationId.
      assert.strictEqual(new Set(stored.map((event) => event.metadata["causationId"])).size, 2)
      assert.deepStrictEqual(yield* client("c-1").Get(), { total: 5, adds: 2 })
    }).pipe(Effect.provide(build())))

  it.live("a handler's domain error reaches the caller typed, and nothing is written", () =>
    Effect.gen(function*() {
      const client = yield* CounterEntity.client
      const refused = yield* Effect.flip(client("c-2").Add({ amount: 5000, by: "a" }))
      assert.strictEqual(refused._tag, "TooLarge")
      assert.strictEqual((yield* events("c-2")).length, 0)
    }).pipe(Effect.provide(build())))

  it.live("another writer's append fences the owner: OwnershipLost, nothing overwritten, then a reload", () =>
    Effect.gen(function*() {
      const client = yield* CounterEntity.client
      const store = yield* EventStore.EventStore
      yield* client("c-3").Add({ amount: 1, by: "owner" })
      // A second owner (a runner that also believes it owns c-3) appends behind this one's back.
      yield* store.append("Counter", "c-3", 1, [{ type: "Added", payload: { _tag: "Added", amount: 10, by: "other" } }])
      const lost = yield* Effect.flip(client("c-3").Add({ amount: 100, by: "owner" }))
      assert.strictEqual(lost._tag, "EntityError")
      assert.strictEqual(lost._tag === "EntityError" ? lost.reason : "", "OwnershipLost")
      // The refused command wrote nothing; the next one is decided on the reloaded state.
      assert.deepStrictEqual(yield* client("c-3").Add({ amount: 100, by: "owner" }), { total: 111, adds: 3 })
      const stored = yield* events("c-3")
      assert.deepStrictEqual(stored.map((event) => [event.version, (event.payload as { by: string }).by]), [
        [1, "owner"],
        [2, "other"],
        [3, "owner"]
      ])
    }).pipe(Effect.provide(build())))

  it.live("passivation writes a snapshot at the last version; reactivation replays nothing", () => {
    const activations: Array<EventSourcedEntity.Activation> = []
    return Effect.gen(function*() {
      const client = yield* CounterEntity.client
      for (let i = 1; i <= 7; i++) yield* client("c-4").Add({ amount: i, by: "a" })
      assert.isTrue(Option.isNone(yield* Effect.flatMap(SnapshotStore.SnapshotStore, (s) => s.load("Counter", "c-4"))))
      // The cluster's reaper looks for idle entities every 5 s at the finest.
      const snapshot = yield* Effect.flatMap(SnapshotStore.SnapshotStore, (s) => s.load("Counter", "c-4")).pipe(
        Effect.repeat({ until: Option.isSome, schedule: Schedule.spaced("200 millis"), times: 100 })
      )
      assert.strictEqual(Option.map(snapshot, (s) => s.version).pipe(Option.getOrUndefined), 7)
      assert.deepStrictEqual(yield* client("c-4").Get(), { total: 28, adds: 7 })
      assert.deepStrictEqual(activations.map((a) => [a.source, a.version]), [["new", 0], ["cache", 7]])
    }).pipe(
      Effect.provide(
        build({
          snapshotOnPassivation: true,
          maxIdleTime: "300 millis",
          onActivation: (activation) => Effect.sync(() => activations.push(activation))
        })
      )
    )
  })

  it.live("the state equals a full replay of the stream after many commands", () =>
    Effect.gen(function*() {
      const client = yield* CounterEntity.client
      const replies = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) => client(`c-${i % 3}`).Add({ amount: i, by: "x" }),
        { concurrency: 8 }
      )
      assert.strictEqual(replies.length, 60)
      for (const id of ["c-0", "c-1", "c-2"]) {
        const stored = yield* events(id)
        assert.deepStrictEqual(stored.map((event) => event.version), stored.map((_, i) => i + 1))
        const replayed = stored.reduce(
          (state, event) => Counter.evolve(state, event.payload as { _tag: "Added"; amount: number; by: string }),
          Counter.initial(id)
        )
        assert.deepStrictEqual(yield* client(id).Get(), replayed)
      }
    }).pipe(Effect.provide(build({}, 5))))
})
