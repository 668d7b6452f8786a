/**
 * Snapshot schema migration. Version 1 of the Order stored its total in cents (`totalCents: 123456`);
 * version 2 stores a decimal string (`total: "1234.56"`). Old snapshots are not thrown away: the
 * repository migrates them with a typed migration (the version-1 state Schema decodes the old JSON, a typed
 * function gives the version-2 state), checks the result against a full replay (the first loads through a
 * migration always are), uses it, and re-saves it at schema version 2.
 *
 * A wrong migration costs a replay, never a wrong state where it is checked: one that reads the cents as the
 * total (100 times too much) is caught by the check, its snapshot is discarded and replaced by the replay's
 * state, and the fault is logged once and counted in `SnapshotMetrics.migrationMismatches`.
 *
 * And the mistake every snapshot library sees: the state's shape changed but nobody bumped
 * `schemaVersion`. The fingerprint of the state Schema recorded in each snapshot catches it: the stale
 * snapshot is skipped, the order is rebuilt by replay, and a fresh snapshot replaces it. Never a crash,
 * never a wrongly shaped state.
 *
 *   pnpm tsx examples/src/snapshotMigration.ts
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore, Migration, SnapshotMetrics } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as OrderDomain from "./OrderDomain.js"
import { runMain } from "./runMain.js"

/** The total as integer cents, under the key `totalCents`: how version 1 encoded it. */
const TotalInCents = Schema.Int.pipe(
  Schema.decodeTo(
    Schema.BigDecimal,
    SchemaTransformation.transform({
      decode: (cents) => BigDecimal.make(BigInt(cents), 2),
      encode: (total) => Number(BigDecimal.scale(total, 2).value)
    })
  )
)

const { total: _total, ...unchanged } = OrderDomain.OrderState.fields

/** The state Schema of version 1: same domain type, different encoding. */
export const OrderStateV1 = Schema.Struct({ ...unchanged, total: TotalInCents }).pipe(
  Schema.encodeKeys({ total: "totalCents" })
)

const definition = {
  type: "Order",
  initial: OrderDomain.initial,
  events: OrderDomain.OrderEvent,
  evolve: OrderDomain.evolve
} as const

/** The Order as deployed last year. */
export const OrderV1 = Aggregate.make({ ...definition, state: OrderStateV1, schemaVersion: 1 })

/**
 * The Order today: schema version 2 (where its migrations end), with the migration of version-1 snapshots. The
 * domain type did not change, only its encoding: the version-1 Schema decodes the old JSON, so the typed step is
 * the identity, and the version-2 Schema encodes the result.
 */
export const OrderV2 = Aggregate.make({
  ...definition,
  state: OrderDomain.OrderState,
  migrations: Migration.from(1, OrderStateV1).pipe(Migration.to(OrderDomain.OrderState, (v1) => v1))
})

/** A wrong migration: the cents taken for the total (100 times too much). */
export const OrderV2Wrong = Aggregate.make({
  ...definition,
  state: OrderDomain.OrderState,
  migrations: Migration.from(1, OrderStateV1).pipe(
    Migration.to(
      OrderDomain.OrderState,
      (v1) => ({ ...v1, total: BigDecimal.make(BigDecimal.scale(v1.total, 2).value, 0) })
    )
  )
})

/** The mistake: the version-2 shape deployed with `schemaVersion` still 1, and no migration. */
export const OrderForgotToBump = Aggregate.make({ ...definition, state: OrderDomain.OrderState, schemaVersion: 1 })

const writeHistory = Effect.fnUntraced(function*(id: string, items: number) {
  const v1 = yield* EventSourcedRepository.make(OrderV1, { strategy: SnapshotStrategy.everyNEvents(100) })
  yield* v1.update(id, (s) => OrderDomain.create(s, "customer-1"))
  for (let i = 0; i < items; i += 25) {
    const batch = Array.from({ length: Math.min(25, items - i) }, (_, k) => OrderDomain.catalogItem(i + k))
    yield* v1.update(id, (s) => OrderDomain.addItems(s, batch))
  }
})

