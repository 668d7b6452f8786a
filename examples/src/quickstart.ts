/**
 * The Quick Start of the seed design in three steps: a snapshot strategy, a snapshot store, and the repository
 * that loads an aggregate from its newest snapshot plus the events after it.
 *
 *   pnpm tsx examples/src/quickstart.ts      (Postgres at PG_URL, else the embedded PGlite)
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Order } from "./Order.js"
import * as OrderDomain from "./OrderDomain.js"
import { runMain } from "./runMain.js"

// 1. Define the snapshot strategy: snapshot every 100 events.
export const strategy = SnapshotStrategy.everyNEvents(100)

// 2. Configure the snapshot store (and the event store): Postgres in production...
export const layerSql = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layer())
)
// ...or the in-memory layers in tests. Nothing else changes.
export const layerMemory = Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory)

// 3. Integrate with the repository: `load` uses the newest snapshot when there is one.
export const program = Effect.fn("quickstart")(
  function*(orderId: string) {
    const orders = yield* EventSourcedRepository.make(Order, { strategy })

    yield* orders.update(orderId, (order) => OrderDomain.create(order, "cust_456"))
    // 1,050 items, added ten per command (one commit each).
    for (let i = 0; i < 1_050; i += 10) {
      const items = Array.from({ length: 10 }, (_, k) => ({ sku: `item_${i + k}`, quantity: 1, unitPrice: "10.00" }))
      yield* orders.update(orderId, (order) => OrderDomain.addItems(order, items))
    }

    // Another instance (a process that just started, with an empty cache) loads the order: the newest
    // snapshot, at 1,001, plus the 50 events after it. This one would answer from its cache.
    const elsewhere = yield* EventSourcedRepository.make(Order, { strategy })
    const order = yield* elsewhere.load(orderId)
    const snapshotVersion = Option.getOrNull(order.snapshotVersion)
    yield* Effect.log(
      `${orderId} at version ${order.version}: loaded from the snapshot at ${snapshotVersion} ` +
        `+ ${order.replayed} events; ${order.state.itemCount} items, total ${BigDecimal.format(order.state.total)}`
    )
    return {
      version: order.version,
      snapshotVersion,
      replayed: order.replayed,
      itemCount: order.state.itemCount,
      total: BigDecimal.format(order.state.total)
    }
  },
  Effect.scoped
)

// Order ids get a per-run suffix, so the example can run again on the same database.
runMain(import.meta.url, program(`order_123-${Date.now().toString(36)}`).pipe(Effect.provide(layerSql)))
