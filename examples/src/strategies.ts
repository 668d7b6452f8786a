/**
 * Snapshot strategies are data: build one, print its JSON, and ask it about two commits.
 *
 *   pnpm exec tsx examples/src/strategies.ts
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const strategy = SnapshotStrategy.perAggregateType(
  {
    Order: SnapshotStrategy.any(
      SnapshotStrategy.everyNEvents(100),
      SnapshotStrategy.afterDuration("1 hour"),
      SnapshotStrategy.onEventTypes("OrderSubmitted", "OrderCancelled"),
      SnapshotStrategy.all(SnapshotStrategy.loadTimeAtLeast("50 millis"), SnapshotStrategy.custom("bigOrder"))
    )
  },
  SnapshotStrategy.everyNEvents(500)
)

const predicates: SnapshotStrategy.CustomPredicates = {
  bigOrder: (context) => context.currentVersion >= 1_000
}

const now = DateTime.makeUnsafe("2025-01-01T12:00:00Z")

const commit = (previousVersion: number, currentVersion: number, eventTypes: ReadonlyArray<string>) => ({
  aggregateType: "Order",
  aggregateId: "order-42",
  previousVersion,
  currentVersion,
  eventTypes,
  lastSnapshotVersion: Option.some(previousVersion - 10),
  lastSnapshotAt: Option.some(DateTime.subtract(now, { minutes: 5 })),
  now,
  replayedEvents: Option.some(10),
  replayDuration: Option.some(Duration.millis(3))
})

const program = Effect.gen(function*() {
  console.log(SnapshotStrategy.format(strategy))
  // Its JSON form: what a configuration or a database holds.
  console.log(
    JSON.stringify(Schema.encodeSync(Schema.toCodecJson(SnapshotStrategy.SnapshotStrategy))(strategy), null, 2)
  )

  // Compile once (checking the custom names), then decide on every commit.
  const decide = yield* Effect.fromResult(SnapshotStrategy.compile(strategy, predicates))
  console.log("98 -> 103, ItemAdded x5:", decide(commit(98, 103, Array(5).fill("ItemAdded"))))
  console.log("40 -> 41, OrderSubmitted:", decide(commit(40, 41, ["OrderSubmitted"])))
  console.log("40 -> 41, ItemAdded:", decide(commit(40, 41, ["ItemAdded"])))
})

Effect.runSync(program)
