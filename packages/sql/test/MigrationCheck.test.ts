/**
 * A buggy snapshot migration costs speed, never correctness (issue 22 item 5).
 *
 * An application ran version 1 of an aggregate (`{ deposits, sum }`) and left version-1 snapshots; version 2
 * (`{ deposits, total }`) ships with a migration that writes the number of deposits as the total (2 where the
 * true total is 12). With the migration check on every load (`share: 1`), the load returns the replayed state,
 * the bad migrated state is never written back as a snapshot, and the fault is logged once and counted;
 * `rebuild` and `verify` check every migrated snapshot whatever the share. Run on memory and on PostgreSQL
 * (a schema of PG_URL's server, else an embedded PGlite).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore, Migration, SnapshotMetrics } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import type { Vitest } from "@effect/vitest"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as References from "effect/References"
import * as Schema from "effect/Schema"

const type = "MigratedAccount"

const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Int })
const Events = Schema.Union([Deposited])
type Event = typeof Events.Type

const StateV1 = Schema.Struct({ deposits: Schema.Int, sum: Schema.Int })
type StateV1 = typeof StateV1.Type
const StateV2 = Schema.Struct({ deposits: Schema.Int, total: Schema.Int })
type StateV2 = typeof StateV2.Type

const accountV1 = (aggregateType: string) =>
  Aggregate.make({
    type: aggregateType,
    state: StateV1,
    initial: (): StateV1 => ({ deposits: 0, sum: 0 }),
    events: Events,
    evolve: (state: StateV1, event: Event): StateV1 => ({ deposits: state.deposits + 1, sum: state.sum + event.amount })
  })

const definitionV2 = {
  type,
  state: StateV2,
  schemaVersion: 2,
  initial: (): StateV2 => ({ deposits: 0, total: 0 }),
  events: Events,
  evolve: (state: StateV2, event: Event): StateV2 => ({
    deposits: state.deposits + 1,
    total: state.total + event.amount
  })
} as const

/** The bug: the number of deposits written as the total. */
const buggy = (v1: StateV1): StateV2 => ({ deposits: v1.deposits, total: v1.deposits })
const right = (v1: StateV1): StateV2 => ({ deposits: v1.deposits, total: v1.sum })

const typed = (migrate: (v1: StateV1) => StateV2, share: number, aggregateType = type) =>
  Aggregate.make({
    ...definitionV2,
    type: aggregateType,
    migrations: Migration.from(1, StateV1).pipe(Migration.to(StateV2, migrate)),
    migrationCheck: { share, firstLoads: 0 }
  })

/** The deprecated form (JSON in, JSON out) is checked the same way. */
const untyped = (share: number) =>
  Aggregate.make({
    ...definitionV2,
    migrations: {
      1: (v1: unknown) => {
        const { deposits } = v1 as { readonly deposits: number }
        return { deposits, total: deposits }
      }
    },
    migrationCheck: { share, firstLoads: 0 }
  })

const mismatchesOf = (aggregateType: string) =>
  Effect.map(
    Metric.value(SnapshotMetrics.forAggregateType(aggregateType).migrationMismatches),
    (state) => state.count
  )

const mismatches = mismatchesOf(type)

let counter = 0
const freshId = () => `acct-${Date.now().toString(36)}-${counter++}`

/** Version 1 wrote deposits 5 and 7 and a snapshot at version 2 (schema version 1): the true total is 12. */
const writeVersion1 = Effect.fnUntraced(function*(id: string, aggregateType = type) {
  yield* Effect.scoped(Effect.gen(function*() {
    const v1 = yield* EventSourcedRepository.make(accountV1(aggregateType), {
      strategy: SnapshotStrategy.everyNEvents(2)
    })
    const saved = yield* v1.save(id, 0, [Deposited.make({ amount: 5 }), Deposited.make({ amount: 7 })])
    assert.strictEqual(saved.snapshot, "written")
  }))
})

