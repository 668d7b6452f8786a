/**
 * The `seedScenario` section: the seed design's test_snapshot_performance, as it is written (an order saved in
 * one commit, a snapshot saved by hand through the store, more items after it; load with vs without).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import type { EventSourcedRepository } from "@effect-snapshots/loader"
import { Aggregate } from "@effect-snapshots/loader"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import * as BigDecimal from "effect/BigDecimal"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { Order } from "../../Order.js"
import * as OrderDomain from "../../OrderDomain.js"
import type { Context } from "../context.js"
import { compare, round } from "../measure.js"
import * as Table from "../table.js"

// ------------------------------------------------------------------------------------------------------
// seedScenario: the seed design's test_snapshot_performance, as it is written
// ------------------------------------------------------------------------------------------------------
export const runSeedScenario = async (ctx: Context) => {
  const { backend, log, measureOptions, memory, options, repoOf, section, sql, wants } = ctx
  const seedScenario: Array<Record<string, unknown>> = []
  if (wants("seedScenario")) {
    const items = options.seedItems
    const more = options.seedMore
    section(
      `seedScenario: ${Table.int(items)} items, a hand-saved snapshot, ${more} more items; load with vs without`
    )
    const item = (i: number) =>
      OrderDomain.ItemAdded.make({ sku: `item_${i}`, quantity: 1, unitPrice: BigDecimal.fromStringUnsafe("10.00") })
    const history = [
      OrderDomain.OrderCreated.make({ customerId: "cust_456" }),
      ...Array.from({ length: items }, (_, i) => item(i))
    ]
    const backends = [
      { label: "memory", runtime: memory as ManagedRuntime.ManagedRuntime<unknown, unknown> },
      { label: backend, runtime: sql as ManagedRuntime.ManagedRuntime<unknown, unknown> }
    ]
    for (const b of backends) {
      const repo = await repoOf(b.runtime, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      const without = "order_123-without"
      const withId = "order_123"
      // `repo.save(order)` of the seed: the order's 1,001 events in one commit (two orders, one per side).
      await b.runtime.runPromise(repo.save(without, 0, history))
      await b.runtime.runPromise(repo.save(withId, 0, history))
      // `snapshot_store.save(...)` by hand: the state as the application has it, through the store's own API.
      const order = await b.runtime.runPromise(repo.load(withId))
      const state = Result.getOrThrowWith(Aggregate.encodeState(Order, order.state), (e) => new Error(e))
      await b.runtime.runPromise(
        Effect.flatMap(SnapshotStore.SnapshotStore, (store) =>
          Effect.flatMap(DateTime.now, (createdAt) =>
            store.save(
              Snapshot.Snapshot.make({
                aggregateType: Order.type,
                aggregateId: withId,
                version: order.version,
                schemaVersion: Order.schemaVersion,
                state,
                createdAt,
                metadata: {}
              })
            )))
      )
      await b.runtime.runPromise(
        repo.save(withId, order.version, Array.from({ length: more }, (_, i) => item(items + i)))
      )
      const stats = await compare(
        {
          without: () => b.runtime.runPromise(repo.load(without)),
          with: () => b.runtime.runPromise(repo.load(withId))
        },
        measureOptions,
        (name, result) => {
          const loaded = result as EventSourcedRepository.Loaded<OrderDomain.OrderState>
          const want = name === "without"
            ? `${items + 1}/${items}/none`
            : `${items + more + 1}/${items + more}/${items + 1}`
          const got = `${loaded.version}/${loaded.state.lines.length}/${
            Option.match(loaded.snapshotVersion, { onNone: () => "none", onSome: String })
          }`
          if (got !== want) throw new Error(`seedScenario ${name}: loaded ${got}, expected ${want}`)
        }
      )
      const row = {
        backend: b.label,
        items,
        more,
        withoutMs: round(stats.without.medianMs),
        withMs: round(stats.with.medianMs),
        ratio: round(stats.with.medianMs / stats.without.medianMs),
        samples: stats.with.samples
      }
      seedScenario.push(row)
      log(
        `  ${b.label}: without a snapshot ${Table.ms(row.withoutMs)} ms (${Table.int(items + 1)} events), with ${
          Table.ms(row.withMs)
        } ms (snapshot + ${more}): ratio ${Table.times(row.ratio)} (n=${row.samples})`
      )
    }
  }
  return seedScenario
}
