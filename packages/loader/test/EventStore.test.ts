import { BadArgument } from "@effect-snapshots/core"
import { EventStore } from "@effect-snapshots/loader"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { contract } from "./utils/eventStoreContract.js"

const countAll = Effect.flatMap(EventStore.EventStore, (store) => Stream.runCount(store.readAll()))

describe("EventStore.layerMemory", () => {
  layer(EventStore.layerMemoryWith({ pageSize: 4 }))("contract (page size 4)", (it) => {
    contract(it, { pageSize: 4, countEvents: countAll, propertyRuns: 200 })
  })

  layer(EventStore.layerMemory)("contract (default page size)", (it) => {
    contract(it, { pageSize: 1000, countEvents: countAll, propertyRuns: 20 })
  })

  it.effect("a bad page size is a BadArgument of EventStore.makeMemory (a typed failure, not a defect)", () =>
    Effect.gen(function*() {
      for (const pageSize of [0, -1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(EventStore.makeMemory({ pageSize }))
        assert.isTrue(BadArgument.isBadArgument(error))
        assert.match(error.message, /^EventStore\.makeMemory: pageSize must be a positive integer/)
      }
    }))

  it.effect("each build of layerMemory is a fresh store; positions start at 1", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const result = yield* store.append("A", "1", 0, [{ type: "X", payload: 1 }, { type: "Y", payload: 2 }])
      assert.deepStrictEqual(result.positions, [1, 2])
      const all = yield* Stream.runCollect(store.readAll())
      assert.deepStrictEqual(all.map((e) => e.type), ["X", "Y"])
    }).pipe(Effect.provide(EventStore.layerMemory)))
})
