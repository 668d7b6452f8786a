/**
 * The repository suite on a real PostgreSQL server (PG_URL): SqlEventStore + SqlSnapshotStore, concurrent
 * updates over real connections, and the number of round trips of load and save. Skipped without PG_URL.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, layer, vi } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import { encode, expected, Ledger } from "../../loader/test/utils/Ledger.js"
import { countStatements, deposits, freshId, repositorySuite } from "../../loader/test/utils/repositorySuite.js"

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layerTest("loader_repository_pg", { maxConnections: 20 }))
)

describe.skipIf(!Postgres.hasServer)("EventSourcedRepository on PostgreSQL", () => {
  layer(TestLayer, { timeout: 120_000 })((it) => {
    repositorySuite(it, { propertyRuns: 100, multiConnection: true })

    it.effect("round trips: hot load = 1 (the tail from the cached state); cold load = 1 (the newest snapshot and its tail, or the stream, in one statement); save = 1, + 1 when it snapshots a known state", () =>
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
          assert.strictEqual(loadStatements, 1) // no snapshot: the same statement answers the stream
          const [second, secondStatements] = yield* countStatements(repo.save(id, 10, events.slice(10, 25)))
          assert.strictEqual(second.snapshot, "written")
          assert.strictEqual(secondStatements, 2) // append + snapshot insert (the state was known)
          const [loaded, withSnapshot] = yield* countStatements(cold.load(id))
          assert.deepStrictEqual(loaded.snapshotVersion, Option.some(25))
          assert.strictEqual(withSnapshot, 1)
        }))
      }))

    it.effect("cold load over several pages: a full replay of 4,500 events, then a snapshot at 100 and a 4,400-event tail", () =>
      Effect.gen(function*() {
        const id = freshId()
        const all = deposits(4500)
        yield* Effect.scoped(Effect.gen(function*() {
          const writer = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never })
          for (let from = 0; from < all.length; from += 500) {
            yield* writer.save(id, from, all.slice(from, from + 500))
          }
          const cold = yield* EventSourcedRepository.make(Ledger, {
            strategy: SnapshotStrategy.never,
            cacheMaxBytes: 0
          })
          const replayed = yield* cold.load(id)
          assert.strictEqual(replayed.source, "replay")
          assert.strictEqual(replayed.version, 4500)
          assert.strictEqual(replayed.replayed, 4500)
          assert.strictEqual(encode(replayed.state), expected(id, all))

          const other = freshId()
          const snapshotting = yield* EventSourcedRepository.make(Ledger, {
            strategy: SnapshotStrategy.everyNEvents(100)
          })
          assert.strictEqual((yield* snapshotting.save(other, 0, all.slice(0, 100))).snapshot, "written")
          for (let from = 100; from < all.length; from += 550) {
            yield* writer.save(other, from, all.slice(from, from + 550))
          }
          const [restored, statements] = yield* countStatements(cold.load(other))
          assert.strictEqual(restored.source, "snapshot")
          assert.deepStrictEqual(restored.snapshotVersion, Option.some(100))
          assert.strictEqual(restored.replayed, 4400)
          assert.strictEqual(encode(restored.state), expected(other, all))
          assert.strictEqual(statements, 4) // one statement answers 2,000 events; three more pages of 1,000 follow
        }))
      }))

    it.effect("cold load: a snapshot row that does not decode costs a replay (and is replaced), never a wrong state", () =>
      Effect.gen(function*() {
        const id = freshId()
        const all = deposits(30)
        const sql = yield* SqlClient.SqlClient
        yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(20) })
          yield* repo.save(id, 0, all.slice(0, 25))
          yield* repo.save(id, 25, all.slice(25))
          yield* sql`UPDATE effect_snapshots SET state_text = '{"bogus": true}'
WHERE aggregate_type = ${Ledger.type} AND aggregate_id = ${id}`
          const cold = yield* EventSourcedRepository.make(Ledger, {
            strategy: SnapshotStrategy.never,
            cacheMaxBytes: 0
          })
          const loaded = yield* cold.load(id)
          assert.strictEqual(loaded.source, "replay")
          assert.strictEqual(loaded.version, 30)
          assert.strictEqual(encode(loaded.state), expected(id, all))
          yield* cold.flush
          const again = yield* cold.load(id)
          assert.strictEqual(again.source, "snapshot")
          assert.strictEqual(encode(again.state), expected(id, all))
        }))
      }))

    it.effect("cold load through a decorated snapshot store (compressed): two statements, and compressed rows inflate", () =>
      Effect.gen(function*() {
        const id = freshId()
        const all = deposits(30)
        const compressed = SnapshotStore.compressed({ algorithm: "gzip", thresholdBytes: 0 })(SqlSnapshotStore.layer)
        yield* Effect.scoped(
          Effect.gen(function*() {
            const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(20) })
            assert.strictEqual((yield* repo.save(id, 0, all.slice(0, 25))).snapshot, "written")
            yield* repo.save(id, 25, all.slice(25))
            const cold = yield* EventSourcedRepository.make(Ledger, {
              strategy: SnapshotStrategy.never,
              cacheMaxBytes: 0
            })
            const [loaded, statements] = yield* countStatements(cold.load(id))
            assert.strictEqual(loaded.source, "snapshot")
            assert.deepStrictEqual(loaded.snapshotVersion, Option.some(25))
            assert.strictEqual(encode(loaded.state), expected(id, all))
            assert.strictEqual(statements, 2) // the decorated store's load, then the tail
          }).pipe(Effect.provide(compressed))
        )
        const [encoding] = yield* (yield* SqlClient.SqlClient)<
          { encoding: string }
        >`SELECT encoding FROM effect_snapshots
WHERE aggregate_type = ${Ledger.type} AND aggregate_id = ${id}`
        assert.strictEqual(encoding?.encoding, "gzip")
      }))

    it.effect("cold load: the SQL stores' cold-read services are used only with the very stores they describe (a wrapped store beside them keeps two statements)", () =>
      Effect.gen(function*() {
        const id = freshId()
        const all = deposits(30)
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(20) })
        assert.strictEqual((yield* repo.save(id, 0, all)).snapshot, "written")
        const coldRepository = EventSourcedRepository.make(Ledger, {
          strategy: SnapshotStrategy.never,
          cacheMaxBytes: 0
        })
        // The same stores, as the layers built them: one statement.
        const [direct, directStatements] = yield* countStatements(
          Effect.flatMap(coldRepository, (cold) => cold.load(id))
        )
        assert.strictEqual(direct.source, "snapshot")
        assert.strictEqual(directStatements, 1)
        // A wrapper of the snapshot store (what a decorator builds), while SqlSnapshotStore.Source stays in context.
        const inner = yield* SnapshotStore.SnapshotStore
        const [wrapped, wrappedStatements] = yield* countStatements(
          Effect.flatMap(coldRepository, (cold) => cold.load(id)).pipe(
            Effect.provideService(SnapshotStore.SnapshotStore, { ...inner })
          )
        )
        assert.isTrue(Option.isSome(yield* Effect.serviceOption(SqlSnapshotStore.Source)))
        assert.strictEqual(wrapped.source, "snapshot")
        assert.strictEqual(encode(wrapped.state), expected(id, all))
        assert.strictEqual(wrappedStatements, 2) // the wrapper's load, then the tail
      }).pipe(Effect.scoped))

    it.effect("a snapshot write stringifies its state once, also through the compressed decorator", () =>
      Effect.gen(function*() {
        const all = deposits(400)
        const stringifiedStates = <E, R>(write: Effect.Effect<unknown, E, R>) =>
          Effect.acquireUseRelease(
            Effect.sync(() => {
              const original = JSON.stringify
              let count = 0
              const spy = vi.spyOn(JSON, "stringify").mockImplementation((...args: Parameters<typeof original>) => {
                const text = original(...args)
                // The Ledger's state (only it has a checksum; events and snapshot metadata do not).
                if (typeof text === "string" && text.includes(`"checksum":`)) count++
                return text
              })
              return { spy, count: () => count }
            }),
            ({ count }) => Effect.as(write, undefined).pipe(Effect.map(() => count())),
            ({ spy }) => Effect.sync(() => spy.mockRestore())
          )
        const compressed = SnapshotStore.compressed({ algorithm: "gzip", thresholdBytes: 0 })(SqlSnapshotStore.layer)
        for (const stores of ["sql", "compressed"] as const) {
          const id = freshId()
          const scenario = Effect.scoped(
            Effect.gen(function*() {
              const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(400) })
              yield* repo.save(id, 0, all.slice(0, 399))
              const counted = yield* stringifiedStates(
                Effect.map(repo.save(id, 399, all.slice(399)), (saved) => assert.strictEqual(saved.snapshot, "written"))
              )
              assert.strictEqual(counted, 1, stores)
              const cold = yield* EventSourcedRepository.make(Ledger, {
                strategy: SnapshotStrategy.never,
                cacheMaxBytes: 0
              })
              const loaded = yield* cold.load(id)
              assert.strictEqual(loaded.source, "snapshot")
              assert.strictEqual(encode(loaded.state), expected(id, all))
            })
          )
          yield* (stores === "compressed" ? Effect.provide(scenario, compressed) : scenario)
        }
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