const snapshotsOf = (id: string, aggregateType: string) =>
  Effect.flatMap(
    SnapshotStore.SnapshotStore,
    (store) =>
      Effect.flatMap(store.list(aggregateType, id), (infos) =>
        Effect.forEach(infos, (info) =>
          Effect.map(
            store.load(aggregateType, id, { maxVersion: info.version }),
            (found) => ({
              version: info.version,
              schemaVersion: info.schemaVersion,
              state: Option.getOrUndefined(Option.map(found, (s) => s.state))
            })
          )))
  )

/** Every log line of `self` at Info and above, instead of the console. */
const capturingLogs = <A, E, R>(self: Effect.Effect<A, E, R>, into: Array<string>) =>
  self.pipe(
    Effect.provide(Logger.layer([
      Logger.make(({ logLevel, message }) => {
        into.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
      })
    ])),
    Effect.provideService(References.MinimumLogLevel, "Info")
  )

const repository = (aggregate: ReturnType<typeof typed>) =>
  EventSourcedRepository.make(aggregate, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })

/** No snapshot at schema version 2 holds the buggy total. */
const assertNoBadSnapshot = Effect.fnUntraced(function*(id: string, aggregateType = type) {
  const stored = yield* snapshotsOf(id, aggregateType)
  for (const snapshot of stored) {
    if (snapshot.schemaVersion === 2) {
      assert.deepStrictEqual(snapshot.state, { deposits: 2, total: 12 }, `snapshot at ${snapshot.version}`)
    }
  }
  return stored
})

