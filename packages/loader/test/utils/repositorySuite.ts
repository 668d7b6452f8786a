/**
 * The repository suite, run against every backend (memory layers, real Postgres, PGlite).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import type { Aggregate as AggregateNs } from "@effect-snapshots/loader"
import { Aggregate, EventSourcedRepository, EventStore, Projection, SnapshotMetrics } from "@effect-snapshots/loader"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import type { Vitest } from "@effect/vitest"
import { assert } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as BigDecimal from "effect/BigDecimal"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import {
  constantFrom,
  Deposited,
  encode,
  expected,
  history,
  initial,
  integer,
  Ledger,
  type LedgerEvent,
  type LedgerState,
  LedgerStateJson,
  oneOf,
  Opened,
  Tagged,
  Withdrawn
} from "./Ledger.js"

type Services = EventStore.EventStore | SnapshotStore.SnapshotStore

export interface SuiteOptions {
  /** Cases of the invariant-1 property. */
  readonly propertyRuns: number
  /** Run the tests that need several real connections (concurrent writers). */
  readonly multiConnection: boolean
}

let counter = 0
/** A fresh aggregate id: tests of one block share one store. */
export const freshId = (prefix = "l"): string =>
  `${prefix}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`

// -----------------------------------------------------------------------------------------------------------
// arbitraries
// -----------------------------------------------------------------------------------------------------------

const eventTypes = ["Opened", "Deposited", "Withdrawn", "Tagged"] as const

const leaf: Arbitrary.Arbitrary<SnapshotStrategy.SnapshotStrategy> = oneOf<SnapshotStrategy.SnapshotStrategy>(
  Arbitrary.map(integer(1, 12), SnapshotStrategy.everyNEvents),
  Arbitrary.map(integer(1, 12), SnapshotStrategy.eventsSinceSnapshot),
  Arbitrary.map(integer(1, 12), SnapshotStrategy.replayedAtLeast),
  // A non-empty subset of the event types: the bits of 1..15.
  Arbitrary.map(
    integer(1, 2 ** eventTypes.length - 1),
    (bits) => SnapshotStrategy.onEventTypes(...eventTypes.filter((_, i) => (bits & (1 << i)) !== 0))
  ),
  Arbitrary.Constant(SnapshotStrategy.always),
  Arbitrary.Constant(SnapshotStrategy.never)
)

const leaves = Arbitrary.array(leaf, { minLength: 1, maxLength: 3 })

export const strategy: Arbitrary.Arbitrary<SnapshotStrategy.SnapshotStrategy> = oneOf(
  // A leaf weighs 3, each combinator 1.
  leaf,
  leaf,
  leaf,
  Arbitrary.map(leaves, (s) => SnapshotStrategy.any(...s)),
  Arbitrary.map(leaves, (s) => SnapshotStrategy.all(...s)),
  Arbitrary.map(leaf, SnapshotStrategy.not)
)

// -----------------------------------------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------------------------------------

const make = <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: AggregateNs.Aggregate<S, SI, E, EI>,
  options: EventSourcedRepository.Options
) => Effect.orDie(EventSourcedRepository.make(aggregate, options))

/** Build a repository in its own scope, run `f`, close the scope (flushing background work). */
const withRepository = <A, E, R, S, SI, Ev extends { readonly _tag: string }, EI>(
  aggregate: AggregateNs.Aggregate<S, SI, Ev, EI>,
  options: EventSourcedRepository.Options,
  f: (repo: EventSourcedRepository.EventSourcedRepository<S, Ev>) => Effect.Effect<A, E, R>
) => Effect.scoped(Effect.flatMap(make(aggregate, options), f))

const saveAll = (
  repo: EventSourcedRepository.EventSourcedRepository<LedgerState, LedgerEvent>,
  id: string,
  batches: ReadonlyArray<ReadonlyArray<LedgerEvent>>,
  from = 0
) =>
  Effect.reduce(batches, () => from, (version, batch) =>
    Effect.map(repo.save(id, version, batch), (saved) => {
      assert.strictEqual(saved.version, version + batch.length)
      return saved.version
    }))

const snapshotOf = Effect.fnUntraced(function*(id: string, type = "Ledger") {
  const store = yield* SnapshotStore.SnapshotStore
  return yield* store.load(type, id)
})

const historyOf = Effect.fnUntraced(function*(id: string, type = "Ledger") {
  const store = yield* SnapshotStore.SnapshotStore
  return yield* store.list(type, id)
})

const putSnapshot = Effect.fnUntraced(function*(fields: {
  readonly id: string
  readonly version: number
  readonly state: unknown
  readonly schemaVersion?: number
  readonly metadata?: Record<string, unknown>
  readonly type?: string
}) {
  const store = yield* SnapshotStore.SnapshotStore
  yield* store.save(
    Snapshot.Snapshot.make({
      aggregateType: fields.type ?? "Ledger",
      aggregateId: fields.id,
      version: fields.version,
      state: fields.state,
      schemaVersion: fields.schemaVersion ?? 1,
      createdAt: DateTime.makeUnsafe(0),
      metadata: fields.metadata ?? {}
    })
  )
})

const counterValue = (metric: Metric.Counter<number>) => Effect.map(Metric.value(metric), (s) => s.count)

const skippedCount = (reason: AggregateNs.SkipReason, type = "Ledger") =>
  counterValue(SnapshotMetrics.forAggregateType(type).skipped(reason))

const deposit = (n: number, note = "") => Deposited.make({ amount: BigDecimal.fromNumberUnsafe(n), note })

export const deposits = (count: number, start = 1) =>
  Array.from({ length: count }, (_, i) => deposit(start + i, `#${start + i}`))

/** A stored (encoded) state in the key order of `encode`: jsonb does not keep the key order. */
const canonical = (stored: unknown): string => encode(Schema.decodeUnknownSync(LedgerStateJson)(stored))

/** The state's stored JSON form, as an object. */
const encodedState = (state: LedgerState) =>
  Schema.encodeSync(LedgerStateJson)(state) as { readonly [key: string]: unknown }

/** A store that fails the chosen operations, around the real one. */
const failing = (
  store: SnapshotStore.SnapshotStoreService,
  ops: { readonly save?: boolean; readonly load?: boolean }
): SnapshotStore.SnapshotStoreService => {
  const error = new SnapshotStore.SnapshotStoreError({ reason: "Unavailable", message: "injected failure" })
  return {
    ...store,
    save: ops.save ? () => Effect.fail(error) : store.save,
    saveIfDue: ops.save ? () => Effect.fail(error) : store.saveIfDue,
    load: ops.load ? () => Effect.fail(error) : store.load
  }
}

