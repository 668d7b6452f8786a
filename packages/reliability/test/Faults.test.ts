import { Postgres } from "@effect-snapshots/postgres"
import { Faults } from "@effect-snapshots/reliability"
import { SnapshotStore } from "@effect-snapshots/store"
import { CompressedState, Snapshot } from "@effect-snapshots/store/Snapshot"
import { assert, describe, it, layer } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { SqlClient } from "effect/sql"

const snapshot = (version: number) =>
  new Snapshot({
    aggregateType: "Counter",
    aggregateId: "c-1",
    version,
    schemaVersion: 1,
    createdAt: DateTime.makeUnsafe(0),
    metadata: { fingerprint: "abc" },
    state: { total: version, items: [1, 2, 3] }
  })

describe("Faults.makeInjector", () => {
  it("is reproducible from its seed", () => {
    const run = (seed: number) => {
      const injector = Faults.makeInjector(seed, { failRate: 0.3, hangRate: 0.05, corruptRate: 0.1 })
      return Array.from({ length: 200 }, () => injector.decide(true)._tag).join(",")
    }
    assert.strictEqual(run(7), run(7))
    assert.notStrictEqual(run(7), run(8))
  })

  it("injects close to the planned shares and counts them", () => {
    const injector = Faults.makeInjector(42, { failRate: 0.3, hangRate: 0.05, corruptRate: 0.1 })
    const n = 20_000
    for (let i = 0; i < n; i++) injector.decide(true)
    const { calls, corrupted, failed, hung } = injector.counters
    assert.strictEqual(calls, n)
    assert.isTrue(Math.abs(failed / n - 0.3) < 0.015, `failed ${failed}`)
    assert.isTrue(Math.abs(hung / n - 0.05) < 0.01, `hung ${hung}`)
    assert.isTrue(Math.abs(corrupted / n - 0.1) < 0.01, `corrupted ${corrupted}`)
    assert.strictEqual(injector.injected(), failed + hung + corrupted)
  })

  it("never corrupts a call that cannot be corrupted, and counts nothing while disabled", () => {
    const injector = Faults.makeInjector(1, { corruptRate: 1 })
    assert.strictEqual(injector.decide(false)._tag, "Pass")
    assert.strictEqual(injector.decide(true)._tag, "Corrupt")
    injector.enabled = false
    assert.strictEqual(injector.decide(true)._tag, "Pass")
    assert.strictEqual(injector.counters.calls, 2)
  })

  it("refuses rates outside [0, 1] or summing above 1", () => {
    assert.throws(() => Faults.makeInjector(1, { failRate: 1.5 }), /failRate/)
    assert.throws(() => Faults.makeInjector(1, { failRate: 0.6, hangRate: 0.6 }), /must not exceed 1/)
  })
})

describe("Faults.corruptSnapshot", () => {
  const base = snapshot(5)
  it("produces each kind of corruption", () => {
    const c = (kind: Faults.Corruption) => Faults.corruptSnapshot(base, kind, () => 0.5)
    assert.strictEqual(typeof c("TruncatedJson").state, "string")
    assert.throws(() => JSON.parse(c("TruncatedJson").state as string))
    assert.deepStrictEqual(c("WrongShape").state, { corrupt: true, items: "not-an-array", n: "NaN" })
    const gzip = c("BadGzip").state
    assert.instanceOf(gzip, CompressedState)
    assert.strictEqual((gzip as CompressedState).algorithm, "gzip")
    assert.strictEqual((c("BadBrotli").state as CompressedState).algorithm, "brotli")
    assert.strictEqual(c("UnknownSchemaVersion").schemaVersion, 1001)
    assert.strictEqual(c("StaleFingerprint").metadata.fingerprint, "stale-abc")
    assert.strictEqual(c("VersionAboveStream").version, 1_000_005)
    assert.strictEqual(c("WrongAggregateType").aggregateType, "CounterOther")
    assert.strictEqual(c("WrongAggregateId").aggregateId, "c-1-other")
    // the original is untouched
    assert.deepStrictEqual(base.state, { total: 5, items: [1, 2, 3] })
  })
})

