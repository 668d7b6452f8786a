/**
 * The shop example from the outside, on PG_URL (own schema) or the embedded PGlite: two aggregate types with a
 * repository service each, metadata on every event, and the operator's verify + prune + rebuild over the registry.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Shop from "../src/shop.js"

describe("examples: shop", () => {
  it.effect(
    "metadata on every event, a repository Layer per aggregate, verify + prune + rebuild over the registry",
    () =>
      Effect.gen(function*() {
        const { operated, shopped } = yield* Shop.program("test")
        assert.strictEqual(shopped.cartVersion, 25)
        assert.deepStrictEqual(shopped.items, { "sku-0": 4, "sku-1": 5, "sku-2": 5, "sku-3": 5, "sku-4": 5 })
        assert.isTrue(shopped.checkedOut)
        assert.deepStrictEqual(shopped.metadataOfLastEvents, [
          { correlationId: "req-24", causationId: "req-23", userId: "customer-test" },
          { correlationId: "req-25", causationId: "req-24", userId: "customer-test" }
        ])
        assert.deepStrictEqual(shopped.projectionMetadata, [shopped.metadataOfLastEvents[1]])
        assert.strictEqual(shopped.badMetadata, "InvalidMetadata")
        // Cart snapshots every 10 events (10, 20), Customer never reached its 100: verify checks the Cart with
        // one, prune keeps its newest, rebuild writes the stale ones (the Customer without any; the Cart's
        // snapshot at 20 is usable, so it is skipped).
        assert.deepStrictEqual(operated, [
          {
            aggregateType: "Cart",
            verified: { checked: 1, consistent: 1 },
            pruned: 1,
            rebuilt: { written: 0, skipped: 1, failed: 0 }
          },
          {
            aggregateType: "Customer",
            verified: { checked: 0, consistent: 0 },
            pruned: 0,
            rebuilt: { written: 1, skipped: 0, failed: 0 }
          }
        ])
      }).pipe(Effect.provide(Shop.layerOn(Postgres.layerTest("examples_shop")))),
    120_000
  )
})
