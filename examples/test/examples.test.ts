import { assert, describe, it } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as OrderDomain from "../src/OrderDomain.js"
import * as ProjectionRebuild from "../src/projectionRebuild.js"
import * as Quickstart from "../src/quickstart.js"
import * as SnapshotMigration from "../src/snapshotMigration.js"
import * as StrategiesFromConfig from "../src/strategiesFromConfig.js"

/** The state after creating an order and adding catalog items 0..items-1, folded in memory. */
const foldCatalog = (items: number) => {
  let state = OrderDomain.evolve(OrderDomain.initial("x"), OrderDomain.OrderCreated.make({ customerId: "c" }))
  for (let i = 0; i < items; i++) state = OrderDomain.evolve(state, OrderDomain.itemAdded(i))
  return state
}

describe("examples", () => {
  it.effect("quickstart: loads order_123 from the snapshot at 1,001 plus the 50 events after it", () =>
    Effect.gen(function*() {
      const result = yield* Quickstart.program("order_123").pipe(Effect.provide(Quickstart.layerMemory))
      assert.deepStrictEqual(result, {
        version: 1051,
        snapshotVersion: 1001,
        replayed: 50,
        itemCount: 1050,
        total: "10500"
      })
    }))

  it.effect("strategiesFromConfig: the same per-type strategy from environment-like keys and from JSON, driving decisions and a repository", () =>
    Effect.gen(function*() {
      const { fromEnv, fromJson } = yield* Effect.all({
        fromEnv: StrategiesFromConfig.program(StrategiesFromConfig.fromEnv, "order-env"),
        fromJson: StrategiesFromConfig.program(StrategiesFromConfig.fromJson, "order-json")
      }).pipe(Effect.provide(StrategiesFromConfig.layer))
      assert.strictEqual(
        fromEnv.strategy,
        `perAggregateType({ "Order": any(everyNEvents(50), onEventTypes("OrderSubmitted")) }, everyNEvents(100))`
      )
      assert.strictEqual(fromJson.strategy, fromEnv.strategy)
      assert.deepStrictEqual(fromEnv.decisions.orderAt50, { take: true, reasons: ["everyNEvents(50)"] })
      assert.deepStrictEqual(fromEnv.decisions.orderSubmitted, {
        take: true,
        reasons: [`onEventTypes("OrderSubmitted")`]
      })
      assert.isFalse(fromEnv.decisions.customerAt50.take)
      assert.deepStrictEqual(fromEnv.decisions.customerAt100, { take: true, reasons: ["everyNEvents(100)"] })
      // 1 create + 12 commits of 10 items (boundaries 50 and 100 crossed at 51 and 101) + the submit at 122.
      assert.deepStrictEqual(fromEnv.snapshotVersions, [51, 101, 122])
      assert.deepStrictEqual(fromJson.snapshotVersions, fromEnv.snapshotVersions)
    }))

  it.effect("strategiesFromConfig: a bad strategy in the configuration is a ConfigError naming the key", () =>
    Effect.gen(function*() {
      const result = yield* StrategiesFromConfig.badConfig
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        assert.include(String(result.failure), StrategiesFromConfig.key)
        assert.match(String(result.failure), /n/)
      }
    }))

  it.effect("snapshotMigration: a version-1 snapshot is migrated, used, and superseded at schema version 2", () =>
    Effect.gen(function*() {
      const result = yield* SnapshotMigration.program.pipe(Effect.provide(SnapshotMigration.layer))
      const expected = foldCatalog(250)
      const { forgotToBump, migration, wrongMigration } = result
      assert.deepStrictEqual(migration.before, [{ version: 101, schemaVersion: 1 }, { version: 201, schemaVersion: 1 }])
      assert.deepStrictEqual(migration.after, [
        { version: 101, schemaVersion: 1 },
        { version: 201, schemaVersion: 1 },
        { version: 251, schemaVersion: 2 }
      ])
      assert.strictEqual(migration.snapshotVersion, 201)
      assert.strictEqual(migration.replayed, 50)
      assert.strictEqual(migration.version, 251)
      assert.strictEqual(migration.itemCount, expected.itemCount)
      assert.strictEqual(migration.total, BigDecimal.format(expected.total))
      assert.strictEqual(migration.nextLoadReplayed, 0)
      assert.isTrue(migration.consistent)
      // Same shape change without a version bump: the fingerprint catches it, replay, then a fresh snapshot.
      assert.deepStrictEqual(forgotToBump.firstLoad, { snapshotVersion: null, replayed: 251 })
      assert.deepStrictEqual(forgotToBump.secondLoad, { snapshotVersion: 251, replayed: 0 })
      assert.strictEqual(forgotToBump.total, BigDecimal.format(expected.total))
      // A wrong migration: caught by the check on its first load, replayed, counted; the snapshot at 201 was
      // replaced by one of the replay (at schema version 2), the true total.
      assert.strictEqual(wrongMigration.source, "replay")
      assert.strictEqual(wrongMigration.replayed, 251)
      assert.strictEqual(wrongMigration.total, BigDecimal.format(expected.total))
      assert.strictEqual(wrongMigration.mismatchesCounted, 1)
      assert.deepStrictEqual(wrongMigration.after, [
        { version: 101, schemaVersion: 1 },
        { version: 201, schemaVersion: 1 },
        { version: 251, schemaVersion: 2 }
      ])
    }))

  it.effect("projectionRebuild: from the snapshot with one event, the same summary as from the first event", () =>
    Effect.gen(function*() {
      const result = yield* ProjectionRebuild.program.pipe(Effect.provide(ProjectionRebuild.layer))
      const expected = foldCatalog(1000)
      assert.strictEqual(result.fromSnapshot.snapshotVersion, 1001)
      assert.strictEqual(result.fromSnapshot.handled, 1)
      assert.strictEqual(result.fromScratch.snapshotVersion, null)
      assert.strictEqual(result.fromScratch.handled, 1002)
      assert.deepStrictEqual(result.fromSnapshot.summary, result.fromScratch.summary)
      assert.deepStrictEqual(result.fromSnapshot.summary, {
        orderId: "order-1",
        status: "Submitted",
        items: expected.itemCount,
        total: BigDecimal.format(expected.total),
        version: 1002
      })
    }))
})