const history = (id: string) =>
  Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.list("Order", id)).pipe(
    Effect.map((infos) => infos.map((i) => ({ version: i.version, schemaVersion: i.schemaVersion })))
  )

export const program = Effect.gen(function*() {
  // Last year: 250 items written by version 1; snapshots at schema version 1.
  yield* writeHistory("order-1", 250)
  const before = yield* history("order-1")

  // Today: version 2 loads from the migrated snapshot, and re-saves it at schema version 2.
  const v2 = yield* EventSourcedRepository.make(OrderV2, { strategy: SnapshotStrategy.everyNEvents(100) })
  const migrated = yield* v2.load("order-1")
  const after = yield* history("order-1")
  const again = yield* v2.load("order-1")
  const check = yield* v2.verify("order-1")
  yield* Effect.log(
    `order-1: snapshot v${Option.getOrNull(migrated.snapshotVersion)} migrated 1 -> 2, ${migrated.replayed} events ` +
      `replayed, total ${BigDecimal.format(migrated.state.total)}; same as a full replay: ${check.consistent}`
  )

  // The mistake: a changed shape under the same schemaVersion is detected by the fingerprint.
  yield* writeHistory("order-2", 250)
  const careless = yield* EventSourcedRepository.make(OrderForgotToBump, {
    strategy: SnapshotStrategy.everyNEvents(100)
  })
  const rebuilt = yield* careless.load("order-2")
  // The next process to load it (this instance would answer from its cache) uses the fresh snapshot.
  const nextProcess = yield* EventSourcedRepository.make(OrderForgotToBump, {
    strategy: SnapshotStrategy.everyNEvents(100)
  })
  const repaired = yield* nextProcess.load("order-2")
  yield* Effect.log(
    `order-2: the stale snapshot was skipped; rebuilt by replaying ${rebuilt.replayed} events, ` +
      `then loaded from the fresh snapshot at v${Option.getOrNull(repaired.snapshotVersion)}`
  )

  // A wrong migration: checked on its first loads, caught, replayed; the snapshot is replaced by the replay's.
  yield* writeHistory("order-3", 250)
  const mismatches = Metric.value(SnapshotMetrics.forAggregateType("Order").migrationMismatches)
  const countedBefore = (yield* mismatches).count
  const wrong = yield* EventSourcedRepository.make(OrderV2Wrong, { strategy: SnapshotStrategy.everyNEvents(100) })
  const caught = yield* wrong.load("order-3")
  const counted = { count: (yield* mismatches).count - countedBefore }
  const afterWrong = yield* history("order-3")
  yield* Effect.log(
    `order-3: the wrong migration was caught (${counted.count} counted); loaded by replaying ${caught.replayed} ` +
      `events, total ${BigDecimal.format(caught.state.total)}`
  )

  return {
    migration: {
      before,
      after,
      snapshotVersion: Option.getOrNull(migrated.snapshotVersion),
      replayed: migrated.replayed,
      version: migrated.version,
      total: BigDecimal.format(migrated.state.total),
      itemCount: migrated.state.itemCount,
      nextLoadReplayed: again.replayed,
      consistent: check.consistent
    },
    forgotToBump: {
      firstLoad: { snapshotVersion: Option.getOrNull(rebuilt.snapshotVersion), replayed: rebuilt.replayed },
      secondLoad: { snapshotVersion: Option.getOrNull(repaired.snapshotVersion), replayed: repaired.replayed },
      total: BigDecimal.format(repaired.state.total)
    },
    wrongMigration: {
      source: caught.source,
      replayed: caught.replayed,
      total: BigDecimal.format(caught.state.total),
      mismatchesCounted: counted.count,
      after: afterWrong
    }
  }
}).pipe(Effect.scoped)

export const layer = Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory)

runMain(import.meta.url, program.pipe(Effect.provide(layer)))
