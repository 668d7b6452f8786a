/**
 * The inventory as cluster entities, on one in-process runner and the memory stores (no Postgres): 50 orders
 * race for 30 units; the entity decides each reservation on its state in memory, one command at a time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ClusterInventory from "../src/clusterInventory.js"

describe("examples: cluster inventory", () => {
  // it.live: the cluster's runner acquires its shards on real time.
  it.live("50 orders for 30 units: 30 reserved, 20 out of stock, never oversold", () =>
    Effect.gen(function*() {
      const result = yield* ClusterInventory.program
      assert.deepStrictEqual(result, {
        reserved: 30,
        outOfStock: 20,
        final: { available: 1, reserved: 29 },
        // Restocked, 30 Reserved, 1 Released
        events: 32
      })
    }))
})