const suite = (it: Vitest.MethodsNonLive<EventStore.EventStore | SnapshotStore.SnapshotStore>) => {
  for (
    const [name, make] of [["a typed migration", (share: number) => typed(buggy, share)], [
      "a deprecated untyped migration",
      untyped
    ]] as const
  ) {
    it.effect(
      `${name} that is wrong, checked on every load: the load returns the replay, the bad state is not re-saved, the fault is logged once and counted`,
      () =>
        Effect.gen(function*() {
          const id = freshId()
          yield* writeVersion1(id)
          const before = yield* mismatches
          const logs: Array<string> = []
          const loaded = yield* capturingLogs(
            Effect.scoped(Effect.flatMap(repository(make(1)), (r) => r.load(id))),
            logs
          )
          assert.deepStrictEqual(loaded.state, { deposits: 2, total: 12 })
          assert.strictEqual(loaded.source, "replay")
          assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
          assert.strictEqual((yield* mismatches) - before, 1)
          const faults = logs.filter((line) => line.includes("migrat"))
          assert.strictEqual(faults.length, 1, logs.join("\n"))
          assert.match(faults[0]!, /^Warn: /)
          assert.include(faults[0]!, type)
          assert.include(faults[0]!, JSON.stringify(id))
          assert.include(faults[0]!, "schema version 1 to 2")
          // The migrated snapshot was replaced by the replay's state: another instance loads the truth from it.
          yield* assertNoBadSnapshot(id)
          const next = yield* Effect.scoped(Effect.flatMap(repository(make(1)), (r) => r.load(id)))
          assert.deepStrictEqual(next.state, { deposits: 2, total: 12 })
          assert.strictEqual(next.source, "snapshot")
          assert.strictEqual((yield* mismatches) - before, 1)
        })
    )
  }

  it.effect("a right migration checked on every load: loaded from the snapshot, re-saved at schema version 2, nothing counted", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* writeVersion1(id)
      const before = yield* mismatches
      const loaded = yield* Effect.scoped(Effect.flatMap(repository(typed(right, 1)), (r) => r.load(id)))
      assert.deepStrictEqual(loaded.state, { deposits: 2, total: 12 })
      assert.strictEqual(loaded.source, "snapshot")
      assert.deepStrictEqual(loaded.snapshotVersion, Option.some(2))
      assert.strictEqual((yield* mismatches) - before, 0)
      const stored = yield* assertNoBadSnapshot(id)
      assert.deepStrictEqual(stored.map((s) => s.schemaVersion), [2])
    }))

  it.effect("a wrong migration never sampled (share 0): the migrated state is used but never written back as a snapshot", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* writeVersion1(id)
      const loaded = yield* Effect.scoped(Effect.flatMap(repository(typed(buggy, 0)), (r) => r.load(id)))
      assert.deepStrictEqual(loaded.state, { deposits: 2, total: 2 })
      const stored = yield* assertNoBadSnapshot(id)
      assert.deepStrictEqual(stored.map((s) => s.schemaVersion), [1])
    }))

  it.effect("a wrong migration never sampled (share 0), then an update with a snapshot due: the snapshot written is the true state", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* writeVersion1(id)
      const logs: Array<string> = []
      yield* capturingLogs(
        Effect.scoped(Effect.gen(function*() {
          const repo = yield* EventSourcedRepository.make(typed(buggy, 0), {
            strategy: SnapshotStrategy.everyNEvents(1)
          })
          const loaded = yield* repo.load(id)
          assert.deepStrictEqual(loaded.state, { deposits: 2, total: 2 }) // unchecked: the migrated state, as it is
          // The update folds onto the cached (unchecked) state; the snapshot it calls for must not carry the bug.
          yield* repo.update(id, () => Effect.succeed([Deposited.make({ amount: 1 })]))
        })),
        logs
      )
      const stored = yield* snapshotsOf(id, type)
      for (const snapshot of stored) {
        if (snapshot.schemaVersion !== 2) continue
        const trueTotal = [5, 7, 1].slice(0, snapshot.version).reduce((a, b) => a + b, 0)
        assert.deepStrictEqual(snapshot.state, { deposits: snapshot.version, total: trueTotal }, logs.join("\n"))
      }
      assert.isTrue(stored.some((snapshot) => snapshot.schemaVersion === 2), JSON.stringify(stored))
    }))

  it.effect("rebuild checks every migrated snapshot (share 0): the wrong one is counted and replaced by the replay", () =>
    Effect.gen(function*() {
      // A type of its own: rebuild goes over every stream of the type.
      const rebuilt = `${type}Rebuilt${counter}`
      const ids = [freshId(), freshId(), freshId()]
      for (const id of ids) yield* writeVersion1(id, rebuilt)
      const before = yield* mismatchesOf(rebuilt)
      const summary = yield* capturingLogs(
        Effect.scoped(Effect.flatMap(repository(typed(buggy, 0, rebuilt)), (r) => r.rebuild())),
        []
      )
      assert.strictEqual(summary.written, 3)
      assert.strictEqual((yield* mismatchesOf(rebuilt)) - before, 3)
      for (const id of ids) yield* assertNoBadSnapshot(id, rebuilt)
      const next = yield* Effect.scoped(Effect.flatMap(repository(typed(buggy, 0, rebuilt)), (r) => r.load(ids[0]!)))
      assert.deepStrictEqual(next.state, { deposits: 2, total: 12 })
      assert.strictEqual(next.source, "snapshot")
    }))

  it.effect("verify checks every migrated snapshot (share 0): inconsistent at $.total, counted, and the snapshot replaced", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* writeVersion1(id)
      const before = yield* mismatches
      const verified = yield* capturingLogs(
        Effect.scoped(Effect.flatMap(repository(typed(buggy, 0)), (r) => r.verify(id))),
        []
      )
      assert.isFalse(verified.consistent)
      assert.deepStrictEqual(verified.snapshotVersion, Option.some(2))
      assert.deepStrictEqual(verified.differences.map((d) => [d.path, d.snapshot, d.replay]), [["$.total", "2", "12"]])
      assert.strictEqual((yield* mismatches) - before, 1)
      yield* assertNoBadSnapshot(id)
      const next = yield* Effect.scoped(Effect.flatMap(repository(typed(buggy, 0)), (r) => r.load(id)))
      assert.deepStrictEqual(next.state, { deposits: 2, total: 12 })
    }))
}

