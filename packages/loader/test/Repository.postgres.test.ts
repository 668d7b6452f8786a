/**
 * The repository suite on a real PostgreSQL server (PG_URL): SqlEventStore + SqlSnapshotStore, concurrent
 * updates over real connections, and the number of round trips of load and save. Skipped without PG_URL.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, SqlEventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Ledger } from "./utils/Ledger.js"
import { countStatements, deposits, freshId, repositorySuite } from "./utils/repositorySuite.js"

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layerTest("loader_repository_pg", { maxConnections: 20 }))
)

describe.skipIf(!Postgres.hasServer)("EventSourcedRepository on PostgreSQL", () => {
  layer(TestLayer, { timeout: 120_000 })((it) => {
    repositorySuite(it, { propertyRuns: 100, multiConnection: true })

    it.effect("round trips: hot load = 1 (the tail from the cached state); cold load = 2 (probe + tail or full read); save = 1, + 1 when it snapshots a known state", () =>
      Effect.gen(function*() {
        const id = freshId()
        const events = deposits(30)
        yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(20) })
          const cold = yield* EventSourcedRepository.make(Ledger, {
            strategy: SnapshotStrategy.never,
            cacheMaxBytes: 0
          })
          const [first, firstStatements] = yield* countStatements(repo.save(id, 0, events.slice(0, 10)))
          assert.strictEqual(first.snapshot, "none")
          assert.strictEqual(firstStatements, 1)
          const [hot, hotStatements] = yield* countStatements(repo.load(id))
          assert.strictEqual(hot.source, "cache")
          assert.strictEqual(hot.version, 10)
          assert.strictEqual(hotStatements, 1) // the tail read from the cached version (its first row is the proof)
          const [noSnapshot, loadStatements] = yield* countStatements(cold.load(id))
          assert.deepStrictEqual(noSnapshot.snapshotVersion, Option.none())
          assert.strictEqual(loadStatements, 2) // the snapshot probe (empty) + the full read
          const [second, secondStatements] = yield* countStatements(repo.save(id, 10, events.slice(10, 25)))
          assert.strictEqual(second.snapshot, "written")
          assert.strictEqual(secondStatements, 2) // append + snapshot insert (the state was known)
          const [loaded, withSnapshot] = yield* countStatements(cold.load(id))
          assert.deepStrictEqual(loaded.snapshotVersion, Option.some(25))
          assert.strictEqual(withSnapshot, 2)
        }))
      }))

    it.effect("round trips: a positive decision that rests on a remembered last snapshot reads the real one (list) first", () =>
      Effect.gen(function*() {
        const id = freshId()
        yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.eventsSinceSnapshot(5) })
          const [small, smallStatements] = yield* countStatements(repo.save(id, 0, deposits(3)))
          assert.strictEqual(small.snapshot, "none")
          assert.strictEqual(smallStatements, 1) // a "no" even without a snapshot: nothing to read
          const [due, dueStatements] = yield* countStatements(repo.save(id, 3, deposits(3, 4)))
          assert.strictEqual(due.snapshot, "written")
          assert.strictEqual(dueStatements, 3) // append + list (the real last snapshot) + snapshot insert
        }))
      }))
  })
})
