/**
 * The examples of the loader README's "Transactions and several instances" section, as they stand there.
 * On PGlite (SqlEventStore + SqlSnapshotStore + SqlUnitOfWork over one SqlClient).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { SnapshotStore, UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { Ledger } from "../../loader/test/utils/Ledger.js"
import { deposits, freshId } from "../../loader/test/utils/repositorySuite.js"

const Live = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer, SqlUnitOfWork.layer).pipe(
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error")),
  Layer.provideMerge(Postgres.layerEmbedded())
)

describe("loader README: transactions and several instances", () => {
  // Live services: the embedded database's own fibers use time, which a TestClock would hold (and warn about).
  layer(Live, { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("a save in a unit of work that fails leaves nothing; one that commits keeps events and snapshot", () =>
      Effect.gen(function*() {
        const id = freshId("readme")
        // --- README example ---
        const ledgers = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(2) })

        // fails after the save: the events, the snapshot written in the unit and the cache update are all undone
        const failed = yield* UnitOfWork.transaction(
          Effect.andThen(ledgers.save(id, 0, deposits(2)), Effect.fail("payment declined" as const))
        ).pipe(Effect.flip)

        // commits: the events and the snapshot together; the cache learns the state after the commit
        const saved = yield* UnitOfWork.transaction(ledgers.save(id, 0, deposits(2)))
        // --- end of example ---
        assert.strictEqual(failed, "payment declined")
        assert.strictEqual(saved.snapshot, "written")
        const snapshots = yield* SnapshotStore.SnapshotStore
        assert.deepStrictEqual((yield* snapshots.list("Ledger", id)).map((s) => s.version), [2])
        const loaded = yield* ledgers.load(id)
        assert.strictEqual(loaded.version, 2)
        assert.strictEqual(loaded.source, "cache")
      }))

    it.effect("two instances: each one's cached state is used only when the stream proves it current", () =>
      Effect.gen(function*() {
        const id = freshId("readme")
        // --- README example ---
        const a = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.eventsSinceSnapshot(100) })
        const b = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.eventsSinceSnapshot(100) })
        yield* a.save(id, 0, deposits(3))
        yield* b.load(id) // b: { version: 3, source: "replay" }
        yield* a.save(id, 3, deposits(2, 4))
        const seen = yield* b.load(id) // one query from b's version 3: { version: 5, replayed: 2, source: "cache" }
        // --- end of example ---
        assert.strictEqual(seen.version, 5)
        assert.strictEqual(seen.replayed, 2)
        assert.strictEqual(seen.source, "cache")
        assert.deepStrictEqual(seen.snapshotVersion, Option.none())
      }))
  })
})
