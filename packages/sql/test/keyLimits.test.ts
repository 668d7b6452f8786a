import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

// Ids longer than the primary key allows are bad input on every backend (the same limits as the EventStore),
// not a server failure that `resilient` would retry and count against the store's availability.
const snapshot = (aggregateType: string, aggregateId: string) =>
  Snapshot.Snapshot.make({
    aggregateType,
    aggregateId,
    version: 1,
    schemaVersion: 1,
    createdAt: DateTime.makeUnsafe(0),
    metadata: {},
    state: { ok: true }
  })

// Random printable characters: Postgres cannot compress them below its index row limit.
const incompressible = (n: number) =>
  Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 2654435761) >>> 7) % 90)).join("")

const suite = (store: SnapshotStore.SnapshotStoreService) =>
  Effect.gen(function*() {
    const longId = yield* Effect.result(store.save(snapshot("Account", incompressible(10 * 1024))))
    assert.isTrue(Result.isFailure(longId))
    if (Result.isFailure(longId)) {
      assert.strictEqual(longId.failure.reason, "InvalidInput")
      assert.match(longId.failure.message, /aggregateId .* is longer than 2048 UTF-8 bytes/)
    }
    const longType = yield* Effect.result(store.load("T".repeat(257), "a"))
    assert.isTrue(Result.isFailure(longType) && longType.failure.reason === "InvalidInput")
    // At the limits: accepted.
    const atLimit = "ü".repeat(1024)
    yield* store.save(snapshot("T".repeat(256), atLimit))
    assert.isTrue(Option.isSome(yield* store.load("T".repeat(256), atLimit)))
  })

describe("aggregate key limits", () => {
  it.effect("memory", () =>
    Effect.flatMap(SnapshotStore.SnapshotStore, suite).pipe(Effect.provide(SnapshotStore.layerMemory)))

  it.effect.skipIf(!Postgres.hasServer)(
    "SQL (real Postgres)",
    () =>
      Effect.flatMap(SnapshotStore.SnapshotStore, suite).pipe(
        Effect.provide(SqlSnapshotStore.layer.pipe(Layer.provide(Postgres.layerTest("store_key_limits"))))
      ),
    60_000
  )
})