describe("Faults.layerSnapshotStore", () => {
  it.live("fails, hangs and corrupts the calls it is told to, over a real store", () =>
    Effect.gen(function*() {
      const failing = Faults.makeInjector(3, { failRate: 1 })
      const result = yield* Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        return yield* Effect.result(store.load("Counter", "c-1"))
      }).pipe(Effect.provide(SnapshotStore.layerMemory.pipe(Faults.layerSnapshotStore(failing))))
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) assert.strictEqual(result.failure.reason, "Unavailable")
      assert.strictEqual(failing.counters.failed, 1)

      const hanging = Faults.makeInjector(3, { hangRate: 1 })
      const timedOut = yield* Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        return yield* store.load("Counter", "c-1").pipe(Effect.timeoutOption("20 millis"))
      }).pipe(Effect.provide(SnapshotStore.layerMemory.pipe(Faults.layerSnapshotStore(hanging))))
      assert.isTrue(Option.isNone(timedOut))

      const corrupting = Faults.makeInjector(3, { corruptRate: 1 })
      const counts: Partial<Record<Faults.Corruption, number>> = {}
      const loaded = yield* Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        corrupting.enabled = false
        yield* store.save(snapshot(5))
        corrupting.enabled = true
        return yield* store.load("Counter", "c-1")
      }).pipe(
        Effect.provide(
          SnapshotStore.layerMemory.pipe(
            Faults.layerSnapshotStore(corrupting, { corruptions: ["VersionAboveStream"], corruptionCounts: counts })
          )
        )
      )
      assert.strictEqual(Option.getOrThrow(loaded).version, 1_000_005)
      assert.deepStrictEqual(counts, { VersionAboveStream: 1 })
    }))
})

describe("Faults.layerSqlClient", () => {
  const injector = Faults.makeInjector(11, {})
  const Faulty = Faults.layerSqlClient(injector, { match: /\bprobe\b/ }).pipe(
    Layer.provide(Postgres.layerTest("reliability_faults"))
  )
  layer(Faulty, { timeout: 120_000 })((it) => {
    it.effect("injects faults into matching statements only, and passes transactions through", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        injector.enabled = false
        yield* sql`CREATE TABLE probe (id int primary key, body text not null)`
        yield* sql.withTransaction(
          Effect.andThen(sql`INSERT INTO probe VALUES (1, 'hello world')`, sql`INSERT INTO probe VALUES (2, 'b')`)
        )
        injector.enabled = true

        const plain = yield* sql<{ n: number }>`SELECT 42 AS n`
        assert.deepStrictEqual(plain, [{ n: 42 }])
        assert.strictEqual(injector.counters.calls, 0)

        const failing = Faults.makeInjector(5, { failRate: 1 })
        const corrupting = Faults.makeInjector(5, { corruptRate: 1 })
        const run = <A>(i: Faults.Injector, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
          Effect.flatMap(SqlClient.SqlClient, f).pipe(
            Effect.provide(
              Faults.layerSqlClient(i, { match: /\bprobe\b/ }).pipe(
                Layer.provide(Layer.succeed(SqlClient.SqlClient, sql))
              )
            )
          )
        const failed = yield* Effect.result(run(failing, (s) => s`SELECT body FROM probe WHERE id = 1`))
        assert.isTrue(Result.isFailure(failed))
        if (Result.isFailure(failed)) assert.strictEqual((failed.failure as { _tag: string })._tag, "SqlError")

        const rows = yield* run(corrupting, (s) => s<{ body: string }>`SELECT body FROM probe WHERE id = 1`)
        assert.deepStrictEqual(rows, [{ body: "hello" }])
        assert.strictEqual(corrupting.counters.corrupted, 1)

        // a failed write inside a transaction leaves nothing behind
        const tx = yield* Effect.result(run(failing, (s) =>
          s.withTransaction(
            Effect.andThen(
              Effect.flatMap(Effect.sync(() => (failing.enabled = false)), () => s`INSERT INTO probe VALUES (3, 'c')`),
              Effect.flatMap(Effect.sync(() => (failing.enabled = true)), () => s`INSERT INTO probe VALUES (4, 'd')`)
            )
          )))
        assert.isTrue(Result.isFailure(tx))
        const [{ count }] = yield* sql<{ count: number }>`SELECT count(*)::int AS count FROM probe`
        assert.strictEqual(count, 2)
      }))
  })
})
