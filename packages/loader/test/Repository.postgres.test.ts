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

    it.effect("round trips: load = 2 (snapshot probe + tail or full read); save = 1, + 1 when it snapshots a known state", () =>
      Effect.gen(function*() {
        const id = freshId()
        const events = deposits(30)
        yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(20) })
          const [first, firstStatements] = yield* countStatements(repo.save(id, 0, events.slice(0, 10)))
          assert.strictEqual(first.snapshot, "none")
          assert.strictEqual(firstStatements, 1)
          const [noSnapshot, loadStatements] = yield* countStatements(repo.load(id))
          assert.deepStrictEqual(noSnapshot.snapshotVersion, Option.none())
          assert.strictEqual(loadStatements, 2) // the snapshot probe (empty) + the full read
          const [second, secondStatements] = yield* countStatements(repo.save(id, 10, events.slice(10, 25)))
          assert.strictEqual(second.snapshot, "written")
          assert.strictEqual(secondStatements, 2) // append + snapshot insert (the state was known)
          const [loaded, withSnapshot] = yield* countStatements(repo.load(id))
          assert.deepStrictEqual(loaded.snapshotVersion, Option.some(25))
          assert.strictEqual(withSnapshot, 2)
        }))
      }))
  })
})
