/**
 * Composite and per-aggregate-type strategies, read from configuration rather than written in code:
 *
 *   SNAPSHOT_STRATEGY='{"_tag":"EveryNEvents","n":100}'                         the default
 *   SNAPSHOT_STRATEGY_Order='{"_tag":"Any","strategies":[
 *     {"_tag":"EveryNEvents","n":50},{"_tag":"OnEventTypes","types":["OrderSubmitted"]}]}'
 *
 * Here the configuration comes from `ConfigProvider.fromEnv` (environment-like keys, given as a record) and
 * from `ConfigProvider.fromUnknown` (a JSON document); in an application it is the environment.
 *
 *   pnpm tsx examples/src/strategiesFromConfig.ts
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Order } from "./Order.js"
import * as OrderDomain from "./OrderDomain.js"
import { runMain } from "./runMain.js"

/** The configuration key; `${key}_${aggregateType}` overrides it for one aggregate type. */
export const key = "SNAPSHOT_STRATEGY"

/** Every 50 events or on submit for orders; every 100 events for anything else. */
export const fromEnv = ConfigProvider.fromEnv({
  env: {
    [key]: JSON.stringify({ _tag: "EveryNEvents", n: 100 }),
    [`${key}_Order`]: JSON.stringify({
      _tag: "Any",
      strategies: [{ _tag: "EveryNEvents", n: 50 }, { _tag: "OnEventTypes", types: ["OrderSubmitted"] }]
    })
  }
})

/** A strategy as JSON text: its Schema's JSON encoding. */
const toJson = (strategy: SnapshotStrategy.SnapshotStrategy) =>
  JSON.stringify(Schema.encodeSync(Schema.toCodecJson(SnapshotStrategy.SnapshotStrategy))(strategy))

/** The same configuration as one JSON document (each value is itself a strategy written as JSON). */
export const fromJson = ConfigProvider.fromUnknown({
  [key]: toJson(SnapshotStrategy.everyNEvents(100)),
  [`${key}_Order`]: toJson(
    SnapshotStrategy.any(SnapshotStrategy.everyNEvents(50), SnapshotStrategy.onEventTypes("OrderSubmitted"))
  )
})

/** Read the per-aggregate-type strategy from whatever ConfigProvider is in place. */
export const strategyConfig = SnapshotStrategy.configPerAggregateType(key, ["Order", "Customer"])

const context = (
  aggregateType: string,
  previousVersion: number,
  currentVersion: number,
  eventTypes: ReadonlyArray<string>
): SnapshotStrategy.DecisionContext => ({
  aggregateType,
  aggregateId: "x",
  previousVersion,
  currentVersion,
  eventTypes,
  lastSnapshotVersion: Option.none(),
  lastSnapshotAt: Option.none(),
  now: DateTime.makeUnsafe(0),
  replayedEvents: Option.none(),
  replayDuration: Option.none()
})

export const program = Effect.fn("strategiesFromConfig")(
  function*(provider: ConfigProvider.ConfigProvider, orderId: string = "order-1") {
    const strategy = yield* Effect.provideService(strategyConfig, ConfigProvider.ConfigProvider, provider)
    yield* Effect.log(`strategy: ${SnapshotStrategy.format(strategy)}`)

    // The decisions are pure: same context, same answer, with the reasons.
    const decide = (c: SnapshotStrategy.DecisionContext) => Result.getOrThrow(SnapshotStrategy.decide(strategy, c))
    const decisions = {
      orderAt50: decide(context("Order", 49, 50, ["ItemAdded"])),
      orderSubmitted: decide(context("Order", 10, 11, ["OrderSubmitted"])),
      customerAt50: decide(context("Customer", 49, 50, ["Renamed"])),
      customerAt100: decide(context("Customer", 99, 100, ["Renamed"]))
    }

    // The same strategy drives a repository: an order with 120 items, then submitted.
    const orders = yield* EventSourcedRepository.make(Order, { strategy })
    yield* orders.update(orderId, (s) => OrderDomain.create(s, "customer-1"))
    for (let i = 0; i < 12; i++) {
      const items = Array.from({ length: 10 }, (_, k) => OrderDomain.catalogItem(i * 10 + k))
      yield* orders.update(orderId, (s) => OrderDomain.addItems(s, items))
    }
    yield* orders.update(orderId, OrderDomain.submit)
    const snapshots = yield* Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.list(Order.type, orderId))

    return {
      strategy: SnapshotStrategy.format(strategy),
      decisions,
      snapshotVersions: snapshots.map((s) => s.version)
    }
  },
  Effect.scoped
)

/** A bad configuration is a typed ConfigError saying which key and why, never a defect. */
export const badConfig = Effect.provideService(
  Effect.result(strategyConfig),
  ConfigProvider.ConfigProvider,
  ConfigProvider.fromEnv({ env: { [key]: JSON.stringify({ _tag: "EveryNEvents", n: 0 }) } })
)

export const layer = Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory)

runMain(
  import.meta.url,
  Effect.all({ fromEnv: program(fromEnv, "order-1"), fromJson: program(fromJson, "order-2") }).pipe(
    Effect.provide(layer)
  )
)