const checked = (
  migrate: (v1: StateV1) => StateV2,
  check: { share: number; firstLoads: number },
  aggregateType: string
) =>
  Aggregate.make({
    ...definitionV2,
    type: aggregateType,
    migrations: Migration.from(1, StateV1).pipe(Migration.to(StateV2, migrate)),
    migrationCheck: check
  })

/** The schema versions of the newest snapshot of each aggregate. */
const newestSchemaVersions = (ids: ReadonlyArray<string>, aggregateType: string) =>
  Effect.forEach(ids, (id) => Effect.map(snapshotsOf(id, aggregateType), (s) => s[s.length - 1]!.schemaVersion))

describe("which loads are checked", () => {
  layer(Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory))((it) => {
    it.effect("the first `firstLoads` loads through a migration are checked (and re-saved when right), the others are not", () =>
      Effect.gen(function*() {
        const aggregateType = `${type}First`
        const ids = [freshId(), freshId(), freshId(), freshId()]
        for (const id of ids) yield* writeVersion1(id, aggregateType)
        yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* repository(checked(right, { share: 0, firstLoads: 2 }, aggregateType))
          for (const id of ids) assert.strictEqual((yield* repo.load(id)).state.total, 12)
        }))
        assert.deepStrictEqual(yield* newestSchemaVersions(ids, aggregateType), [2, 2, 1, 1])
      }))

    it.effect("once a migration was found wrong, every later load through it is checked", () =>
      Effect.gen(function*() {
        const aggregateType = `${type}Wrong`
        const ids = [freshId(), freshId(), freshId()]
        for (const id of ids) yield* writeVersion1(id, aggregateType)
        yield* capturingLogs(
          Effect.scoped(Effect.gen(function*() {
            const repo = yield* repository(checked(buggy, { share: 0, firstLoads: 1 }, aggregateType))
            for (const id of ids) assert.strictEqual((yield* repo.load(id)).state.total, 12)
          })),
          []
        )
        assert.strictEqual(yield* mismatchesOf(aggregateType), 3)
        assert.deepStrictEqual(yield* newestSchemaVersions(ids, aggregateType), [2, 2, 2])
      }))

    it.effect("after the first loads, a share of loads is checked (a seeded draw: 1 in 4 of 200)", () =>
      Effect.gen(function*() {
        const aggregateType = `${type}Share`
        const ids = Array.from({ length: 200 }, freshId)
        for (const id of ids) yield* writeVersion1(id, aggregateType)
        yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* repository(checked(right, { share: 0.25, firstLoads: 0 }, aggregateType))
          for (const id of ids) yield* repo.load(id)
        })).pipe(Random.withSeed(42))
        const resaved = (yield* newestSchemaVersions(ids, aggregateType)).filter((v) => v === 2).length
        // Binomial(200, 0.25): mean 50, standard deviation ~6; the bounds are 4 deviations away.
        assert.isAtLeast(resaved, 25)
        assert.isAtMost(resaved, 75)
      }))

    it.effect("the repository refuses a share outside 0..1, and a chain that does not end at the schema version", () =>
      Effect.gen(function*() {
        const share = yield* Effect.flip(Effect.scoped(repository(checked(right, { share: 2, firstLoads: 0 }, type))))
        assert.strictEqual(share._tag, "BadArgument")
        assert.include(share.message, "migrationCheck.share must be a number from 0 to 1, got 2")
        const ending = yield* Effect.flip(Effect.scoped(repository(
          Aggregate.make({
            ...definitionV2,
            schemaVersion: 3,
            migrations: Migration.from(1, StateV1).pipe(Migration.to(StateV2, right))
          })
        )))
        assert.include(ending.message, "end at schema version 2, its schemaVersion is 3")
      }))
  })
})

describe("migration check on memory", () => {
  layer(Layer.mergeAll(EventStore.layerMemory, SnapshotStore.layerMemory))((it) => suite(it))
})

describe("migration check on PostgreSQL", () => {
  layer(
    Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
      Layer.provideMerge(Postgres.layerTest("loader_migration_check"))
    ),
    { timeout: 120_000 }
  )((it) => suite(it))
})
