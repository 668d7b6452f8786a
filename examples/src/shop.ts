/**
 * A new user's shop: two aggregate types (Cart, Customer), correlation and causation ids stored with the events,
 * a repository service each (`EventSourcedRepository.Tag`), one registry of the aggregates (strategies per type
 * from Config), and the operator's routine over that registry: verify, prune, rebuild.
 *
 *   pnpm exec tsx examples/src/shop.ts      (Postgres at PG_URL, else the embedded PGlite)
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, Aggregates, EventSourcedRepository, EventStore, Projection } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { runMain } from "./runMain.js"

// ---------------------------------------------------------------------------------------------------------
// the domain
// ---------------------------------------------------------------------------------------------------------

const ItemAdded = Schema.TaggedStruct("ItemAdded", { sku: Schema.String, quantity: Schema.Int })
const CheckedOut = Schema.TaggedStruct("CheckedOut", {})

const CartState = Schema.Struct({
  items: Schema.Record(Schema.String, Schema.Int),
  checkedOut: Schema.Boolean
})

export const Cart = Aggregate.make({
  type: "Cart",
  state: CartState,
  events: Schema.Union([ItemAdded, CheckedOut]),
  initial: (): typeof CartState.Type => ({ items: {}, checkedOut: false }),
  evolve: (cart, event) =>
    event._tag === "ItemAdded"
      ? { ...cart, items: { ...cart.items, [event.sku]: (cart.items[event.sku] ?? 0) + event.quantity } }
      : { ...cart, checkedOut: true }
})

const Registered = Schema.TaggedStruct("Registered", { name: Schema.String, email: Schema.String })
const EmailChanged = Schema.TaggedStruct("EmailChanged", { email: Schema.String })

export const Customer = Aggregate.make({
  type: "Customer",
  state: Schema.Struct({ name: Schema.String, email: Schema.String, changes: Schema.Int }),
  events: Schema.Union([Registered, EmailChanged]),
  initial: () => ({ name: "", email: "", changes: 0 }),
  evolve: (customer, event) =>
    event._tag === "Registered"
      ? { ...customer, name: event.name, email: event.email }
      : { ...customer, email: event.email, changes: customer.changes + 1 }
})

/** What every command of the shop stores with its events. */
export const ShopMetadata = Schema.Struct({
  correlationId: Schema.String,
  causationId: Schema.optional(Schema.String),
  userId: Schema.String
})

// ---------------------------------------------------------------------------------------------------------
// the repositories as services, and the registry
// ---------------------------------------------------------------------------------------------------------

export class Carts extends EventSourcedRepository.Tag<Carts>()("shop/Carts", Cart) {}
export class Customers extends EventSourcedRepository.Tag<Customers>()("shop/Customers", Customer) {}

export const registry = Aggregates.make(Cart, Customer)

/** SNAPSHOT_STRATEGY / SNAPSHOT_STRATEGY_Cart / SNAPSHOT_STRATEGY_Customer as JSON, else these defaults. */
const options = Effect.map(
  Aggregates.strategy(registry, {
    fallback: SnapshotStrategy.everyNEvents(100),
    defaults: { Cart: SnapshotStrategy.everyNEvents(10) }
  }),
  (strategy): EventSourcedRepository.Options => ({ strategy, metadataSchema: ShopMetadata })
)

export const Repositories = Layer.mergeAll(Carts.layer(options), Customers.layer(options))

/** The stores on a database (PG_URL, else the embedded PGlite), and the repositories over them. */
export const layerOn = <E>(database: Layer.Layer<SqlClient.SqlClient, E>) =>
  Repositories.pipe(
    Layer.provideMerge(Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer)),
    Layer.provideMerge(database)
  )

export const layer = layerOn(Postgres.layer())

// ---------------------------------------------------------------------------------------------------------
// the application
// ---------------------------------------------------------------------------------------------------------

/** A customer registers, fills a cart over 24 requests and checks out; every event carries its request's ids. */
export const shopping = Effect.fn("shopping")(
  function*(suffix: string) {
    const carts = yield* Carts
    const customers = yield* Customers
    const customerId = `customer-${suffix}`
    const cartId = `cart-${suffix}`
    yield* customers.update(
      customerId,
      () => Effect.succeed([Registered.make({ name: "Ada", email: "ada@example.com" })]),
      { metadata: { correlationId: "req-0", userId: customerId } }
    )
    for (let request = 1; request <= 24; request++) {
      yield* carts.update(
        cartId,
        () => Effect.succeed([ItemAdded.make({ sku: `sku-${request % 5}`, quantity: 1 })]),
        { metadata: { correlationId: `req-${request}`, causationId: `req-${request - 1}`, userId: customerId } }
      )
    }
    yield* carts.update(cartId, () => Effect.succeed([CheckedOut.make({})]), {
      metadata: { correlationId: "req-25", causationId: "req-24", userId: customerId }
    })
    // Metadata that does not match the shop's Schema (no userId) is refused, and nothing is written.
    const refused = yield* Effect.result(
      carts.save(cartId, 25, [ItemAdded.make({ sku: "sku-x", quantity: 1 })], { metadata: { correlationId: "req-26" } })
    )
    const cart = yield* carts.load(cartId)
    const events = yield* EventStore.EventStore
    const stored = yield* Stream.runCollect(events.read("Cart", cartId, { fromVersion: 24 }))
    const envelopes = yield* Stream.runCollect(Projection.stream(Cart, cartId, { fromVersion: 25 }))
    return {
      cartVersion: cart.version,
      items: cart.state.items,
      checkedOut: cart.state.checkedOut,
      metadataOfLastEvents: stored.map((event) => event.metadata),
      projectionMetadata: envelopes.map((envelope) => envelope.metadata),
      badMetadata: Result.isFailure(refused) ? refused.failure._tag : "accepted"
    }
  }
)

// ---------------------------------------------------------------------------------------------------------
// the operator: verify, prune and rebuild over the registry
// ---------------------------------------------------------------------------------------------------------

export const operator = Effect.gen(function*() {
  const snapshots = yield* SnapshotStore.SnapshotStore
  const report: Array<{
    readonly aggregateType: string
    readonly verified: { readonly checked: number; readonly consistent: number }
    readonly pruned: number
    readonly rebuilt: { readonly written: number; readonly skipped: number; readonly failed: number }
  }> = []
  for (const aggregate of (yield* Aggregates.check(registry)).aggregates) {
    const summary = yield* Effect.scoped(Effect.gen(function*() {
      const repository = yield* EventSourcedRepository.make(aggregate, {
        strategy: SnapshotStrategy.never,
        cacheMaxBytes: 0
      })
      const verified = yield* repository.verifyAll({ concurrency: 4 })
      const pruned = yield* snapshots.prune({ keepLast: 1, aggregateType: aggregate.type })
      const rebuilt = yield* repository.rebuild({ onlyStale: true, concurrency: 4, perSecond: 200 })
      return {
        aggregateType: aggregate.type,
        verified: { checked: verified.checked, consistent: verified.consistent },
        pruned: pruned.deleted,
        rebuilt: { written: rebuilt.written, skipped: rebuilt.skipped, failed: rebuilt.failed }
      }
    }))
    report.push(summary)
  }
  return report
})

export const program = Effect.fn("shop")(function*(suffix: string = Date.now().toString(36)) {
  const shopped = yield* shopping(suffix)
  const operated = yield* operator
  return { shopped, operated }
})

runMain(import.meta.url, program().pipe(Effect.provide(layer)))
