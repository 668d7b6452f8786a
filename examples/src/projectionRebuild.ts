/**
 * Rebuilding a projection from a snapshot (`rebuild_projection_from_snapshot` in the seed design): a read model of
 * order summaries is reset from the order's newest snapshot, then fed only the events after it, instead of
 * the whole history. The result is the same summary a rebuild from the first event gives.
 *
 *   pnpm tsx examples/src/projectionRebuild.ts
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore, Projection } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { Order } from "./Order.js"
import * as OrderDomain from "./OrderDomain.js"
import { runMain } from "./runMain.js"

/** One row of the read model. */
export interface OrderSummary {
  readonly orderId: string
  readonly status: OrderDomain.OrderStatus
  readonly items: number
  readonly total: string
  /** The last event folded into the row. */
  readonly version: number
}

/** A read model of order summaries, kept in a Ref here (a table in an application). */
export const makeReadModel = Effect.map(Ref.make(new Map<string, OrderSummary>()), (rows) => {
  const set = (row: OrderSummary) => Ref.update(rows, (m) => new Map(m).set(row.orderId, row))
  const handler: Projection.Handler<OrderDomain.OrderState, OrderDomain.OrderEvent, never, never> = {
    // Reset the row from a snapshot's state (or the initial state at version 0).
    applySnapshot: (orderId, state, version) =>
      set({ orderId, status: state.status, items: state.itemCount, total: BigDecimal.format(state.total), version }),
    // Then apply each later event to the row.
    handle: ({ aggregateId, event, version }) =>
      Effect.flatMap(Ref.get(rows), (m) => {
        const row = m.get(aggregateId)!
        switch (event._tag) {
          case "OrderCreated":
            return set({ ...row, status: "Open", version })
          case "ItemAdded": {
            const total = BigDecimal.sum(
              BigDecimal.fromStringUnsafe(row.total),
              BigDecimal.multiply(event.unitPrice, BigDecimal.fromBigInt(BigInt(event.quantity)))
            )
            return set({ ...row, items: row.items + event.quantity, total: BigDecimal.format(total), version })
          }
          case "OrderSubmitted":
            return set({ ...row, status: "Submitted", version })
        }
      })
  }
  return { handler, get: (id: string) => Effect.map(Ref.get(rows), (m) => m.get(id)) }
})

export const program = Effect.gen(function*() {
  // An order with a 1,000-item history, snapshotted every 100 events.
  const orders = yield* EventSourcedRepository.make(Order, { strategy: SnapshotStrategy.everyNEvents(100) })
  yield* orders.update("order-1", (s) => OrderDomain.create(s, "customer-1"))
  for (let i = 0; i < 1_000; i += 40) {
    const batch = Array.from({ length: 40 }, (_, k) => OrderDomain.catalogItem(i + k))
    yield* orders.update("order-1", (s) => OrderDomain.addItems(s, batch))
  }
  yield* orders.update("order-1", OrderDomain.submit)

  // Rebuild from the snapshot: the snapshot's state, then only the events after it.
  const fromSnapshot = yield* makeReadModel
  const rebuilt = yield* Projection.rebuild(Order, "order-1", fromSnapshot.handler)

  // The same projection rebuilt from the first event, for comparison: over an empty snapshot store of its own
  // (`Layer.fresh`: provided inside a program that already holds `SnapshotStore.layerMemory`, the bare layer
  // would be the same, memoized instance, snapshots included).
  const fromScratch = yield* makeReadModel
  const replayed = yield* Projection.rebuild(Order, "order-1", fromScratch.handler).pipe(
    Effect.provide(Layer.fresh(SnapshotStore.layerMemory))
  )

  const a = yield* fromSnapshot.get("order-1")
  const b = yield* fromScratch.get("order-1")
  yield* Effect.log(
    `rebuilt from the snapshot at v${Option.getOrNull(rebuilt.snapshotVersion)} with ${rebuilt.handled} events; ` +
      `from scratch with ${replayed.handled}; same summary: ${JSON.stringify(a) === JSON.stringify(b)}`
  )
  return {
    fromSnapshot: { snapshotVersion: Option.getOrNull(rebuilt.snapshotVersion), handled: rebuilt.handled, summary: a },
    fromScratch: { snapshotVersion: Option.getOrNull(replayed.snapshotVersion), handled: replayed.handled, summary: b }
  }
}).pipe(Effect.scoped)

export const layer = Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory)

runMain(import.meta.url, program.pipe(Effect.provide(layer)))
