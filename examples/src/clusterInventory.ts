/**
 * An inventory as event-sourced cluster entities: one `Stock` entity per SKU owns its reservations, keeps its
 * state in memory, appends its events through the repository before it replies, and comes back from snapshot +
 * tail wherever the cluster activates it next.
 *
 * The same entity code runs here on `TestCluster.layer` (one in-process runner, memory stores) and in
 * production on runners that share Postgres (`NodeClusterSocket.layer({ storage: "sql" })`, `SqlEventStore`,
 * `SqlSnapshotStore`): only the bottom layer changes.
 *
 *   pnpm exec tsx examples/src/clusterInventory.ts
 */
import { EntityError, EventSourcedEntity, TestCluster } from "@effect-snapshots/cluster"
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import * as Entity from "effect/cluster/Entity"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { runMain } from "./runMain.js"

// ---------------------------------------------------------------------------------------------------------
// the aggregate
// ---------------------------------------------------------------------------------------------------------

const Restocked = Schema.TaggedStruct("Restocked", { quantity: Schema.Int })
const Reserved = Schema.TaggedStruct("Reserved", { orderId: Schema.String, quantity: Schema.Int })
const Released = Schema.TaggedStruct("Released", { orderId: Schema.String })

const StockState = Schema.Struct({
  onHand: Schema.Int,
  reservations: Schema.Record(Schema.String, Schema.Int)
})

export const Stock = Aggregate.make({
  type: "Stock",
  state: StockState,
  events: Schema.Union([Restocked, Reserved, Released]),
  initial: (): typeof StockState.Type => ({ onHand: 0, reservations: {} }),
  evolve: (stock, event) => {
    switch (event._tag) {
      case "Restocked":
        return { ...stock, onHand: stock.onHand + event.quantity }
      case "Reserved":
        return { ...stock, reservations: { ...stock.reservations, [event.orderId]: event.quantity } }
      case "Released": {
        const { [event.orderId]: _released, ...reservations } = stock.reservations
        return { ...stock, reservations }
      }
    }
  }
})

const available = (stock: typeof StockState.Type) =>
  Object.values(stock.reservations).reduce((free, quantity) => free - quantity, stock.onHand)

export class Stocks extends EventSourcedRepository.Tag<Stocks>()("inventory/Stocks", Stock) {}

// ---------------------------------------------------------------------------------------------------------
// the entity: its commands as Rpcs with Schemas, and their handlers
// ---------------------------------------------------------------------------------------------------------

export class OutOfStock extends Schema.TaggedError<OutOfStock>("inventory/OutOfStock")("OutOfStock", {
  requested: Schema.Int,
  available: Schema.Int
}) {}

const Availability = Schema.Struct({ available: Schema.Int, reserved: Schema.Int })

export const StockEntity = Entity.make("Stock", [
  Rpc.make("Restock", { payload: { quantity: Schema.Int }, success: Availability, error: EntityError.EntityError }),
  Rpc.make("Reserve", {
    payload: { orderId: Schema.String, quantity: Schema.Int },
    success: Availability,
    error: Schema.Union([OutOfStock, EntityError.EntityError])
  }),
  Rpc.make("Release", { payload: { orderId: Schema.String }, success: Availability, error: EntityError.EntityError }),
  Rpc.make("Availability", { success: Availability, error: EntityError.EntityError })
])

const availability = (stock: typeof StockState.Type) => ({
  available: available(stock),
  reserved: Object.keys(stock.reservations).length
})

export const StockEntityDefinition = EventSourcedEntity.make(StockEntity, Stocks)

export const stockHandlers = StockEntityDefinition.of({
  Restock: {
    decide: (_stock, { quantity }) => Effect.succeed([Restocked.make({ quantity })]),
    reply: availability
  },
  Reserve: {
    decide: (stock, { orderId, quantity }) =>
      stock.reservations[orderId] !== undefined
        ? Effect.succeed([]) // already reserved: nothing to do, the reply says where the stock stands
        : quantity > available(stock)
        ? Effect.fail(new OutOfStock({ requested: quantity, available: available(stock) }))
        : Effect.succeed([Reserved.make({ orderId, quantity })]),
    reply: availability
  },
  Release: {
    decide: (stock, { orderId }) =>
      Effect.succeed(stock.reservations[orderId] === undefined ? [] : [Released.make({ orderId })]),
    reply: availability
  },
  Availability: { reply: availability }
})

export const StockEntityLayer = StockEntityDefinition.toLayer(stockHandlers, { snapshotOnPassivation: true })

/** The entity over its repository (snapshots every 20 events, written in the background). */
export const layerOn = <E, R>(base: Layer.Layer<EventStore.EventStore | R, E>) =>
  StockEntityLayer.pipe(
    Layer.provideMerge(Stocks.layer({ strategy: SnapshotStrategy.everyNEvents(20), mode: "background" })),
    Layer.provideMerge(base)
  )

// ---------------------------------------------------------------------------------------------------------
// the application: 50 orders race for 30 units of one SKU
// ---------------------------------------------------------------------------------------------------------

export const program = Effect.gen(function*() {
  const stock = yield* StockEntity.client
  yield* stock("sku-1").Restock({ quantity: 30 })
  const orders = yield* Effect.forEach(
    Array.from({ length: 50 }, (_, i) => `order-${i}`),
    (orderId) => Effect.result(stock("sku-1").Reserve({ orderId, quantity: 1 })),
    { concurrency: 10 }
  )
  yield* stock("sku-1").Release({ orderId: "order-0" })
  const events = yield* EventStore.EventStore
  const stored = yield* Stream.runCollect(events.read("Stock", "sku-1"))
  return {
    reserved: orders.filter((order) => order._tag === "Success").length,
    outOfStock: orders.filter((order) => order._tag === "Failure" && order.failure._tag === "OutOfStock").length,
    final: yield* stock("sku-1").Availability(),
    events: stored.length
  }
}).pipe(Effect.provide(layerOn(TestCluster.layer)))

runMain(import.meta.url, program)
