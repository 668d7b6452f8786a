/**
 * The Order aggregate of the seed design: the domain code of `OrderDomain.ts` made into an `Aggregate`, the one
 * definition the demo, the examples and the benchmark load and save.
 */
import { Aggregate } from "@effect-snapshots/loader"
import * as OrderDomain from "./OrderDomain.js"

export const Order = Aggregate.make({
  type: "Order",
  state: OrderDomain.OrderState,
  initial: OrderDomain.initial,
  events: OrderDomain.OrderEvent,
  evolve: OrderDomain.evolve
})

export type Order = typeof Order
