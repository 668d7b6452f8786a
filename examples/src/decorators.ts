/**
 * The store decorators, composed as Layer -> Layer over the Postgres store:
 *
 *   SqlSnapshotStore.layer.pipe(SnapshotStore.compressed({ thresholdBytes: 1024 }), SnapshotStore.resilient())
 *
 * - `compressed`: a state larger than the threshold is stored gzip'd in a `bytea` column and inflated on load.
 * - `resilient`: for the command path. It times out a store that hangs, retries `Unavailable` and opens a
 *   circuit; every failure still reaches the repository, which replays on a failed load and logs and counts
 *   a failed snapshot write (`effect_snapshots_snapshot_failures`). No command fails either way.
 *
 *   pnpm tsx examples/src/decorators.ts      (Postgres at PG_URL, else the embedded PGlite)
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { Order } from "./Order.js"
import * as OrderDomain from "./OrderDomain.js"
import { runMain } from "./runMain.js"

/** The production stack: Postgres, compressed above 1 KB, resilient on the command path. */
export const snapshotStore = SqlSnapshotStore.layer.pipe(
  SnapshotStore.compressed({ thresholdBytes: 1024, algorithm: "gzip" }),
  SnapshotStore.resilient({ timeout: "1 second" })
)

/** A snapshot store that is down: every call fails as `Unavailable`. */
export const brokenStore = Layer.succeed(SnapshotStore.SnapshotStore)(
  (() => {
    const down = new SnapshotStore.SnapshotStoreError({ reason: "Unavailable", message: "snapshot store is down" })
    return {
      save: () => Effect.fail(down),
      saveIfDue: () => Effect.fail(down),
      load: () => Effect.fail(down),
      list: () => Effect.fail(down),
      delete: () => Effect.fail(down),
      latestForType: () => Effect.fail(down),
      aggregates: () => Stream.fail(down),
      prune: () => Effect.fail(down)
    }
  })()
).pipe(
  SnapshotStore.resilient({
    timeout: "200 millis",
    retry: Schedule.recurs(1),
    circuitBreaker: { failureThreshold: 3, resetAfter: "1 minute" }
  })
)

/** An order with `items` distinct items: its state grows to several KB of JSON. */
const writeOrder = Effect.fnUntraced(function*(
  repo: EventSourcedRepository.EventSourcedRepository<OrderDomain.OrderState, OrderDomain.OrderEvent>,
  id: string,
  items: number
) {
  yield* repo.update(id, (s) => OrderDomain.create(s, "customer-1"))
  for (let i = 0; i < items; i += 50) {
    const batch = Array.from({ length: Math.min(50, items - i) }, (_, k) => OrderDomain.catalogItem(i + k, items))
    yield* repo.update(id, (s) => OrderDomain.addItems(s, batch))
  }
})

/** The repository's `effect_snapshots_snapshot_failures` counter (each snapshot-store failure it absorbed), summed over its attributes. */
const swallowedSoFar = Effect.map(Metric.snapshot, (metrics) => {
  let total = 0
  for (const metric of metrics) {
    if (metric.id !== "effect_snapshots_snapshot_failures") continue
    const state = metric.state as { readonly count?: unknown }
    if (typeof state.count === "number") total += state.count
    else if (typeof state.count === "bigint") total += Number(state.count)
  }
  return total
})

/** Order ids get the suffix `run`, so the example can run again on the same database. */
export const program = Effect.fn("decorators")(
  function*(run: string) {
    const bigOrder = `big-order-${run}`
    const orderWhileDown = `order-while-down-${run}`
    const strategy = SnapshotStrategy.everyNEvents(100)
    const sql = yield* SqlClient.SqlClient

    // 1. compressed + resilient over Postgres.
    const orders = yield* EventSourcedRepository.make(Order, { strategy }).pipe(Effect.provide(snapshotStore))
    yield* writeOrder(orders, bigOrder, 400)
    // Loaded by another instance (empty cache), so the load goes through the snapshot and inflates it.
    const elsewhere = yield* EventSourcedRepository.make(Order, { strategy }).pipe(Effect.provide(snapshotStore))
    const loaded = yield* elsewhere.load(bigOrder)
    // What is in the table: the newest snapshot row of the order.
    const [row] = yield* sql<{ encoding: string; stored_bytes: number }>`
    SELECT encoding, octet_length(state_bytes) AS stored_bytes
    FROM effect_snapshots WHERE aggregate_id = ${bigOrder} ORDER BY version DESC LIMIT 1`
    const jsonBytes = Buffer.byteLength(
      JSON.stringify(Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderState))(loaded.state))
    )
    yield* Effect.log(
      `${bigOrder}: snapshot stored as ${row?.encoding}, ${row?.stored_bytes} bytes for ${jsonBytes} bytes of JSON; ` +
        `loaded from v${Option.getOrNull(loaded.snapshotVersion)} + ${loaded.replayed} events`
    )

    // 2. The same repository code over a store that is down: commands and loads still work, by replay.
    const swallowedBefore = yield* swallowedSoFar
    const degraded = yield* EventSourcedRepository.make(Order, { strategy }).pipe(Effect.provide(brokenStore))
    yield* writeOrder(degraded, orderWhileDown, 250)
    const whileDown = yield* EventSourcedRepository.make(Order, { strategy }).pipe(
      Effect.flatMap((elsewhere) => elsewhere.load(orderWhileDown)),
      Effect.provide(brokenStore)
    )
    const swallowed = (yield* swallowedSoFar) - swallowedBefore
    yield* Effect.log(
      `${orderWhileDown}: ${whileDown.version} events, loaded by replaying ${whileDown.replayed}; ` +
        `${swallowed} snapshot failures swallowed (logged and counted), no command failed`
    )

    return {
      compressed: {
        encoding: row?.encoding ?? null,
        storedBytes: Number(row?.stored_bytes ?? 0),
        jsonBytes,
        version: loaded.version,
        snapshotVersion: Option.getOrNull(loaded.snapshotVersion),
        replayed: loaded.replayed,
        lines: loaded.state.lines.length
      },
      storeDown: {
        version: whileDown.version,
        snapshotVersion: Option.getOrNull(whileDown.snapshotVersion),
        replayed: whileDown.replayed,
        itemCount: whileDown.state.itemCount,
        swallowed
      }
    }
  },
  Effect.scoped
)

/** The event store and the SqlClient the snapshot store stack needs. */
export const layer = <E>(postgres: Layer.Layer<SqlClient.SqlClient, E>) =>
  SqlEventStore.layer.pipe(Layer.provideMerge(postgres))

runMain(import.meta.url, program(Date.now().toString(36)).pipe(Effect.provide(layer(Postgres.layer()))))
