/**
 * The generated Order history every benchmark side uses: version 1 creates the order, version v >= 2 adds
 * catalog item v - 2 (see `OrderDomain.catalogItem`).
 */
import * as OrderDomain from "../OrderDomain.js"

export const customerId = "customer-1"

export const historyEvent = (version: number, skus = OrderDomain.catalogSize): OrderDomain.OrderEvent =>
  version === 1 ? OrderDomain.OrderCreated.make({ customerId }) : OrderDomain.itemAdded(version - 2, skus)

/** The state after `versions` events, folded in memory: what every load of that history must answer. */
export const expectedState = (id: string, versions: number, skus = OrderDomain.catalogSize): OrderDomain.OrderState => {
  let state = OrderDomain.initial(id)
  for (let v = 1; v <= versions; v++) state = OrderDomain.evolve(state, historyEvent(v, skus))
  return state
}

/**
 * The JSON-encoded payload (`Schema.toCodecJson`) of `historyEvent(version)`, built directly (as the SQL
 * seeding builds it), for seeding millions of events without a Schema walk per event.
 */
export const encodedHistoryEvent = (
  version: number,
  skus = OrderDomain.catalogSize
): { readonly type: string; readonly payload: Record<string, unknown> } => {
  if (version === 1) return { type: "OrderCreated", payload: { _tag: "OrderCreated", customerId } }
  const item = OrderDomain.catalogItem(version - 2, skus)
  return {
    type: "ItemAdded",
    payload: { _tag: "ItemAdded", sku: item.sku, quantity: item.quantity, unitPrice: item.unitPrice }
  }
}
