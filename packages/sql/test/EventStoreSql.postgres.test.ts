/**
 * SqlEventStore on a real PostgreSQL server (PG_URL): the contract, races over real connections, readAll
 * under late commits, and a 1,000,000-event replay in bounded memory. Skipped without PG_URL.
 */
import { EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore } from "@effect-snapshots/sql"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { SqlClient } from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { contract, events, freshId, readAll, readAllUntil } from "../../loader/test/utils/eventStoreContract.js"

const pageSize = 4
const TestLayer = SqlEventStore.layerWith({ pageSize }).pipe(
  Layer.provideMerge(Postgres.layerTest("event_store_pg", { maxConnections: 24 }))
)

const countRows = Effect.flatMap(SqlClient, (sql) =>
  sql<{ n: number }>`
  SELECT count(*)::int AS n FROM effect_snapshots_events`).pipe(Effect.map((rows) => rows[0]!.n))

/** Sleeps on the real clock (TestClock is not what these races need). */
const pause = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) => Stream.runCollect(stream)

describe.skipIf(!Postgres.hasServer)("SqlEventStore on PostgreSQL", () => {
  layer(TestLayer, { timeout: 120_000, excludeTestServices: true })((it) => {
    contract(it, { pageSize, countEvents: countRows, propertyRuns: 100 })

    it.effect(
      "16 concurrent writers on one stream: no lost or duplicated events, versions contiguous",
      () =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const id = freshId("hot")
          const conflicts = yield* Ref.make(0)
          const writer = (w: number) =>
            Effect.forEach(Array.from({ length: 12 }, (_, k) => k), (k) => {
              const batch = Array.from({ length: 1 + ((w + k) % 3) }, (_, j) => ({
                type: "Written",
                payload: { w, k, j }
              }))
              const attempt: Effect.Effect<number, EventStore.EventStoreError> = Effect.flatMap(
                store.version("Order", id),
                (v) =>
                  store.append("Order", id, v, batch).pipe(
                    Effect.map(() => batch.length),
                    Effect.catchTag(
                      "ConcurrencyConflict",
                      () => Effect.andThen(Ref.update(conflicts, (n) => n + 1), attempt)
                    )
                  )
              )
              return attempt
            })
          const written = yield* Effect.all(Array.from({ length: 16 }, (_, w) => writer(w)), {
            concurrency: "unbounded"
          })
          const total = written.flat().reduce((a, b) => a + b, 0)
          const stream = yield* readAll("Order", id)
          assert.strictEqual(stream.length, total)
          assert.deepStrictEqual(stream.map((e) => e.version), Array.from({ length: total }, (_, i) => i + 1))
          const keys = stream.map((e) => JSON.stringify(e.payload))
          assert.strictEqual(new Set(keys).size, total)
          // each writer's batches are stored whole and in the writer's order
          for (let w = 0; w < 16; w++) {
            const mine = stream.map((e) => e.payload as { w: number; k: number; j: number }).filter((p) => p.w === w)
            assert.deepStrictEqual(mine, [...mine].sort((a, b) => a.k - b.k || a.j - b.j))
            assert.strictEqual(new Set(mine.map((p) => p.k)).size, 12)
          }
          assert.strictEqual(yield* store.version("Order", id), total)
          assert.isAbove(yield* Ref.get(conflicts), 0, "the writers should have raced")
        }),
      120_000
    )

    it.effect("a lost race on the unique key inside a caller's transaction leaves that transaction usable", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const store = yield* EventStore.EventStore
        const id = freshId("savepoint")
        const inserted = yield* Deferred.make<void>()
        // A holds version 1 uncommitted; B, whose snapshot cannot see it, inserts version 1 too and waits on A.
        const a = yield* sql.withTransaction(
          Effect.andThen(
            store.append("Order", id, 0, events(1)),
            Effect.andThen(Deferred.succeed(inserted, void 0), pause(300))
          )
        ).pipe(Effect.forkChild)
        yield* Deferred.await(inserted)
        const b = yield* sql.withTransaction(
          Effect.gen(function*() {
            const error = yield* Effect.flip(store.append("Order", id, 0, events(2, 100)))
            // the transaction still works after the conflict
            const [{ ok }] = yield* sql<{ ok: number }>`SELECT 1 AS ok`
            return [error, ok] as const
          })
        )
        yield* Fiber.join(a)
        const [error, ok] = b
        assert.strictEqual(error._tag, "ConcurrencyConflict")
        assert.strictEqual((error as EventStore.ConcurrencyConflict).actualVersion, 1)
        assert.strictEqual(ok, 1)
        assert.deepStrictEqual((yield* readAll("Order", id)).map((e) => e.payload), [{ n: 1 }])
      }))

    it.effect("the same race outside a transaction is a ConcurrencyConflict with the version read afterwards", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const store = yield* EventStore.EventStore
        const id = freshId("race-autocommit")
        const inserted = yield* Deferred.make<void>()
        const a = yield* sql.withTransaction(
          Effect.andThen(
            store.append("Order", id, 0, events(3)),
            Effect.andThen(Deferred.succeed(inserted, void 0), pause(300))
          )
        ).pipe(Effect.forkChild)
        yield* Deferred.await(inserted)
        const error = yield* Effect.flip(store.append("Order", id, 0, events(1, 100)))
        yield* Fiber.join(a)
        assert.strictEqual(error._tag, "ConcurrencyConflict")
        assert.strictEqual((error as EventStore.ConcurrencyConflict).actualVersion, 3)
        assert.strictEqual(yield* store.version("Order", id), 3)
      }))

    it.effect("readAll does not skip an event committed late with a lower position", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const store = yield* EventStore.EventStore
        const a = freshId("late")
        const b = freshId("early")
        const start = yield* collect(store.readAll())
        let cursor = start.length === 0 ? 0 : start[start.length - 1]!.position
        const seen: Array<EventStore.StoredEvent> = []
        const appendedA = yield* Deferred.make<ReadonlyArray<number>>()
        const release = yield* Deferred.make<void>()
        // A takes the lower positions and commits last; B takes higher positions and commits first.
        const slow = yield* sql.withTransaction(
          Effect.flatMap(store.append("Order", a, 0, events(3)), (r) =>
            Effect.andThen(Deferred.succeed(appendedA, r.positions), Deferred.await(release)))
        ).pipe(Effect.forkChild)
        const positionsA = yield* Deferred.await(appendedA)
        const fast = yield* store.append("Order", b, 0, events(2))
        assert.isTrue(fast.positions[0]! > positionsA[2]!)
        // A naive reader (position order, no transaction horizon) would now see B and move past A's positions.
        const naive = yield* sql<{ position: string }>`
          SELECT position FROM effect_snapshots_events WHERE position > ${cursor} ORDER BY position`
        assert.includeMembers(
          naive.map((r) =>
            Number(r.position)
          ),
          fast.positions as Array<number>
        )
        // readAll holds B back while A is running ...
        const during = yield* collect(store.readAll({ fromPosition: cursor }))
        assert.notIncludeMembers(during.map((e) => e.position), fast.positions as Array<number>)
        seen.push(...during)
        if (during.length > 0) cursor = during[during.length - 1]!.position
        yield* Deferred.succeed(release, void 0)
        yield* Fiber.join(slow)
        // ... and after A commits, resuming from the cursor yields A's events and B's, each once.
        const after = yield* readAllUntil(
          cursor,
          (got) => got.filter((e) => e.aggregateId === a || e.aggregateId === b).length + during.length >= 5
        )
        seen.push(...after)
        const mine = seen.filter((e) => e.aggregateId === a || e.aggregateId === b)
        assert.deepStrictEqual(mine.map((e) => e.position), [...positionsA, ...fast.positions])
      }))

    it.effect(
      "readAll under concurrent, overlapping commits: a polling projection sees every event once",
      () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient
          const store = yield* EventStore.EventStore
          const streams = Array.from({ length: 6 }, () => freshId("mixed"))
          const start = yield* collect(store.readAll())
          const committed = yield* Ref.make<Array<number>>([])
          const done = yield* Ref.make(false)
          const writer = (w: number) =>
            Effect.forEach(Array.from({ length: 25 }, (_, k) => k), (k) => {
              const id = streams[(w + k) % streams.length]!
              const batch = events(1 + ((w * 7 + k) % 3), k, `W${w}`)
              const once = Effect.flatMap(store.version("Order", id), (v) => store.append("Order", id, v, batch))
              // half the appends run in a transaction that holds its xid before and after the append
              const work = (w + k) % 2 === 0
                ? sql.withTransaction(
                  Effect.gen(function*() {
                    yield* sql`SELECT pg_current_xact_id()::text`
                    yield* pause((w * 13 + k * 7) % 15)
                    const result = yield* once
                    yield* pause((w * 5 + k * 11) % 15)
                    return result
                  })
                )
                : once
              return work.pipe(
                Effect.tap((r) => Ref.update(committed, (all) => [...all, ...r.positions])),
                Effect.retry({ while: (e) => e._tag === "ConcurrencyConflict", times: 50 })
              )
            }, { discard: true })
          const seen: Array<EventStore.StoredEvent> = []
          let cursor = start.length === 0 ? 0 : start[start.length - 1]!.position
          let polls = 0
          const poll = Effect.gen(function*() {
            const page = yield* collect(store.readAll({ fromPosition: cursor }))
            seen.push(...page)
            if (page.length > 0) cursor = page[page.length - 1]!.position
            polls++
          })
          const loop: Effect.Effect<void, EventStore.EventStoreError> = Effect.gen(function*() {
            while (!(yield* Ref.get(done))) {
              yield* poll
              yield* pause(2)
            }
          })
          const reader = yield* Effect.forkChild(loop)
          yield* Effect.all(Array.from({ length: 8 }, (_, w) => writer(w)), { concurrency: "unbounded" })
          yield* Ref.set(done, true)
          yield* Fiber.join(reader)
          const expected = [...(yield* Ref.get(committed))].sort((x, y) => x - y)
          // the rest, as the projection would keep polling for it
          seen.push(
            ...(yield* readAllUntil(
              cursor,
              (rest) => [...seen, ...rest].filter((e) => streams.includes(e.aggregateId)).length >= expected.length
            ))
          )
          const mine = seen.filter((e) => streams.includes(e.aggregateId))
          const positions = mine.map((e) => e.position)
          assert.strictEqual(new Set(positions).size, positions.length, "no event twice")
          assert.deepStrictEqual([...positions].sort((x, y) => x - y), expected, "no event missed")
          for (const id of streams) {
            const versions = mine.filter((e) => e.aggregateId === id).map((e) => e.version)
            assert.deepStrictEqual(versions, Array.from({ length: versions.length }, (_, i) => i + 1), id)
          }
          assert.isAbove(polls, 3)
        }),
      120_000
    )

    it.effect("several stores starting at once on a fresh table migrate it exactly once", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const table = `startup_${Math.random().toString(36).slice(2, 8)}`
        const stores = yield* Effect.all(
          Array.from({ length: 6 }, () => SqlEventStore.make({ table })),
          { concurrency: "unbounded" }
        )
        const id = freshId("startup")
        yield* stores[0]!.append("Order", id, 0, events(2))
        for (const store of stores) assert.strictEqual(yield* store.version("Order", id), 2)
        const applied = yield* sql.unsafe<{ name: string }>(
          `SELECT name FROM "${table}_migrations" ORDER BY migration_id`
        )
        assert.deepStrictEqual(applied.map((m) => m.name), [
          "create_events",
          "append_function",
          "append_previous_position",
          "distribution_key"
        ])
      }))

    it.effect("a 1,000,000-event stream replays through read in bounded memory", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const id = freshId("million")
        const total = 1_000_000
        // In ten commits of 100,000: one long write transaction would hold back every readAll on the server
        // (other test files' projections included) for its whole duration.
        for (let from = 1; from <= total; from += 100_000) {
          yield* sql.unsafe(
            `INSERT INTO effect_snapshots_events (aggregate_type, aggregate_id, version, type, payload, order_xid)
             SELECT 'Big', $1, g, 'Incremented', jsonb_build_object('n', g, 'sku', 'item-' || (g % 97), 'note', repeat('x', 48)),
               pg_current_xact_id()
             FROM generate_series($2::integer, $3::integer) AS g`,
            [id, from, from + 99_999]
          )
        }
        yield* sql`ANALYZE effect_snapshots_events`
        // a store with the default page size, as an application would use it
        const store = yield* SqlEventStore.make()
        global.gc?.()
        const baseline = process.memoryUsage().rss
        let peak = baseline
        const started = performance.now()
        let count = 0
        let sum = 0
        yield* store.read("Big", id).pipe(
          Stream.runForEachArray((chunk) =>
            Effect.sync(() => {
              const rss = process.memoryUsage().rss
              if (rss > peak) peak = rss
              for (const e of chunk) {
                if (e.version !== count + 1) throw new Error(`version ${e.version} after ${count}`)
                count = e.version
                sum += (e.payload as { n: number }).n
              }
            })
          )
        )
        const seconds = (performance.now() - started) / 1000
        const deltaMb = (peak - baseline) / 1024 / 1024
        console.log(
          `read 1,000,000 events: ${seconds.toFixed(2)} s, ${Math.round(total / seconds).toLocaleString()} events/s, ` +
            `peak RSS delta ${deltaMb.toFixed(0)} MB`
        )
        assert.strictEqual(count, total)
        assert.strictEqual(sum, (total * (total + 1)) / 2)
        // Holding these 1,000,000 events at once takes ~250 MB more RSS (measured with Stream.runCollect);
        // paging keeps the live set to a page, and the delta is mostly the heap's own slack (~80-120 MB).
        assert.isBelow(deltaMb, 170)
      }), 180_000)

    it.effect(
      "an event larger than the client's maxMessageSize is Corrupt when read; the store works on after",
      () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient
          const [{ schema }] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
          const parsed = new URL(process.env.PG_URL!)
          parsed.searchParams.set("options", `-c search_path=${schema}`)
          // A client of its own that reads server messages up to 256 KiB (sending a larger one is fine).
          const small = PgClient.layer({
            url: Redacted.make(parsed.toString()),
            maxConnections: 1,
            maxMessageSize: 256 * 1024
          })
          const big = freshId("big")
          const fine = freshId("fine")
          yield* Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            yield* store.append("Order", big, 0, [{ type: "Large", payload: { blob: "x".repeat(400_000) } }])
            yield* store.append("Order", fine, 0, events(2))
            for (const read of [readAll("Order", big), store.readPage("Order", big)]) {
              const error = yield* Effect.flip(read)
              assert.strictEqual(error.reason, "Corrupt")
              assert.match(error.message, /maxMessageSize/)
            }
            assert.deepStrictEqual((yield* readAll("Order", fine)).map((e) => e.version), [1, 2])
            assert.strictEqual(yield* store.version("Order", big), 1)
          }).pipe(Effect.provide(SqlEventStore.layerWith({ table: "too_large_events" }).pipe(Layer.provide(small))))
        }),
      60_000
    )
  })
})
