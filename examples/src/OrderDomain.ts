/**
 * The Order of the seed design as plain domain code: Schemas for its state and events, a pure `evolve`, and the
 * commands (create, add items with decimal prices, submit) that decide which events to emit. Nothing here
 * knows about snapshots; `Order.ts` turns it into an `Aggregate`.
 *
 * The state holds one line per SKU (an order that adds the same SKU again raises its quantity), a running
 * item count and a running total. Its size is bounded by the number of distinct SKUs, not by the number of
 * events, which is what lets a snapshot load stay flat however long the history grows.
 */
import * as BigDecimal from "effect/BigDecimal"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

export const OrderCreated = Schema.TaggedStruct("OrderCreated", {
  customerId: Schema.NonEmptyString
})

export const ItemAdded = Schema.TaggedStruct("ItemAdded", {
  sku: Schema.NonEmptyString,
  quantity: Schema.Int.check(Schema.isGreaterThan(0)),
  /** Stored as a decimal string ("19.99", the JSON form of `Schema.BigDecimal`), so no cent is lost to floating point. */
  unitPrice: Schema.BigDecimal
})

export const OrderSubmitted = Schema.TaggedStruct("OrderSubmitted", {
  submittedAt: Schema.DateTimeUtc
})

export const OrderEvent = Schema.Union([OrderCreated, ItemAdded, OrderSubmitted])
export type OrderEvent = typeof OrderEvent.Type

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

export const OrderLine = Schema.Struct({
  sku: Schema.String,
  quantity: Schema.Int,
  unitPrice: Schema.BigDecimal
})
export type OrderLine = typeof OrderLine.Type

export const OrderStatus = Schema.Literals(["Empty", "Open", "Submitted"])
export type OrderStatus = typeof OrderStatus.Type

export const OrderState = Schema.Struct({
  id: Schema.String,
  status: OrderStatus,
  customerId: Schema.OptionFromNullOr(Schema.String),
  lines: Schema.Array(OrderLine),
  itemCount: Schema.Int,
  total: Schema.BigDecimal,
  submittedAt: Schema.OptionFromNullOr(Schema.DateTimeUtc)
})
export type OrderState = typeof OrderState.Type

export const initial = (id: string): OrderState => ({
  id,
  status: "Empty",
  customerId: Option.none(),
  lines: [],
  itemCount: 0,
  total: BigDecimal.fromBigInt(0n),
  submittedAt: Option.none()
})

const addLine = (lines: ReadonlyArray<OrderLine>, event: typeof ItemAdded.Type): ReadonlyArray<OrderLine> => {
  const index = lines.findIndex((line) => line.sku === event.sku)
  if (index === -1) return [...lines, { sku: event.sku, quantity: event.quantity, unitPrice: event.unitPrice }]
  const next = lines.slice()
  next[index] = { sku: event.sku, quantity: lines[index]!.quantity + event.quantity, unitPrice: event.unitPrice }
  return next
}

/** The pure fold: immutable, as Effect users write it. */
export const evolve = (state: OrderState, event: OrderEvent): OrderState => {
  switch (event._tag) {
    case "OrderCreated":
      return { ...state, status: "Open", customerId: Option.some(event.customerId) }
    case "ItemAdded":
      return {
        ...state,
        lines: addLine(state.lines, event),
        itemCount: state.itemCount + event.quantity,
        total: BigDecimal.sum(
          state.total,
          BigDecimal.multiply(event.unitPrice, BigDecimal.fromBigInt(BigInt(event.quantity)))
        )
      }
    case "OrderSubmitted":
      return { ...state, status: "Submitted", submittedAt: Option.some(event.submittedAt) }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Commands: decide which events a request produces, or refuse it
// ---------------------------------------------------------------------------------------------------------

export class OrderRejected extends Data.TaggedError("OrderRejected")<{
  readonly orderId: string
  readonly reason: "AlreadyCreated" | "NotOpen" | "Empty" | "InvalidItem"
  readonly message: string
}> {}

const reject = (state: OrderState, reason: OrderRejected["reason"], message: string) =>
  Effect.fail(new OrderRejected({ orderId: state.id, reason, message }))

export const create = (
  state: OrderState,
  customerId: string
): Effect.Effect<ReadonlyArray<OrderEvent>, OrderRejected> =>
  state.status !== "Empty"
    ? reject(state, "AlreadyCreated", `order ${state.id} already exists`)
    : customerId === ""
    ? reject(state, "InvalidItem", "a customer id is required")
    : Effect.succeed([OrderCreated.make({ customerId })])

export interface NewItem {
  readonly sku: string
  readonly quantity: number
  /** A decimal string such as "19.99". */
  readonly unitPrice: string
}

export const addItem = (state: OrderState, item: NewItem): Effect.Effect<ReadonlyArray<OrderEvent>, OrderRejected> => {
  if (state.status !== "Open") return reject(state, "NotOpen", `order ${state.id} is ${state.status}`)
  const price = BigDecimal.fromString(item.unitPrice)
  if (Option.isNone(price) || BigDecimal.isNegative(price.value)) {
    return reject(state, "InvalidItem", `bad price ${JSON.stringify(item.unitPrice)}`)
  }
  if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.sku === "") {
    return reject(state, "InvalidItem", `bad item ${JSON.stringify(item)}`)
  }
  return Effect.succeed([ItemAdded.make({ sku: item.sku, quantity: item.quantity, unitPrice: price.value })])
}

/** Add several items in one command (one commit). */
export const addItems = (
  state: OrderState,
  items: ReadonlyArray<NewItem>
): Effect.Effect<ReadonlyArray<OrderEvent>, OrderRejected> =>
  Effect.map(Effect.forEach(items, (item) => addItem(state, item)), (batches) => batches.flat())

export const submit = (state: OrderState): Effect.Effect<ReadonlyArray<OrderEvent>, OrderRejected> =>
  state.status !== "Open"
    ? reject(state, "NotOpen", `order ${state.id} is ${state.status}`)
    : state.itemCount === 0
    ? reject(state, "Empty", `order ${state.id} has no items`)
    : Effect.map(DateTime.now, (submittedAt) => [OrderSubmitted.make({ submittedAt })])

// ---------------------------------------------------------------------------------------------------------
// A deterministic catalog, for the demo, tests and the benchmark
// ---------------------------------------------------------------------------------------------------------

/** How many distinct SKUs the generated histories use: an order's state never holds more lines. */
export const catalogSize = 50

/**
 * The i-th generated item (i >= 0): SKU-(i mod 50), quantity 1 + (i mod 3), price "(i mod 50 + 1).99".
 * The benchmark's SQL seeding computes the same values with `generate_series`.
 */
export const catalogItem = (i: number, skus = catalogSize): NewItem => ({
  sku: `SKU-${i % skus}`,
  quantity: 1 + (i % 3),
  unitPrice: `${(i % skus) + 1}.99`
})

export const itemAdded = (i: number, skus = catalogSize): typeof ItemAdded.Type => {
  const item = catalogItem(i, skus)
  return ItemAdded.make({
    sku: item.sku,
    quantity: item.quantity,
    unitPrice: BigDecimal.fromStringUnsafe(item.unitPrice)
  })
}