/**
 * Runs `effect` and counts the SQL statements it executed: each statement is one span of kind `client` (named
 * after the database, `effect/sql`'s `Statement.spanName`), one round trip.
 */
export const countStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const inner = yield* Effect.tracer
    let statements = 0
    const counting = Tracer.make({
      span: (options) => {
        if (options.kind === "client") statements++
        return inner.span(options)
      },
      context: inner.context
    })
    const result = yield* Effect.withTracer(effect, counting)
    return [result, statements] as const
  })

// -----------------------------------------------------------------------------------------------------------
// the suite
// -----------------------------------------------------------------------------------------------------------

export const repositorySuite = (it: Vitest.MethodsNonLive<Services>, options: SuiteOptions) => {
  it.effect.prop(
    "invariant 1: snapshot + tail equals a full replay, for random histories, batches and strategies",
    [
      history({ maxBatches: 12, maxBatch: 6 }),
      strategy,
      constantFrom<"inline" | "background">("inline", "background")
    ],
    ([batches, strategy, mode]) =>
      Effect.gen(function*() {
        const id = freshId("p")
        const all = batches.flat()
        // Writer: saves every batch; in the middle and at the end, fresh readers (no cache) load and compare.
        const checkpoint = Math.floor(batches.length / 2)
        yield* withRepository(Ledger, { strategy, mode }, (repo) =>
          Effect.gen(function*() {
            const middle = yield* saveAll(repo, id, batches.slice(0, checkpoint))
            yield* repo.flush
            if (middle > 0) {
              const loaded = yield* withRepository(Ledger, { strategy }, (reader) => reader.load(id))
              assert.strictEqual(loaded.version, middle)
              assert.strictEqual(encode(loaded.state), expected(id, batches.slice(0, checkpoint).flat()))
            }
            const end = yield* saveAll(repo, id, batches.slice(checkpoint), middle)
            assert.strictEqual(end, all.length)
            const own = yield* repo.load(id)
            assert.strictEqual(encode(own.state), expected(id, all))
          }))
        // The writer's scope is closed: background work is flushed.
        const loaded = yield* withRepository(Ledger, { strategy }, (reader) => reader.load(id))
        assert.strictEqual(loaded.version, all.length)
        assert.strictEqual(encode(loaded.state), expected(id, all))
        // Invariant 2: a snapshot is never above its stream, and the one used is where the load says.
        const snapshot = yield* snapshotOf(id)
        if (Option.isSome(snapshot)) {
          assert.isAtMost(snapshot.value.version, all.length)
          assert.deepStrictEqual(loaded.snapshotVersion, Option.some(snapshot.value.version))
          assert.strictEqual(loaded.replayed, all.length - snapshot.value.version)
          // Every stored snapshot is the fold of the committed events up to its version.
          const versions = (yield* historyOf(id)).map((info) => info.version)
          for (const version of versions) {
            const at = yield* Effect.flatMap(
              SnapshotStore.SnapshotStore,
              (store) => store.load("Ledger", id, { maxVersion: version })
            )
            assert.isTrue(Option.isSome(at))
            assert.strictEqual(canonical(Option.getOrThrow(at).state), expected(id, all.slice(0, version)))
          }
        } else {
          assert.strictEqual(loaded.replayed, all.length)
        }
      }),
    { arbitrary: { runs: options.propertyRuns }, timeout: 600_000 }
  )

  it.effect("invariant 5: a multi-event commit that crosses an every-N boundary is snapshotted at its version", () =>
    Effect.gen(function*() {
      const id = freshId()
      const sizes = [3, 4, 5, 1, 7, 10, 2, 9, 19]
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.everyNEvents(10) }, (repo) =>
        Effect.gen(function*() {
          let version = 0
          let start = 1
          for (const size of sizes) {
            const saved = yield* repo.save(id, version, deposits(size, start))
            const crossed = Math.floor(saved.version / 10) > Math.floor(version / 10)
            assert.strictEqual(saved.snapshot, crossed ? "written" : "none", `commit ${version} -> ${saved.version}`)
            const snapshot = yield* snapshotOf(id)
            if (crossed) assert.strictEqual(Option.getOrThrow(snapshot).version, saved.version)
            version = saved.version
            start += size
          }
        }))
      const versions = (yield* historyOf(id)).map((info) => info.version)
      // 3,7,12*,13,20*,30*,32,41*,60*
      assert.deepStrictEqual(versions, [12, 20, 30, 41, 60])
    }))

  it.effect("a commit crossing a boundary is snapshotted even when the writer has no cached state", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => saveAll(repo, id, [deposits(8)]))
      // A fresh repository with no cache: it must read the state back (snapshot + tail) to write the snapshot.
      const saved = yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.everyNEvents(10), cacheCapacity: 0 },
        (repo) => repo.save(id, 8, deposits(4, 9))
      )
      assert.strictEqual(saved.snapshot, "written")
      const snapshot = Option.getOrThrow(yield* snapshotOf(id))
      assert.strictEqual(snapshot.version, 12)
      assert.strictEqual(canonical(snapshot.state), expected(id, deposits(12)))
    }))

  it.effect("loads from the snapshot and replays only the tail", () =>
    Effect.gen(function*() {
      const id = freshId()
      const events = deposits(19)
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.everyNEvents(10) }, (repo) =>
        saveAll(repo, id, [events.slice(0, 7), events.slice(7, 14), events.slice(14)]))
      const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) =>
        repo.load(id))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.some(14))
      assert.strictEqual(loaded.replayed, 5)
      assert.strictEqual(loaded.version, 19)
      assert.strictEqual(encode(loaded.state), expected(id, events))
    }))

  it.effect("a tail longer than the first page read goes on to the end of the stream", () =>
    Effect.gen(function*() {
      const id = freshId()
      const events = deposits(2510)
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.everyNEvents(10) }, (repo) =>
        saveAll(repo, id, [events.slice(0, 10)]))
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) =>
        saveAll(repo, id, [events.slice(10)], 10))
      const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) =>
        repo.load(id))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.some(10))
      assert.strictEqual(loaded.replayed, 2500)
      assert.strictEqual(loaded.version, 2510)
      assert.strictEqual(encode(loaded.state), expected(id, events))
    }))

  it.effect("BigDecimal, Date and Option survive a snapshot round trip exactly", () =>
    Effect.gen(function*() {
      const id = freshId()
      const at = new Date("2024-02-29T23:59:59.123Z")
      const events: Array<LedgerEvent> = [
        Opened.make({ at }),
        Deposited.make({ amount: BigDecimal.fromStringUnsafe("12345678901234567890.123456789"), note: "big" }),
        Withdrawn.make({ amount: BigDecimal.fromStringUnsafe("0.10") }),
        Tagged.make({ tag: Option.some("vip") }),
        Tagged.make({ tag: Option.none() })
      ]
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.always }, (repo) => repo.save(id, 0, events))
      const stored = Option.getOrThrow(yield* snapshotOf(id))
      // What the store holds is JSON: the Schema-encoded state.
      assert.deepStrictEqual(stored.state, encodedState(Aggregate.fold(Ledger, initial(id), events)))
      const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.some(5))
      assert.strictEqual(loaded.replayed, 0)
      const state = loaded.state
      assert.isTrue(BigDecimal.isBigDecimal(state.balance))
      assert.isTrue(BigDecimal.equals(state.balance, BigDecimal.fromStringUnsafe("12345678901234567890.023456789")))
      assert.strictEqual(BigDecimal.format(state.balance), "12345678901234567890.023456789")
      assert.isTrue(Option.isSome(state.openedAt))
      const opened = Option.getOrThrow(state.openedAt)
      assert.instanceOf(opened, Date)
      assert.strictEqual(opened.getTime(), at.getTime())
      assert.deepStrictEqual(state.lastNote, Option.some("big"))
      assert.deepStrictEqual(state.tags, ["vip"])
      assert.strictEqual(encode(state), expected(id, events))
    }))

  it.effect("a snapshot above its stream is ignored, deleted and replaced", () =>
    Effect.gen(function*() {
      const id = freshId()
      const events = deposits(5)
      const before = yield* skippedCount("AboveStream")
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.save(id, 0, events))
      // E.g. the event store was restored from a backup older than the snapshot store.
      const ahead = Aggregate.fold(Ledger, initial(id), deposits(9))
      yield* putSnapshot({
        id,
        version: 9,
        state: encodedState(ahead),
        metadata: Aggregate.snapshotMetadata(Ledger, 9)
      })
      const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.strictEqual(loaded.version, 5)
      assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
      assert.strictEqual(loaded.replayed, 5)
      assert.strictEqual(encode(loaded.state), expected(id, events))
      assert.strictEqual((yield* skippedCount("AboveStream")) - before, 1)
      assert.deepStrictEqual((yield* historyOf(id)).map((s) => s.version), [5])
      const again = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.deepStrictEqual(again.snapshotVersion, Option.some(5))
    }))

  it.effect("a snapshot of another timeline of the stream (the event at its version differs) is not applied", () =>
    Effect.gen(function*() {
      const id = freshId()
      const events = deposits(6)
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.save(id, 0, events))
      // Same version, plausible state, but built from an event at another global position.
      yield* putSnapshot({
        id,
        version: 4,
        state: encodedState(Aggregate.fold(Ledger, initial(id), deposits(4, 100))),
        metadata: Aggregate.snapshotMetadata(Ledger, 999_999_999)
      })
      const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
      assert.strictEqual(encode(loaded.state), expected(id, events))
      const replaced = Option.getOrThrow(yield* snapshotOf(id))
      assert.strictEqual(replaced.version, 6)
      assert.strictEqual(canonical(replaced.state), expected(id, events))
    }))

  it.effect("a corrupt snapshot (state that does not decode) is replayed and replaced", () =>
    Effect.gen(function*() {
      const id = freshId()
      const events = deposits(4)
      const before = yield* skippedCount("DecodeFailure")
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.save(id, 0, events))
      yield* putSnapshot({ id, version: 4, state: { balance: 42, junk: [1, 2, 3] } })
      const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
      assert.strictEqual(loaded.replayed, 4)
      assert.strictEqual(encode(loaded.state), expected(id, events))
      assert.strictEqual((yield* skippedCount("DecodeFailure")) - before, 1)
      // Replaced at the same version: the corrupt one was deleted first.
      const replaced = Option.getOrThrow(yield* snapshotOf(id))
      assert.strictEqual(replaced.version, 4)
      assert.strictEqual(canonical(replaced.state), expected(id, events))
      assert.strictEqual(replaced.metadata[Aggregate.FingerprintKey], Ledger.fingerprint)
      const again = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.deepStrictEqual(again.snapshotVersion, Option.some(4))
      assert.strictEqual(again.replayed, 0)
    }))

  it.effect("a snapshot whose state Schema fingerprint is stale is replayed and replaced, even if it decodes", () =>
    Effect.gen(function*() {
      const id = freshId()
      const events = deposits(7)
      const before = yield* skippedCount("StaleFingerprint")
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.save(id, 0, events))
      // The shape changed and nobody bumped schemaVersion: the recorded fingerprint differs.
      yield* putSnapshot({
        id,
        version: 5,
        state: encodedState(Aggregate.fold(Ledger, initial(id), deposits(5))),
        metadata: { ...Aggregate.snapshotMetadata(Ledger, 5), [Aggregate.FingerprintKey]: "0123456789abcdef" }
      })
      const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
      assert.strictEqual(loaded.replayed, 7)
      assert.strictEqual(encode(loaded.state), expected(id, events))
      assert.strictEqual((yield* skippedCount("StaleFingerprint")) - before, 1)
      const replaced = Option.getOrThrow(yield* snapshotOf(id))
      assert.strictEqual(replaced.version, 7)
      assert.strictEqual(replaced.metadata[Aggregate.FingerprintKey], Ledger.fingerprint)
    }))

  it.effect("an old snapshot is migrated (1 -> 2 -> 3), used, and re-saved at the current schema version", () =>
    Effect.gen(function*() {
      const id = freshId()
      const type = "MigratedLedger"
      const events = deposits(6)
      // v1 stored { balance: number-as-string, count }, v2 renamed count -> entries; v3 is today's Ledger state.
      const LedgerV3 = Aggregate.make({
        ...Ledger,
        type,
        schemaVersion: 3,
        migrations: {
          1: (v1) => {
            const { count, ...rest } = v1 as { count: number }
            return { ...rest, entries: count }
          },
          2: (v2) => ({ ...(v2 as object), tags: [] })
        }
      })
      const before = yield* counterValue(SnapshotMetrics.forAggregateType(type).hits)
      yield* withRepository(LedgerV3, { strategy: SnapshotStrategy.never }, (repo) => repo.save(id, 0, events))
      const at4 = encodedState(Aggregate.fold(Ledger, initial(id), events.slice(0, 4)))
      const { entries, tags: _, ...v1 } = at4
      const position = (yield* Stream.runCollect(
        Effect.flatMap(EventStore.EventStore, (store) => Effect.succeed(store.read(type, id, { fromVersion: 4 })))
          .pipe(Stream.unwrap)
      ))[0]!.position
      yield* putSnapshot({ id, type, version: 4, schemaVersion: 1, state: { ...v1, count: entries } })
      const loaded = yield* withRepository(LedgerV3, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.some(4))
      assert.strictEqual(loaded.replayed, 2)
      assert.strictEqual(encode(loaded.state), expected(id, events))
      assert.strictEqual((yield* counterValue(SnapshotMetrics.forAggregateType(type).hits)) - before, 1)
      // Re-saved: the newest snapshot is at schema version 3, with today's fingerprint, at the loaded version.
      const resaved = Option.getOrThrow(yield* snapshotOf(id, type))
      assert.strictEqual(resaved.schemaVersion, 3)
      assert.strictEqual(resaved.version, 6)
      assert.strictEqual(resaved.metadata[Aggregate.FingerprintKey], LedgerV3.fingerprint)
      assert.strictEqual(canonical(resaved.state), expected(id, events))
      assert.isNumber(position)
    }))

  it.effect("a snapshot with no migration path, or from a newer schema version, is skipped: replay", () =>
    Effect.gen(function*() {
      const type = "GappyLedger"
      const LedgerV3 = Aggregate.make({ ...Ledger, type, schemaVersion: 3, migrations: { 2: (v2) => v2 } })
      const before = yield* skippedCount("NoMigration", type)
      for (const schemaVersion of [1, 4]) {
        const id = freshId()
        const events = deposits(3)
        yield* withRepository(LedgerV3, { strategy: SnapshotStrategy.never }, (repo) => repo.save(id, 0, events))
        yield* putSnapshot({ id, type, version: 3, schemaVersion, state: encodedState(initial("garbage")) })
        const loaded = yield* withRepository(LedgerV3, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
        assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
        assert.strictEqual(encode(loaded.state), expected(id, events))
        const replaced = Option.getOrThrow(yield* snapshotOf(id, type))
        assert.strictEqual(replaced.schemaVersion, 3)
      }
      assert.strictEqual((yield* skippedCount("NoMigration", type)) - before, 2)
    }))

  it.effect("a migration that throws is a skipped snapshot, not a crash", () =>
    Effect.gen(function*() {
      const type = "ThrowingLedger"
      const id = freshId()
      const LedgerV2 = Aggregate.make({
        ...Ledger,
        type,
        schemaVersion: 2,
        migrations: {
          1: () => {
            throw new Error("boom")
          }
        }
      })
      yield* withRepository(LedgerV2, { strategy: SnapshotStrategy.never }, (repo) => repo.save(id, 0, deposits(2)))
      yield* putSnapshot({ id, type, version: 2, schemaVersion: 1, state: {} })
      const loaded = yield* withRepository(LedgerV2, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
      assert.strictEqual(encode(loaded.state), expected(id, deposits(2)))
      assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
    }))

  it.effect("AggregateNotFound for a stream without events; update starts such a stream from the initial state", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.always }, (repo) =>
        Effect.gen(function*() {
          const missing = yield* Effect.flip(repo.load(id))
          assert.strictEqual(missing._tag, "AggregateNotFound")
          assert.include(missing.message, id)
          const updated = yield* repo.update(id, (state, version) => {
            assert.strictEqual(version, 0)
            assert.deepStrictEqual(state, initial(id))
            return Effect.succeed([deposit(5)])
          })
          assert.strictEqual(updated.version, 1)
          assert.strictEqual(encode(updated.state), expected(id, [deposit(5)]))
          const nothing = yield* repo.update(id, () => Effect.succeed([]))
          assert.strictEqual(nothing.version, 1)
          assert.strictEqual(nothing.snapshot, "none")
        }))
    }))

  it.effect("an event that does not decode is a typed EventDecodeError (the stream is corrupt), not a replay", () =>
    Effect.gen(function*() {
      const id = freshId()
      const store = yield* EventStore.EventStore
      yield* store.append("Ledger", id, 0, [
        { type: "Deposited", payload: { _tag: "Deposited", amount: "1", note: "" } },
        { type: "Deposited", payload: { _tag: "Deposited", amount: "not a number", note: "" } }
      ])
      const error = yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.never },
        (repo) => Effect.flip(repo.load(id))
      )
      assert.strictEqual(error._tag, "EventDecodeError")
      if (error._tag === "EventDecodeError") {
        assert.strictEqual(error.version, 2)
        assert.strictEqual(error.eventType, "Deposited")
      }
    }))

  it.effect("save with an event that does not encode fails with EventEncodeError and writes nothing", () =>
    Effect.gen(function*() {
      const id = freshId()
      const bad = { _tag: "Deposited", amount: 3, note: "x" } as unknown as LedgerEvent
      const error = yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.always },
        (repo) => Effect.flip(repo.save(id, 0, [deposit(1), bad]))
      )
      assert.strictEqual(error._tag, "EventEncodeError")
      if (error._tag === "EventEncodeError") assert.strictEqual(error.index, 1)
      const version = yield* Effect.flatMap(EventStore.EventStore, (store) => store.version("Ledger", id))
      assert.strictEqual(version, 0)
    }))

  it.effect("save fails with the typed ConcurrencyConflict when the stream moved", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.always }, (repo) =>
        Effect.gen(function*() {
          yield* repo.save(id, 0, deposits(2))
          const conflict = yield* Effect.flip(repo.save(id, 1, deposits(1)))
          assert.strictEqual(conflict._tag, "ConcurrencyConflict")
          if (conflict._tag === "ConcurrencyConflict") {
            assert.strictEqual(conflict.expectedVersion, 1)
            assert.strictEqual(conflict.actualVersion, 2)
          }
        }))
    }))

  it.effect("update retries a conflict with a fresh state, and gives up with the conflict when told to", () =>
    Effect.gen(function*() {
      const id = freshId()
      const store = yield* EventStore.EventStore
      yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.never, retry: Schedule.recurs(3) },
        (repo) =>
          Effect.gen(function*() {
            yield* repo.save(id, 0, deposits(1))
            let calls = 0
            // The first decision races with another writer.
            const updated = yield* repo.update(id, (state, version) =>
              Effect.gen(function*() {
                calls++
                if (calls === 1) {
                  yield* store.append("Ledger", id, version, [
                    {
                      type: "Deposited",
                      payload: Schema.encodeSync(Schema.toCodecJson(Deposited))(deposit(100, "other"))
                    }
                  ])
                }
                return [deposit(Number(BigDecimal.format(state.balance)), "double")]
              }))
            assert.strictEqual(calls, 2)
            assert.strictEqual(updated.version, 3)
            assert.strictEqual(BigDecimal.format(updated.state.balance), "202")
          })
      )
      const conflict = yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.never, retry: Schedule.recurs(0) },
        (repo) =>
          Effect.flip(repo.update(id, (_, version) =>
            Effect.as(
              store.append("Ledger", id, version, [
                { type: "Deposited", payload: Schema.encodeSync(Schema.toCodecJson(Deposited))(deposit(1)) }
              ]),
              [deposit(1)]
            )))
      )
      assert.strictEqual(conflict._tag, "ConcurrencyConflict")
    }))

  it.effect("a failing SnapshotStore never fails a command: inline and background, save and load", () =>
    Effect.gen(function*() {
      const real = yield* SnapshotStore.SnapshotStore
      const metrics = SnapshotMetrics.forAggregateType("Ledger")
      for (const mode of ["inline", "background"] as const) {
        const before = yield* counterValue(metrics.failures)
        const id = freshId()
        const events = deposits(12)
        yield* withRepository(
          Ledger,
          { strategy: SnapshotStrategy.everyNEvents(2), mode },
          (repo) =>
            Effect.gen(function*() {
              let version = 0
              for (const batch of [events.slice(0, 3), events.slice(3, 8), events.slice(8)]) {
                const saved = yield* repo.save(id, version, batch)
                assert.strictEqual(saved.snapshot, mode === "inline" ? "failed" : "queued")
                version = saved.version
              }
              yield* repo.flush
              const loaded = yield* repo.load(id)
              assert.strictEqual(encode(loaded.state), expected(id, events))
              assert.deepStrictEqual(loaded.snapshotVersion, Option.none())
            })
        ).pipe(Effect.provideService(SnapshotStore.SnapshotStore, failing(real, { save: true, load: true })))
        assert.isTrue(Option.isNone(yield* snapshotOf(id)))
        // Every failed write is counted: one per commit inline; in the background, requests for the same
        // aggregate waiting together are merged into one write of the newest state.
        const failures = (yield* counterValue(metrics.failures)) - before
        if (mode === "inline") assert.strictEqual(failures, 3)
        else assert.isTrue(failures >= 1 && failures <= 3, `${failures}`)
      }
    }))

  it.effect("background mode: pending snapshots are written when the scope closes; full queue drops, never blocks", () =>
    Effect.gen(function*() {
      const metrics = SnapshotMetrics.forAggregateType("Ledger")
      const id = freshId()
      const events = deposits(30)
      const scope = yield* Scope.make()
      const repo = yield* make(Ledger, { strategy: SnapshotStrategy.always, mode: "background" }).pipe(
        Scope.provide(scope)
      )
      yield* saveAll(repo, id, [events.slice(0, 10), events.slice(10, 20), events.slice(20)])
      yield* Scope.close(scope, Exit.void)
      const snapshot = Option.getOrThrow(yield* snapshotOf(id))
      assert.strictEqual(snapshot.version, 30)
      assert.strictEqual(canonical(snapshot.state), expected(id, events))

      // A repository used after its scope closed still commits; the snapshot request is dropped.
      const late = yield* Effect.scoped(make(Ledger, { strategy: SnapshotStrategy.always, mode: "background" }))
      const lateId = freshId()
      const saved = yield* late.save(lateId, 0, deposits(2))
      assert.strictEqual(saved.snapshot, "dropped")
      assert.strictEqual((yield* late.load(lateId)).version, 2)

      // Closing right after the last request, again and again: the last request is never lost, whatever the
      // writer was doing (waiting, or just woken).
      for (let round = 0; round < 20; round++) {
        const rid = freshId("r")
        yield* withRepository(
          Ledger,
          { strategy: SnapshotStrategy.always, mode: "background" },
          (repo) => saveAll(repo, rid, Array.from({ length: 1 + (round % 4) }, (_, i) => [deposit(i + 1)]))
        )
        assert.strictEqual(Option.getOrThrow(yield* snapshotOf(rid)).version, 1 + (round % 4), `round ${round}`)
      }

      // A writer that is stuck: the queue (capacity 2) fills, and further requests are dropped.
      const real = yield* SnapshotStore.SnapshotStore
      const gate = yield* Deferred.make<void>()
      const stuck: SnapshotStore.SnapshotStoreService = {
        ...real,
        save: (s) => Effect.andThen(Deferred.await(gate), real.save(s)),
        saveIfDue: (s, options) => Effect.andThen(Deferred.await(gate), real.saveIfDue(s, options))
      }
      const before = yield* counterValue(metrics.drops)
      const ids = Array.from({ length: 6 }, () => freshId("q"))
      const outcomes = yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.always, mode: "background", queueCapacity: 2 },
        (repo) =>
          Effect.gen(function*() {
            const outcomes: Array<EventSourcedRepository.SnapshotOutcome> = []
            for (const id of ids) {
              outcomes.push((yield* repo.save(id, 0, deposits(1))).snapshot)
              yield* Effect.yieldNow
            }
            yield* Deferred.succeed(gate, undefined)
            return outcomes
          })
      ).pipe(Effect.provideService(SnapshotStore.SnapshotStore, stuck))
      const dropped = outcomes.filter((o) => o === "dropped").length
      assert.isAtLeast(dropped, 1)
      assert.strictEqual((yield* counterValue(metrics.drops)) - before, dropped)
      // Everything accepted was written by the time the scope closed.
      for (let i = 0; i < ids.length; i++) {
        assert.strictEqual(Option.isSome(yield* snapshotOf(ids[i]!)), outcomes[i] === "queued", `${i}`)
      }
    }))

  it.effect("background mode never snapshots one aggregate on two fibers at once", () =>
    Effect.gen(function*() {
      const real = yield* SnapshotStore.SnapshotStore
      const inFlight = yield* Ref.make(0)
      const maxInFlight = yield* Ref.make(0)
      const tracked = <A>(write: Effect.Effect<A, SnapshotStore.SnapshotStoreError>) =>
        Effect.gen(function*() {
          const n = yield* Ref.updateAndGet(inFlight, (n) => n + 1)
          yield* Ref.update(maxInFlight, (m) => Math.max(m, n))
          for (let i = 0; i < 5; i++) yield* Effect.yieldNow
          const result = yield* write
          yield* Ref.update(inFlight, (n) => n - 1)
          return result
        })
      const tracking: SnapshotStore.SnapshotStoreService = {
        ...real,
        save: (s) => tracked(real.save(s)),
        saveIfDue: (s, options) => tracked(real.saveIfDue(s, options))
      }
      const id = freshId()
      const events = deposits(40)
      yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.always, mode: "background", backgroundConcurrency: 8 },
        (repo) =>
          Effect.gen(function*() {
            for (let i = 0; i < 40; i++) {
              yield* repo.save(id, i, [events[i]!])
              if (i % 3 === 0) yield* Effect.yieldNow
            }
            yield* repo.flush
          })
      ).pipe(Effect.provideService(SnapshotStore.SnapshotStore, tracking))
      assert.strictEqual(yield* Ref.get(maxInFlight), 1)
      const snapshot = Option.getOrThrow(yield* snapshotOf(id))
      assert.strictEqual(snapshot.version, 40)
      assert.strictEqual(canonical(snapshot.state), expected(id, events))
    }))

  it.effect("the fallback budget bounds concurrent full replays", () =>
    Effect.gen(function*() {
      const real = yield* EventStore.EventStore
      const ids = Array.from({ length: 10 }, () => freshId("f"))
      yield* Effect.forEach(ids, (id) =>
        real.append("Ledger", id, 0, [{
          type: "Deposited",
          payload: Schema.encodeSync(Schema.toCodecJson(Deposited))(deposit(1))
        }]))
      const active = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const gate = yield* Deferred.make<void>()
      const reachedBudget = yield* Deferred.make<void>()
      const slow: EventStore.EventStoreService = {
        ...real,
        read: (type, id, options) =>
          Stream.unwrap(
            Effect.gen(function*() {
              const n = yield* Ref.updateAndGet(active, (n) => n + 1)
              yield* Ref.update(peak, (m) => Math.max(m, n))
              if (n === 3) yield* Deferred.succeed(reachedBudget, undefined)
              yield* Effect.addFinalizer(() => Ref.update(active, (n) => n - 1))
              yield* Deferred.await(gate)
              return real.read(type, id, options)
            })
          )
      }
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never, fallbackConcurrency: 3 }, (repo) =>
        Effect.gen(function*() {
          const loads = yield* Effect.forkChild(Effect.forEach(ids, (id) =>
            repo.load(id), { concurrency: "unbounded" }))
          yield* Deferred.await(reachedBudget)
          for (let i = 0; i < 20; i++) {
            yield* Effect.yieldNow
          }
          assert.strictEqual(yield* Ref.get(active), 3)
          yield* Deferred.succeed(gate, undefined)
          const loaded = yield* Fiber.join(loads)
          assert.strictEqual(loaded.length, 10)
        })).pipe(Effect.provideService(EventStore.EventStore, slow))
      assert.strictEqual(yield* Ref.get(peak), 3)
    }))

  it.effect("verify compares snapshot + tail with a full replay", () =>
    Effect.gen(function*() {
      const id = freshId()
      const events = deposits(9)
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.everyNEvents(4) }, (repo) =>
        Effect.gen(function*() {
          yield* saveAll(repo, id, [events.slice(0, 5), events.slice(5)])
          const verified = yield* repo.verify(id)
          assert.isTrue(verified.consistent)
          assert.deepStrictEqual(verified.snapshotVersion, Option.some(9))
        }))
    }))

  it.effect("strategy context: last snapshot and the last load's replay reach the decision; no re-trigger", () =>
    Effect.gen(function*() {
      const id = freshId()
      yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => saveAll(repo, id, [deposits(8)]))
      yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.replayedAtLeast(5) },
        (repo) =>
          Effect.gen(function*() {
            const loaded = yield* repo.load(id)
            assert.strictEqual(loaded.replayed, 8)
            const first = yield* repo.save(id, 8, deposits(1, 9))
            assert.strictEqual(first.snapshot, "written")
            // The snapshot answered the slow load: the next commit does not snapshot again.
            const second = yield* repo.save(id, 9, deposits(1, 10))
            assert.strictEqual(second.snapshot, "none")
          })
      )
      yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.eventsSinceSnapshot(3) },
        (repo) =>
          Effect.gen(function*() {
            const loaded = yield* repo.load(id)
            assert.deepStrictEqual(loaded.snapshotVersion, Option.some(9))
            assert.strictEqual((yield* repo.save(id, 10, deposits(1, 11))).snapshot, "none")
            assert.strictEqual((yield* repo.save(id, 11, deposits(1, 12))).snapshot, "written")
            assert.strictEqual((yield* repo.save(id, 12, deposits(1, 13))).snapshot, "none")
          })
      )
    }))

  it.effect("two instances with their own caches: a cached state is used only once the stream proves it current", () =>
    Effect.gen(function*() {
      const id = freshId("two")
      const events = deposits(9)
      yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* make(Ledger, { strategy: SnapshotStrategy.never })
        const b = yield* make(Ledger, { strategy: SnapshotStrategy.never })
        yield* a.save(id, 0, events.slice(0, 3))
        assert.strictEqual((yield* b.load(id)).source, "replay")
        // A writes on; B's cached state (version 3) is a prefix of the stream: proven, and the tail folded onto it.
        yield* a.save(id, 3, events.slice(3, 5))
        const hot = yield* b.load(id)
        assert.strictEqual(hot.source, "cache")
        assert.strictEqual(hot.version, 5)
        assert.strictEqual(hot.replayed, 2)
        assert.strictEqual(encode(hot.state), expected(id, events.slice(0, 5)))
        // B saves on top: the append's previous position proves B's state at 5; A's cache (at 5) is then stale,
        // and A's next load folds B's events onto it.
        yield* b.save(id, 5, events.slice(5, 7))
        const fromA = yield* a.load(id)
        assert.strictEqual(fromA.source, "cache")
        assert.strictEqual(fromA.version, 7)
        assert.strictEqual(encode(fromA.state), expected(id, events.slice(0, 7)))
        // A saves without loading first while its cache is behind (B wrote): a conflict, nothing folded.
        yield* b.save(id, 7, events.slice(7, 8))
        const conflict = yield* Effect.flip(a.save(id, 7, events.slice(8)))
        assert.strictEqual(conflict._tag, "ConcurrencyConflict")
        assert.strictEqual(encode((yield* a.load(id)).state), expected(id, events.slice(0, 8)))
      }))
    }))

  it.effect("the proof fails when the event at the cached version is not the one the state was built from", () =>
    Effect.gen(function*() {
      const id = freshId("timeline")
      const real = yield* EventStore.EventStore
      // Another timeline of the stream (a restore from a backup, a stream rewritten by another instance): the same
      // versions at other global positions.
      let shift = 0
      const moved = (e: EventStore.StoredEvent): EventStore.StoredEvent =>
        shift === 0 ? e : { ...e, position: e.position + shift }
      const timelines: EventStore.EventStoreService = {
        ...real,
        readPage: (type, aid, options) => Effect.map(real.readPage(type, aid, options), (rows) => rows.map(moved)),
        read: (type, aid, options) => Stream.map(real.read(type, aid, options), moved)
      }
      yield* Effect.scoped(
        Effect.gen(function*() {
          const repo = yield* make(Ledger, { strategy: SnapshotStrategy.never })
          yield* repo.save(id, 0, deposits(4))
          assert.strictEqual((yield* repo.load(id)).source, "cache")
          shift = 1_000_000
          const loaded = yield* repo.load(id)
          assert.strictEqual(loaded.source, "replay") // the cached state was dropped, the stream replayed
          assert.strictEqual(encode(loaded.state), expected(id, deposits(4)))
          assert.strictEqual((yield* repo.load(id)).source, "cache") // cached again, at the new timeline's position
        }).pipe(Effect.provideService(EventStore.EventStore, timelines))
      )
    }))

  for (const mode of ["inline", "background"] as const) {
    it.effect(`${mode}: two instances alternating saves snapshot as often as the strategy says, not more`, () =>
      Effect.gen(function*() {
        const id = freshId("alt")
        const events = deposits(100)
        yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* make(Ledger, { strategy: SnapshotStrategy.eventsSinceSnapshot(10), mode })
          const b = yield* make(Ledger, { strategy: SnapshotStrategy.eventsSinceSnapshot(10), mode })
          for (let version = 0; version < 100; version++) {
            const repo = version % 2 === 0 ? a : b
            yield* repo.save(id, version, [events[version]!])
            // Each background writer has decided (on what its load saw) before the other instance saves: two
            // writers deciding at the same moment can both write, a race the reliability suite measures.
            yield* repo.flush
          }
        }))
        const versions = (yield* historyOf(id)).map((info) => info.version)
        for (let i = 1; i < versions.length; i++) assert.isAtLeast(versions[i]! - versions[i - 1]!, 10, `${versions}`)
        assert.deepStrictEqual(versions, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        for (const version of versions) {
          const at = Option.getOrThrow(
            yield* Effect.flatMap(
              SnapshotStore.SnapshotStore,
              (store) => store.load("Ledger", id, { maxVersion: version })
            )
          )
          assert.strictEqual(canonical(at.state), expected(id, events.slice(0, version)))
        }
      }))
  }

  it.effect("load(\"\") fails with the event store's InvalidInput, and no snapshot is reported skipped", () =>
    Effect.gen(function*() {
      const before = yield* skippedCount("Unavailable")
      const error = yield* withRepository(
        Ledger,
        { strategy: SnapshotStrategy.never },
        (repo) => Effect.flip(repo.load(""))
      )
      assert.strictEqual(error._tag, "EventStoreError")
      if (error._tag === "EventStoreError") assert.strictEqual(error.reason, "InvalidInput")
      assert.strictEqual((yield* skippedCount("Unavailable")) - before, 0)
    }))

  it.effect("a version gap in the stream is StreamCorrupt, not an EventDecodeError", () =>
    Effect.gen(function*() {
      const id = freshId("gap")
      const real = yield* EventStore.EventStore
      yield* real.append(
        "Ledger",
        id,
        0,
        deposits(4).map((d) => ({ type: "Deposited", payload: Schema.encodeSync(Schema.toCodecJson(Deposited))(d) }))
      )
      // The store answers the stream without its version 2.
      const gappy: EventStore.EventStoreService = {
        ...real,
        read: (type, aid, options) => Stream.filter(real.read(type, aid, options), (e) => e.version !== 2),
        readPage: (type, aid, options) =>
          Effect.map(real.readPage(type, aid, options), (rows) => rows.filter((e) => e.version !== 2))
      }
      const error = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) =>
        Effect.flip(repo.load(id))).pipe(Effect.provideService(EventStore.EventStore, gappy))
      assert.strictEqual(error._tag, "StreamCorrupt")
      if (error._tag === "StreamCorrupt") {
        assert.strictEqual(error.expectedVersion, 2)
        assert.strictEqual(error.actualVersion, 3)
      }
    }))

  it.effect("event upcasters: old payloads are upgraded on read; new events record their version", () =>
    Effect.gen(function*() {
      const type = "UpcastLedger"
      const id = freshId()
      // v1 Deposited: { cents: number }; v2: { amount: string, note? }; v3 (today): { amount, note }.
      const Upcast = Aggregate.make({
        ...Ledger,
        type,
        upcasters: {
          Deposited: [
            (p) => {
              const { cents, ...rest } = p as { cents: number }
              return { ...rest, amount: BigDecimal.format(BigDecimal.make(BigInt(cents), 2)) }
            },
            (p) => ({ note: "", ...(p as object) })
          ]
        }
      })
      const store = yield* EventStore.EventStore
      yield* store.append(type, id, 0, [
        { type: "Deposited", payload: { _tag: "Deposited", cents: 1234 } },
        { type: "Deposited", payload: { _tag: "Deposited", amount: "1" }, metadata: { [Aggregate.EventVersionKey]: 2 } }
      ])
      yield* withRepository(Upcast, { strategy: SnapshotStrategy.never }, (repo) =>
        Effect.gen(function*() {
          yield* repo.save(id, 2, [deposit(3, "new")])
          const loaded = yield* repo.load(id)
          assert.strictEqual(BigDecimal.format(loaded.state.balance), "16.34")
          assert.strictEqual(loaded.state.entries, 3)
        }))
      const stored = yield* Stream.runCollect(store.read(type, id, { fromVersion: 3 }))
      assert.strictEqual(stored[0]!.metadata[Aggregate.EventVersionKey], 3)
    }))

  it.effect("projection rebuilt from a snapshot handles only the events after it; runAll from a position", () =>
    Effect.gen(function*() {
      // A type of its own: runAll reads every stream of the type in the shared store.
      const Projected = Aggregate.make({ ...Ledger, type: "ProjectedLedger" })
      const id = freshId()
      const other = freshId()
      const events = deposits(13)
      yield* withRepository(
        Projected,
        { strategy: SnapshotStrategy.everyNEvents(5) },
        (repo) =>
          Effect.gen(function*() {
            yield* saveAll(repo, id, [events.slice(0, 6), events.slice(6, 11), events.slice(11)])
            yield* repo.save(other, 0, deposits(2))
          })
      )
      const log: Array<string> = []
      const rebuilt = yield* Projection.rebuild(Projected, id, {
        applySnapshot: (_, state, version) =>
          Effect.sync(() => log.push(`snapshot@${version}:${BigDecimal.format(state.balance)}`)),
        handle: (env) => Effect.sync(() => log.push(`${env.version}:${env.event._tag}`))
      })
      assert.deepStrictEqual(rebuilt.snapshotVersion, Option.some(11))
      assert.strictEqual(rebuilt.handled, 2)
      assert.strictEqual(rebuilt.version, 13)
      assert.deepStrictEqual(log, ["snapshot@11:66", "12:Deposited", "13:Deposited"])

      // Without a usable snapshot: the initial state at version 0, then every event.
      const fresh: Array<number> = []
      const none = yield* Projection.rebuild(Projected, other, {
        applySnapshot: (_, __, version) => Effect.sync(() => fresh.push(version)),
        handle: (env) => Effect.sync(() => fresh.push(env.version))
      })
      assert.deepStrictEqual(none.snapshotVersion, Option.none())
      assert.deepStrictEqual(fresh, [0, 1, 2])

      // Global order, resumable from a position. On a shared server readAll shows a commit only once every
      // transaction that started before it has ended (so a projection never skips one): another test file's open
      // transaction can hold our events back for a moment, so read again until they show (or 30 s pass).
      const runAll = Effect.gen(function*() {
        const seen: Array<string> = []
        const first = yield* Projection.runAll(Projected, (env) =>
          Effect.sync(() => {
            if (env.aggregateId === id || env.aggregateId === other) seen.push(`${env.aggregateId}@${env.version}`)
          }))
        return { seen, first }
      })
      const deadline = Date.now() + 30_000
      let { first, seen } = yield* runAll
      while (seen.length < 15 && Date.now() < deadline) {
        yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))
        ;({ first, seen } = yield* runAll)
      }
      assert.strictEqual(seen.length, 15)
      assert.deepStrictEqual(seen.slice(0, 13), events.map((_, i) => `${id}@${i + 1}`))
      const rest = yield* Projection.runAll(Projected, () => Effect.void, { fromPosition: first.position })
      assert.strictEqual(rest.handled, 0)
    }))

  it.effect("concurrent updates from many fibers on one aggregate: nothing lost or duplicated", () =>
    concurrentUpdates(8, 6).pipe(Effect.asVoid))

  if (options.multiConnection) {
    it.effect(
      "concurrent updates from many fibers over real connections (Postgres)",
      () => concurrentUpdates(16, 10).pipe(Effect.asVoid),
      120_000
    )
  }
}

