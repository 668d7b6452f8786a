/**
 * The decisions' clock (the snapshot store's `now`) as `save` reads it: only when the strategy looks at the
 * time, or to stamp a snapshot request.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { Ledger } from "./utils/Ledger.js"
import { deposits } from "./utils/repositorySuite.js"

const ClockLedger = Aggregate.make({ ...Ledger, type: "ClockLedger" })

/** A memory snapshot store with a clock of its own that counts its reads. */
const countingStore = Effect.map(SnapshotStore.makeMemory, (inner) => {
  const reads = { count: 0 }
  const store: SnapshotStore.SnapshotStoreService = {
    ...inner,
    now: Effect.sync(() => {
      reads.count++
      return DateTime.makeUnsafe("2026-01-01T00:00:00Z")
    })
  }
  return { store, reads }
})

const saveOneByOne = (
  strategy: SnapshotStrategy.SnapshotStrategy,
  id: string,
  count: number
) =>
  Effect.gen(function*() {
    const { reads, store } = yield* countingStore
    const outcomes: Array<string> = []
    const readsAfter: Array<number> = []
    yield* Effect.scoped(Effect.gen(function*() {
      const repo = yield* EventSourcedRepository.make(ClockLedger, { strategy })
      for (let version = 0; version < count; version++) {
        const saved = yield* repo.save(id, version, deposits(1, version + 1))
        outcomes.push(saved.snapshot)
        readsAfter.push(reads.count)
      }
    })).pipe(Effect.provideService(SnapshotStore.SnapshotStore, store))
    return { outcomes, readsAfter }
  }).pipe(Effect.provide(EventStore.layerMemory))

describe("the decisions' clock", () => {
  it.effect("a strategy that does not look at the time reads it only for the snapshot it asks for", () =>
    Effect.gen(function*() {
      const { outcomes, readsAfter } = yield* saveOneByOne(SnapshotStrategy.everyNEvents(3), "a", 4)
      assert.deepStrictEqual(outcomes, ["none", "none", "written", "none"])
      // Read to stamp the request at version 3 (and by the write, which stamps the snapshot with it).
      assert.strictEqual(readsAfter[1], 0)
      assert.isAbove(readsAfter[2]!, 0)
      assert.strictEqual(readsAfter[3], readsAfter[2])
    }))

  it.effect("afterDuration decides on the store's clock at every save", () =>
    Effect.gen(function*() {
      const { outcomes, readsAfter } = yield* saveOneByOne(
        SnapshotStrategy.any(SnapshotStrategy.afterDuration("1 hour"), SnapshotStrategy.never),
        "b",
        3
      )
      // The first save has no snapshot to measure from; the next ones are within the hour of the store's clock.
      assert.deepStrictEqual(outcomes, ["written", "none", "none"])
      assert.isAbove(readsAfter[1]!, readsAfter[0]!)
      assert.isAbove(readsAfter[2]!, readsAfter[1]!)
    }))
})
