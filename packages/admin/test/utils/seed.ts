/**
 * The data every CLI test starts from (see the expectations in `expected`):
 * - Counter c-1: 5 events, snapshots at 2 and 4 (both right).
 * - Counter c-2: 3 events, a snapshot at 3 whose count is wrong (drift).
 * - Counter c-3: 2 events, a snapshot at 2 recorded with another state fingerprint (stale).
 * - Gauge g-orphan: a snapshot and no events (an orphan).
 * - Other o-1 (not registered): snapshots 1..4, versions 1..3 created 60 days ago; the newest has 300 items.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository } from "@effect-snapshots/loader"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as SqlClient from "effect/sql/SqlClient"
import { Counter, Gauge } from "../fixtures/aggregates.js"

const items = (n: number) => Array.from({ length: n }, (_, i) => `item-${i + 1}`)

const state = (id: string, n: number) => ({ id, items: items(n), count: n })

export const bigState = state("o-1", 300)

const snapshotOf = (
  aggregate: typeof Counter,
  id: string,
  version: number,
  value: ReturnType<typeof state>,
  options: {
    readonly fingerprint?: string
    readonly createdAt: DateTime.Utc
    /** The global position of the event at `version`. */
    readonly position: number
  }
) =>
  new Snapshot.Snapshot({
    aggregateType: aggregate.type,
    aggregateId: id,
    version,
    schemaVersion: 1,
    createdAt: options.createdAt,
    metadata: {
      ...Aggregate.snapshotMetadata(aggregate, options.position),
      fingerprint: options.fingerprint ?? aggregate.fingerprint
    },
    state: Result.getOrThrow(Aggregate.encodeState(aggregate, value))
  })

const added = (n: number) => items(n).map((item) => ({ _tag: "Added" as const, item }))

export const seed: Effect.Effect<void, unknown, SqlClient.SqlClient> = Effect.gen(function*() {
  const store = yield* SnapshotStore.SnapshotStore
  const now = yield* DateTime.now
  const old = DateTime.subtract(now, { days: 60 })
  const counters = yield* EventSourcedRepository.make(Counter, { strategy: SnapshotStrategy.never })
  const c1 = (yield* counters.save("c-1", 0, added(5))).positions
  const c2 = (yield* counters.save("c-2", 0, added(3))).positions
  const c3 = (yield* counters.save("c-3", 0, added(2))).positions
  yield* store.save(snapshotOf(Counter, "c-1", 2, state("c-1", 2), { createdAt: now, position: c1[1]! }))
  yield* store.save(snapshotOf(Counter, "c-1", 4, state("c-1", 4), { createdAt: now, position: c1[3]! }))
  yield* store.save(
    snapshotOf(Counter, "c-2", 3, { ...state("c-2", 3), count: 99 }, { createdAt: now, position: c2[2]! })
  )
  yield* store.save(
    snapshotOf(Counter, "c-3", 2, state("c-3", 2), {
      createdAt: now,
      position: c3[1]!,
      fingerprint: "an-older-state-schema"
    })
  )
  yield* store.save(snapshotOf(Gauge, "g-orphan", 1, state("g-orphan", 1), { createdAt: now, position: 1 }))
  for (const version of [1, 2, 3]) {
    yield* store.save(
      new Snapshot.Snapshot({
        aggregateType: "Other",
        aggregateId: "o-1",
        version,
        schemaVersion: 1,
        createdAt: old,
        metadata: {},
        state: state("o-1", version)
      })
    )
  }
  yield* store.save(
    new Snapshot.Snapshot({
      aggregateType: "Other",
      aggregateId: "o-1",
      version: 4,
      schemaVersion: 1,
      createdAt: now,
      metadata: { note: "newest" },
      state: bigState
    })
  )
}).pipe(
  Effect.scoped,
  // The seeded snapshots carry their own (old) times: the application clock keeps them.
  Effect.provide(Layer.merge(SqlSnapshotStore.layerWith({ clock: "application" }), SqlEventStore.layer))
)