/** `fibers` fibers each run `perFiber` updates (1-3 events each) on one aggregate; then everything is checked. */
const concurrentUpdates = (fibers: number, perFiber: number) =>
  Effect.gen(function*() {
    const id = freshId("c")
    yield* withRepository(
      Ledger,
      { strategy: SnapshotStrategy.everyNEvents(7), retry: Schedule.recurs(10_000) },
      (repo) =>
        Effect.forEach(
          Array.from({ length: fibers }, (_, f) => f),
          (f) =>
            Effect.forEach(Array.from({ length: perFiber }, (_, k) => k), (k) =>
              repo.update(id, () =>
                Effect.succeed(
                  Array.from({ length: 1 + ((f + k) % 3) }, (_, j) => deposit(1 + j, `f${f}-k${k}-j${j}`))
                )), { discard: true }),
          { concurrency: "unbounded", discard: true }
        )
    )
    const store = yield* EventStore.EventStore
    const stored = yield* Stream.runCollect(store.read("Ledger", id))
    const total = Array.from(
      { length: fibers },
      (_, f) => Array.from({ length: perFiber }, (_, k) => 1 + ((f + k) % 3))
    )
      .flat().reduce((a, b) => a + b, 0)
    assert.strictEqual(stored.length, total)
    stored.forEach((e, i) => assert.strictEqual(e.version, i + 1))
    const notes = stored.map((e) => (e.payload as { note: string }).note)
    assert.strictEqual(new Set(notes).size, total)
    // Every committed update's events are contiguous (one batch per update).
    for (let f = 0; f < fibers; f++) {
      for (let k = 0; k < perFiber; k++) {
        const i = notes.indexOf(`f${f}-k${k}-j0`)
        assert.isAtLeast(i, 0)
        for (let j = 1; j < 1 + ((f + k) % 3); j++) assert.strictEqual(notes[i + j], `f${f}-k${k}-j${j}`)
      }
    }
    // Snapshots: versions strictly increasing, never above the stream, each the fold of its prefix.
    const decoded = stored.map((e) => Result.getOrThrow(Aggregate.decodeEvent(Ledger, e)))
    const versions = (yield* historyOf(id)).map((info) => info.version)
    assert.isAbove(versions.length, 0)
    for (let i = 1; i < versions.length; i++) assert.isAbove(versions[i]!, versions[i - 1]!)
    const snapshots = yield* SnapshotStore.SnapshotStore
    for (const version of versions) {
      assert.isAtMost(version, total)
      const at = Option.getOrThrow(yield* snapshots.load("Ledger", id, { maxVersion: version }))
      assert.strictEqual(canonical(at.state), expected(id, decoded.slice(0, version)))
    }
    const loaded = yield* withRepository(Ledger, { strategy: SnapshotStrategy.never }, (repo) => repo.load(id))
    assert.strictEqual(encode(loaded.state), expected(id, decoded))
    return total
  })
