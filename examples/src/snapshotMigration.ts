/**
 * Snapshot schema migration. Version 1 of the Order stored its total in cents (`totalCents: 123456`);
 * version 2 stores a decimal string (`total: "1234.56"`). Old snapshots are not thrown away: the
 * repository migrates them with `migrations[1]`, uses them, and re-saves them at schema version 2.
 *
 * And the mistake every snapshot library sees: the state's shape changed but nobody bumped
 * `schemaVersion`. The fingerprint of the state Schema recorded in each snapshot catches it: the stale
 * snapshot is skipped, the order is rebuilt by replay, and a fresh snapshot replaces it. Never a crash,
 * never a wrongly shaped state.
 *
 *   pnpm tsx examples/src/snapshotMigration.ts
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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

/** The Order today: schema version 2, with the migration of version-1 snapshots. */
export const OrderV2 = Aggregate.make({
  ...definition,
  state: OrderDomain.OrderState,
  schemaVersion: 2,
  migrations: {
    1: (v1) => {
      const { totalCents, ...rest } = v1 as { readonly totalCents: number }
      const cents = BigInt(totalCents)
      return { ...rest, total: `${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}` }
    }
  }
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
    }
  }
}).pipe(Effect.scoped)

export const layer = Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory)

runMain(import.meta.url, program.pipe(Effect.provide(layer)))
