/**
 * The SnapshotStore contract: one suite, registered for every backend and decorator stack.
 *
 * Usage: `layer(storeLayer)("memory", (it) => contract(it, { ... }))`, or `it.layer(storeLayer)(...)` inside
 * a block that provides the store's dependencies. The tests of one block share one store, so every test
 * works on aggregate types of its own.
 */
import { Snapshot, SnapshotStore, Storable } from "@effect-snapshots/store"
import type { Vitest } from "@effect/vitest"
import { assert } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { isDeepStrictEqual } from "node:util"

export interface ContractOptions {
  /** Run the 20 MB state case (only where it is meaningful and affordable). */
  readonly large?: boolean
  /** How many aggregates the streaming test writes; more than one page of the backend. */
  readonly manyKeys?: number
}

let typeCounter = 0
/** A fresh aggregate type, so the tests of a shared store do not see each other's snapshots. */
export const freshType = (label: string): string =>
  `${label}-${++typeCounter}-${Math.random().toString(36).slice(2, 7)}`

const DAY = 24 * 60 * 60 * 1000

export const make = (fields: {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly version: number
  readonly state?: unknown
  readonly schemaVersion?: number
  readonly createdAt?: number
  readonly metadata?: Record<string, unknown>
}): Snapshot.Snapshot =>
  new Snapshot.Snapshot({
    aggregateType: fields.aggregateType,
    aggregateId: fields.aggregateId,
    version: fields.version,
    schemaVersion: fields.schemaVersion ?? 1,
    createdAt: DateTime.makeUnsafe(
      fields.createdAt ?? Date.UTC(2025, 0, 1) + (Number.isFinite(fields.version) ? fields.version : 0)
    ),
    metadata: fields.metadata ?? {},
    // `in`: a state of `undefined` must stay undefined (bad-input cases).
    state: "state" in fields ? fields.state : { version: fields.version }
  }, { disableChecks: true }) // no checks: bad-input cases must reach the store

export const assertSameSnapshot = (actual: Snapshot.Snapshot, expected: Snapshot.Snapshot) => {
  assert.instanceOf(actual, Snapshot.Snapshot)
  assert.strictEqual(actual.aggregateType, expected.aggregateType)
  assert.strictEqual(actual.aggregateId, expected.aggregateId)
  assert.strictEqual(actual.version, expected.version)
  assert.strictEqual(actual.schemaVersion, expected.schemaVersion)
  assert.strictEqual(DateTime.toEpochMillis(actual.createdAt), DateTime.toEpochMillis(expected.createdAt))
  assert.deepStrictEqual(actual.metadata, expected.metadata)
  assert.isTrue(isDeepStrictEqual(actual.state, expected.state), "state differs")
}

/** `{ n: { n: … leaf } }`, `depth` levels of objects. */
const nested = (depth: number, leaf: unknown = 0): unknown => {
  let value: unknown = leaf
  for (let i = 0; i < depth; i++) value = { n: value }
  return value
}

const between = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/** 1 to 4 aggregates, each 1 to 7 snapshots (versions 1..60, created 0..200 hours ago). */
const PruneHistories = Schema.Array(
  Schema.Array(Schema.Struct({ version: between(1, 60), ageHours: between(0, 200) })).check(
    Schema.isBetweenLength(1, 7)
  )
).check(Schema.isBetweenLength(1, 4))

const OlderThanHours = Schema.UndefinedOr(between(0, 150))

const versionsOf = (infos: ReadonlyArray<Snapshot.SnapshotInfo>) => infos.map((info) => info.version)

/** A state of about `bytes` bytes of JSON, keys in jsonb's order (by length, then bytes). */
export const stateOfSize = (bytes: number) => {
  const item = (i: number) => ({ id: i, qty: i % 7, name: `item-${i}-ünïcødé` })
  const perItem = JSON.stringify(item(100000)).length + 1
  return { items: Array.from({ length: Math.ceil(bytes / perItem) }, (_, i) => item(i)) }
}

const loadSome = (store: SnapshotStore.SnapshotStoreService, type: string, id: string, maxVersion?: number) =>
  Effect.map(
    store.load(type, id, maxVersion === undefined ? undefined : { maxVersion }),
    Option.map((snapshot) => snapshot.version)
  )

/**
 * `saveIfDue` (issue 22 item 7): the store decides atomically whether a snapshot at or past the due point exists.
 * Part of `contract`; registered on its own where a store stamps its own time (the SQL default), where the
 * rest of the contract, which checks that each snapshot's `createdAt` is kept, does not apply.
 */
export const saveIfDueContract = (it: Vitest.MethodsNonLive<SnapshotStore.SnapshotStore>) => {
  const Store = SnapshotStore.SnapshotStore

  it.effect("saveIfDue writes when no snapshot at or past dueFrom exists, and answers Written", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Due")
      assert.strictEqual(
        yield* store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 100 }), {
          dueFrom: 100
        }),
        "Written"
      )
      // A snapshot below the due point does not cover it.
      assert.strictEqual(
        yield* store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 230 }), { dueFrom: 200 }),
        "Written"
      )
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [100, 230])
      assert.deepStrictEqual(Option.getOrThrow(yield* store.load(type, "a")).state, { version: 230 })
      // Another aggregate's snapshots cover nothing here.
      assert.strictEqual(
        yield* store.saveIfDue(make({ aggregateType: type, aggregateId: "b", version: 100 }), { dueFrom: 1 }),
        "Written"
      )
    }))

  it.effect("saveIfDue answers AlreadyCovered and writes nothing when a snapshot at or past dueFrom exists", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Covered")
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 101, state: { first: true } }))
      const cases: ReadonlyArray<readonly [version: number, dueFrom: number]> = [
        [100, 100], // the due point was served by a later snapshot: nothing behind it
        [102, 100], // a second one for the same due point
        [101, 101], // the same version: the first state stays
        [150, 60]
      ]
      for (const [version, dueFrom] of cases) {
        const snapshot = make({ aggregateType: type, aggregateId: "a", version, state: { late: version } })
        assert.strictEqual(
          yield* store.saveIfDue(snapshot, { dueFrom }),
          "AlreadyCovered",
          `${version} from ${dueFrom}`
        )
      }
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [101])
      assert.deepStrictEqual(Option.getOrThrow(yield* store.load(type, "a")).state, { first: true })
    }))

  it.effect("saveIfDue: of 12 concurrent callers acting on one due point, exactly one writes", () =>
    Effect.gen(function*() {
      const store = yield* Store
      for (let round = 0; round < 5; round++) {
        const type = freshType("Race")
        const results = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => 100 + i),
          (version) => store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version }), { dueFrom: 100 }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter((result) => result === "Written").length, 1, results.join(","))
        assert.strictEqual((yield* store.list(type, "a")).length, 1)
      }
    }))

  it.effect("saveIfDue rejects a bad snapshot or dueFrom with InvalidInput and writes nothing", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("BadDue")
      const good = make({ aggregateType: type, aggregateId: "a", version: 5 })
      const calls = [
        store.saveIfDue(good, { dueFrom: 0 }),
        store.saveIfDue(good, { dueFrom: 1.5 }),
        store.saveIfDue(good, { dueFrom: 6 }), // past the snapshot's own version
        store.saveIfDue(good, { dueFrom: Number.NaN }),
        store.saveIfDue(good, { dueFrom: "1" as never }),
        store.saveIfDue(good, undefined as never),
        store.saveIfDue(make({ aggregateType: type, aggregateId: "", version: 5 }), { dueFrom: 1 }),
        store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 0 }), { dueFrom: 1 }),
        store.saveIfDue(make({ aggregateType: type, aggregateId: "a", version: 5, state: () => 1 }), { dueFrom: 1 })
      ]
      for (const [i, call] of calls.entries()) {
        const error = yield* Effect.flip(call)
        assert.strictEqual(error.reason, "InvalidInput", `call #${i}: ${error.message}`)
      }
      assert.deepStrictEqual(yield* store.list(type, "a"), [])
    }))
}

export const contract = (it: Vitest.MethodsNonLive<SnapshotStore.SnapshotStore>, options: ContractOptions = {}) => {
  const manyKeys = options.manyKeys ?? 120
  const Store = SnapshotStore.SnapshotStore

  saveIfDueContract(it)

  // ---------------------------------------------------------------------------------------------------
  // save / load
  // ---------------------------------------------------------------------------------------------------

  it.effect("save then load returns the snapshot with every field", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Order")
      const snapshot = make({
        aggregateType: type,
        aggregateId: "o-1",
        version: 7,
        schemaVersion: 3,
        createdAt: Date.UTC(2025, 5, 1, 12, 30, 15, 123),
        metadata: { source: "test", causation: ["e-1", 2], nested: { ok: true } },
        state: { lines: [{ sku: "A", qty: 2, price: 9.99 }], note: "héllo 🦀", flags: [true, false, null], n: -0.5 }
      })
      yield* store.save(snapshot)
      assertSameSnapshot(Option.getOrThrow(yield* store.load(type, "o-1")), snapshot)
      assert.isTrue(Option.isNone(yield* store.load(type, "o-2")))
      assert.isTrue(Option.isNone(yield* store.load(`${type}-other`, "o-1")))
    }))

  it.effect("never goes backwards: an older version saved later does not hide the newer one", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Backwards")
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 200 }))
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 100 }))
      assert.deepStrictEqual(yield* loadSome(store, type, "a"), Option.some(200))
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [100, 200])
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 300 }))
      assert.deepStrictEqual(yield* loadSome(store, type, "a"), Option.some(300))
    }))

  it.effect("saving the same version twice is idempotent: one row, the first state, no error", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Idempotent")
      const first = make({ aggregateType: type, aggregateId: "a", version: 5, state: { take: 1 } })
      yield* store.save(first)
      yield* store.save(first)
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 5, state: { take: 2 } }))
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [5])
      assertSameSnapshot(Option.getOrThrow(yield* store.load(type, "a")), first)
    }))

  it.effect("load with maxVersion answers the newest snapshot at or below it", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("MaxVersion")
      for (const version of [30, 10, 20]) yield* store.save(make({ aggregateType: type, aggregateId: "a", version }))
      assert.deepStrictEqual(yield* loadSome(store, type, "a", 25), Option.some(20))
      assert.deepStrictEqual(yield* loadSome(store, type, "a", 20), Option.some(20))
      assert.deepStrictEqual(yield* loadSome(store, type, "a", 30), Option.some(30))
      assert.deepStrictEqual(yield* loadSome(store, type, "a", 1_000_000), Option.some(30))
      assert.deepStrictEqual(yield* loadSome(store, type, "a", 10), Option.some(10))
      assert.deepStrictEqual(yield* loadSome(store, type, "a", 9), Option.none())
      assert.deepStrictEqual(yield* loadSome(store, type, "a", 0), Option.none())
      const loaded = Option.getOrThrow(yield* store.load(type, "a", { maxVersion: 29 }))
      assert.deepStrictEqual(loaded.state, { version: 20 })
    }))

  it.effect("keeps aggregates apart: same id under two types, similar ids under one type", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Apart")
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
      yield* store.save(make({ aggregateType: `${type}x`, aggregateId: "a", version: 2 }))
      yield* store.save(make({ aggregateType: type, aggregateId: "ab", version: 3 }))
      assert.deepStrictEqual(yield* loadSome(store, type, "a"), Option.some(1))
      assert.deepStrictEqual(yield* loadSome(store, `${type}x`, "a"), Option.some(2))
      assert.deepStrictEqual(yield* loadSome(store, type, "ab"), Option.some(3))
    }))

  // ---------------------------------------------------------------------------------------------------
  // list / delete / latestForType
  // ---------------------------------------------------------------------------------------------------

  it.effect("list answers the history oldest first, without states", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("List")
      for (const version of [3, 1, 2]) {
        yield* store.save(make({ aggregateType: type, aggregateId: "a", version, metadata: { v: version } }))
      }
      const infos = yield* store.list(type, "a")
      assert.deepStrictEqual(versionsOf(infos), [1, 2, 3])
      assert.deepStrictEqual(infos.map((info) => info.metadata), [{ v: 1 }, { v: 2 }, { v: 3 }])
      for (const info of infos) {
        assert.instanceOf(info, Snapshot.SnapshotInfo)
        assert.isFalse("state" in info)
      }
      assert.deepStrictEqual(yield* store.list(type, "missing"), [])
    }))

  it.effect("delete removes one version or the whole history and counts what it removed", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Delete")
      for (const version of [1, 2, 3]) yield* store.save(make({ aggregateType: type, aggregateId: "a", version }))
      yield* store.save(make({ aggregateType: type, aggregateId: "b", version: 1 }))
      assert.strictEqual(yield* store.delete(type, "a", { version: 3 }), 1)
      assert.deepStrictEqual(yield* loadSome(store, type, "a"), Option.some(2))
      assert.strictEqual(yield* store.delete(type, "a", { version: 3 }), 0)
      assert.strictEqual(yield* store.delete(type, "a"), 2)
      assert.isTrue(Option.isNone(yield* store.load(type, "a")))
      assert.deepStrictEqual(yield* store.list(type, "a"), [])
      assert.strictEqual(yield* store.delete(type, "a"), 0)
      assert.deepStrictEqual(yield* loadSome(store, type, "b"), Option.some(1))
      const keys = yield* Stream.runCollect(store.aggregates(type))
      assert.deepStrictEqual(keys.map((key) => key.aggregateId), ["b"])
    }))

  it.effect("latestForType answers the most recently created snapshot of the type", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Latest")
      const t0 = Date.UTC(2025, 0, 1)
      assert.isTrue(Option.isNone(yield* store.latestForType(type)))
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 50, createdAt: t0 }))
      yield* store.save(make({ aggregateType: type, aggregateId: "b", version: 2, createdAt: t0 + 5000 }))
      yield* store.save(make({ aggregateType: type, aggregateId: "c", version: 9, createdAt: t0 + 1000 }))
      // Another type, created later: not this type's latest.
      yield* store.save(make({ aggregateType: `${type}-other`, aggregateId: "z", version: 1, createdAt: t0 + 9000 }))
      const latest = Option.getOrThrow(yield* store.latestForType(type))
      assert.strictEqual(latest.aggregateId, "b")
      assert.strictEqual(latest.version, 2)
      assert.deepStrictEqual(latest.state, { version: 2 })
    }))

  // ---------------------------------------------------------------------------------------------------
  // aggregates
  // ---------------------------------------------------------------------------------------------------

  it.effect(`aggregates streams every key once, ${manyKeys} keys (more than one page)`, () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Many")
      const other = `${type}-b`
      const ids = Array.from({ length: manyKeys }, (_, i) => `id-${String(i).padStart(5, "0")}`)
      yield* Effect.forEach(ids, (aggregateId, i) =>
        Effect.andThen(
          store.save(make({ aggregateType: type, aggregateId, version: 1 })),
          // Several versions for some: still one key each.
          i % 3 === 0 ? store.save(make({ aggregateType: type, aggregateId, version: 2 })) : Effect.void
        ), { concurrency: 8, discard: true })
      yield* store.save(make({ aggregateType: other, aggregateId: "only", version: 1 }))

      const keys = yield* Stream.runCollect(store.aggregates(type))
      assert.deepStrictEqual(keys.map((key) => key.aggregateId), ids) // ids are ASCII: every order agrees
      assert.isTrue(keys.every((key) => key.aggregateType === type && key instanceof Snapshot.SnapshotKey))

      const all = yield* Stream.runCollect(store.aggregates())
      const ours = all.filter((key) => key.aggregateType === type || key.aggregateType === other)
      assert.strictEqual(ours.length, manyKeys + 1)
      const seen = new Set(all.map((key) => JSON.stringify([key.aggregateType, key.aggregateId])))
      assert.strictEqual(seen.size, all.length, "a key appeared twice")
      assert.isTrue(seen.has(JSON.stringify([other, "only"])))

      // A stream can be consumed partially.
      const firstFive = yield* Stream.runCollect(Stream.take(store.aggregates(type), 5))
      assert.deepStrictEqual(firstFive.map((key) => key.aggregateId), ids.slice(0, 5))
      assert.deepStrictEqual(yield* Stream.runCollect(store.aggregates(`${type}-none`)), [])
    }), 60_000)

  // ---------------------------------------------------------------------------------------------------
  // Ids and states
  // ---------------------------------------------------------------------------------------------------

  it.effect("ids with quotes, SQL, unicode and 1 KB length work with every method", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("It's \"quoted\" 🧪")
      const ids = [
        "o'brien",
        "\"double\" and 'single'",
        "'; DROP TABLE effect_snapshots; --",
        "back\\slash %_ wildcard",
        "Ωμέγα-日本語-🦀-é",
        "x".repeat(1024),
        "ü".repeat(1024),
        " leading and trailing "
      ]
      for (const [i, aggregateId] of ids.entries()) {
        yield* store.save(make({ aggregateType: type, aggregateId, version: i + 1, state: { id: aggregateId } }))
      }
      for (const [i, aggregateId] of ids.entries()) {
        const loaded = Option.getOrThrow(yield* store.load(type, aggregateId))
        assert.strictEqual(loaded.aggregateId, aggregateId)
        assert.strictEqual(loaded.version, i + 1)
        assert.deepStrictEqual(loaded.state, { id: aggregateId })
        assert.deepStrictEqual(versionsOf(yield* store.list(type, aggregateId)), [i + 1])
      }
      const keys = yield* Stream.runCollect(store.aggregates(type))
      assert.deepStrictEqual(keys.map((key) => key.aggregateId).sort(), [...ids].sort())
      assert.strictEqual(Option.getOrThrow(yield* store.latestForType(type)).aggregateType, type)
      assert.strictEqual(yield* store.delete(type, ids[2]!), 1)
      assert.isTrue(Option.isNone(yield* store.load(type, ids[2]!)))
      assert.deepStrictEqual(yield* loadSome(store, type, ids[0]!), Option.some(1))
    }))

  it.effect("tiny states round-trip: {}, [], null, 0, false, \"\"", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Tiny")
      const states: Array<unknown> = [{}, [], null, 0, false, ""]
      for (const [i, state] of states.entries()) {
        yield* store.save(make({ aggregateType: type, aggregateId: `s${i}`, version: 1, state }))
      }
      for (const [i, state] of states.entries()) {
        const loaded = Option.getOrThrow(yield* store.load(type, `s${i}`))
        assert.deepStrictEqual(loaded.state, state)
      }
    }))

  it.effect("a 1 MB state round-trips", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Big")
      const snapshot = make({ aggregateType: type, aggregateId: "a", version: 1, state: stateOfSize(1024 * 1024) })
      yield* store.save(snapshot)
      assertSameSnapshot(Option.getOrThrow(yield* store.load(type, "a")), snapshot)
    }))

  if (options.large) {
    it.effect("a 20 MB state round-trips", () =>
      Effect.gen(function*() {
        const store = yield* Store
        const type = freshType("Huge")
        const state = stateOfSize(20 * 1024 * 1024)
        yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1, state }))
        const loaded = Option.getOrThrow(yield* store.load(type, "a"))
        assert.strictEqual(loaded.version, 1)
        assert.isTrue(isDeepStrictEqual(loaded.state, state), "20 MB state differs")
        // The history stays cheap to read: list carries no state.
        assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [1])
      }), 120_000)
  }

  it.effect.prop(
    "any JSON state round-trips (property)",
    [
      Arbitrary.schema(Schema.Json).pipe(
        Arbitrary.filter((json) => !/\\u0000|\\ud[89a-f]/i.test(JSON.stringify(json)))
      )
    ],
    ([state]) =>
      Effect.gen(function*() {
        const store = yield* Store
        const type = freshType("Prop")
        yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1, state }))
        const loaded = Option.getOrThrow(yield* store.load(type, "a"))
        // Compared as JSON: -0 is 0 in a JSON column, while the memory store keeps -0 as it was given.
        assert.deepStrictEqual(JSON.parse(JSON.stringify(loaded.state)), JSON.parse(JSON.stringify(state)))
      }),
    { arbitrary: { runs: 40 } }
  )

  // ---------------------------------------------------------------------------------------------------
  // Bad input
  // ---------------------------------------------------------------------------------------------------

  it.effect("bad snapshots are rejected with InvalidInput and nothing is written", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Bad")
      const cycle: Record<string, unknown> = { a: 1 }
      cycle.self = cycle
      class Money {
        constructor(readonly amount: number) {}
      }
      const cases: Array<[string, Partial<Parameters<typeof make>[0]>, RegExp]> = [
        ["empty aggregateType", { aggregateType: "" }, /aggregateType must not be empty/],
        ["empty aggregateId", { aggregateId: "" }, /aggregateId must not be empty/],
        ["NUL in aggregateId", { aggregateId: "a\u0000b" }, /NUL/],
        ["lone surrogate in aggregateId", { aggregateId: "a\ud800" }, /surrogate/],
        ["version 0", { version: 0 }, /version must be an integer >= 1/],
        ["negative version", { version: -3 }, /version must be an integer >= 1/],
        ["fractional version", { version: 1.5 }, /version must be an integer >= 1/],
        ["NaN version", { version: Number.NaN }, /version must be an integer >= 1/],
        ["schemaVersion 0", { schemaVersion: 0 }, /schemaVersion must be an integer >= 1/],
        ["undefined state", { state: undefined }, /state is not JSON: undefined is not JSON/],
        ["function state", { state: () => 1 }, /a function is not JSON/],
        ["NaN state", { state: { n: Number.NaN } }, /NaN is not a JSON number at \.n/],
        ["Infinity state", { state: [1, Number.POSITIVE_INFINITY] }, /Infinity is not a JSON number at \[1\]/],
        ["undefined in an array", { state: { a: [1, undefined] } }, /undefined is not JSON at \.a\[1\]/],
        ["a hole in an array", { state: { a: [1, , 3] } }, /undefined is not JSON at \.a\[1\]/],
        ["nested too deeply", { state: nested(Storable.maxDepth + 1) }, /nested more than 512 levels deep/],
        ["a deep cycle", { state: { deep: nested(10, cycle) } }, /a cycle.* at \.deep(\.n){10}\.self/],
        ["cycle", { state: cycle }, /a cycle.* at \.self/],
        ["Date", { state: { at: new Date(0) } }, /Date is not a plain object at \.at/],
        ["Map", { state: new Map() }, /Map is not a plain object/],
        ["class instance", { state: { m: new Money(1) } }, /Money is not a plain object/],
        ["bigint", { state: { n: 1n } }, /bigint is not JSON/],
        ["symbol", { state: Symbol("s") }, /symbol is not JSON/],
        ["NUL in a state string", { state: { s: "a\u0000" } }, /NUL/],
        // A display name cut with slice() over an emoji: Postgres' jsonb refuses it, so every store does.
        [
          "lone surrogate in a state string",
          { state: { name: "Zoë 🎉".slice(0, 5) } },
          /lone UTF-16 surrogate at \.name/
        ],
        ["lone surrogate in a state key", { state: { ["k\udc00"]: 1 } }, /lone UTF-16 surrogate/],
        ["lone surrogate in metadata", { metadata: { by: "\ud800" } }, /metadata is not JSON.*surrogate/],
        ["metadata not JSON", { metadata: { f: () => 1 } }, /metadata is not JSON/]
      ]
      for (const [i, [name, override, message]] of cases.entries()) {
        const snapshot = make({ aggregateType: type, aggregateId: `bad-${i}`, version: 1, ...override })
        const result = yield* Effect.result(store.save(snapshot))
        assert.isTrue(Result.isFailure(result), `${name}: should fail`)
        const error = Result.getFailure(result).pipe(Option.getOrThrow)
        assert.strictEqual(error._tag, "SnapshotStoreError", name)
        assert.strictEqual(error.reason, "InvalidInput", name)
        assert.match(error.message, message, name)
      }
      // Nothing written: no key of this type, and no key with an empty id or a bad-* id anywhere.
      assert.deepStrictEqual(yield* Stream.runCollect(store.aggregates(type)), [])
      const all = yield* Stream.runCollect(store.aggregates())
      assert.isFalse(all.some((key) => key.aggregateId === "" || key.aggregateType === ""))
      assert.isFalse(all.some((key) => key.aggregateType === type))
    }))

  it.effect("an undefined property is left out, as JSON leaves it out; 512 levels of nesting are fine", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Loose")
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1, state: { a: 1, b: undefined } }))
      const loaded = Option.getOrThrow(yield* store.load(type, "a")).state
      assert.deepStrictEqual(JSON.parse(JSON.stringify(loaded)), { a: 1 })
      const deep = nested(Storable.maxDepth)
      yield* store.save(make({ aggregateType: type, aggregateId: "deep", version: 1, state: deep }))
      assert.deepStrictEqual(Option.getOrThrow(yield* store.load(type, "deep")).state, deep)
    }))

  it.effect("a long id is cut to 200 characters in messages, with its length", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const id = "x".repeat(10_000)
      const error = yield* Effect.flip(store.save(make({ aggregateType: "T", aggregateId: `${id}\u0000`, version: 1 })))
      assert.strictEqual(error.reason, "InvalidInput")
      assert.isBelow(error.message.length, 400)
      assert.include(error.message, "(10001 characters)")
      const stateError = yield* Effect.flip(
        store.save(make({ aggregateType: "T", aggregateId: id.slice(0, 2000), version: 1, state: Number.NaN }))
      )
      assert.isBelow(stateError.message.length, 600)
    }))

  it.effect("bad arguments of the other methods are rejected with InvalidInput", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("BadArgs")
      yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
      const failures = [
        store.list("", "a"),
        store.list(type, ""),
        store.delete(type, ""),
        store.delete(type, "a", { version: 0 }),
        store.delete(type, "a", { version: 1.5 }),
        store.latestForType(""),
        Stream.runDrain(store.aggregates("")),
        store.prune({ keepLast: 0 }),
        store.prune({ keepLast: -1 }),
        store.prune({ keepLast: 1.5 }),
        store.prune({ keepLast: 1, aggregateType: "" }),
        store.prune({ keepLast: 1, olderThan: "soon" as never })
      ]
      for (const [i, call] of failures.entries()) {
        const error = yield* Effect.flip(call)
        assert.strictEqual(error.reason, "InvalidInput", `call #${i}: ${error.message}`)
      }
      for (const call of [store.load("", "a"), store.load(type, ""), store.load(type, "a", { maxVersion: -1 })]) {
        assert.strictEqual((yield* Effect.flip(call)).reason, "InvalidInput")
      }
      // Nothing was deleted by the rejected calls.
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [1])
    }))

  // ---------------------------------------------------------------------------------------------------
  // Retention
  // ---------------------------------------------------------------------------------------------------

  it.effect("prune keepLast keeps the newest N of each aggregate, only of the given type", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("KeepLast")
      const other = `${type}-other`
      for (const version of [5, 1, 4, 2, 3]) yield* store.save(make({ aggregateType: type, aggregateId: "a", version }))
      for (const version of [1, 2]) yield* store.save(make({ aggregateType: type, aggregateId: "b", version }))
      yield* store.save(make({ aggregateType: type, aggregateId: "c", version: 9 }))
      for (const version of [1, 2, 3, 4, 5]) {
        yield* store.save(make({ aggregateType: other, aggregateId: "a", version }))
      }

      assert.deepStrictEqual(yield* store.prune({ keepLast: 2, aggregateType: type }), { deleted: 3 })
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [4, 5])
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "b")), [1, 2])
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "c")), [9])
      assert.deepStrictEqual(versionsOf(yield* store.list(other, "a")), [1, 2, 3, 4, 5])
      // Again: nothing left to prune.
      assert.deepStrictEqual(yield* store.prune({ keepLast: 2, aggregateType: type }), { deleted: 0 })
      // keepLast 1 keeps exactly the newest, and load still finds it.
      assert.deepStrictEqual(yield* store.prune({ keepLast: 1, aggregateType: type }), { deleted: 2 })
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [5])
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "b")), [2])
      assert.deepStrictEqual(yield* loadSome(store, type, "a"), Option.some(5))
      assert.deepStrictEqual(versionsOf(yield* store.list(other, "a")), [1, 2, 3, 4, 5])
    }))

  it.effect("prune without a type prunes every type", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const a = freshType("AllTypesA")
      const b = freshType("AllTypesB")
      for (const version of [1, 2, 3]) {
        yield* store.save(make({ aggregateType: a, aggregateId: "x", version }))
        yield* store.save(make({ aggregateType: b, aggregateId: "y", version }))
      }
      // Other tests' aggregates share this store, so at least our four are deleted.
      const { deleted } = yield* store.prune({ keepLast: 1 })
      assert.isAtLeast(deleted, 4)
      assert.deepStrictEqual(versionsOf(yield* store.list(a, "x")), [3])
      assert.deepStrictEqual(versionsOf(yield* store.list(b, "y")), [3])
    }))

  it.effect("prune olderThan deletes only snapshots past keepLast that are older than the age (TestClock)", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("OlderThan")
      const now = yield* Clock.currentTimeMillis
      // version -> age in days
      const ages: Array<[number, number]> = [[1, 10], [2, 8], [3, 6], [4, 4], [5, 2], [6, 0]]
      for (const [version, days] of ages) {
        yield* store.save(make({ aggregateType: type, aggregateId: "a", version, createdAt: now - days * DAY }))
      }
      // An aggregate whose only snapshot is ancient: its newest is never pruned.
      yield* store.save(make({ aggregateType: type, aggregateId: "old", version: 3, createdAt: now - 400 * DAY }))

      assert.deepStrictEqual(yield* store.prune({ keepLast: 2, olderThan: "5 days", aggregateType: type }), {
        deleted: 3
      })
      // v4 (4 days) is past keepLast but not old enough.
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [4, 5, 6])
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "old")), [3])

      // Two days later, v4 is 6 days old.
      yield* TestClock.adjust("2 days")
      assert.deepStrictEqual(yield* store.prune({ keepLast: 2, olderThan: "5 days", aggregateType: type }), {
        deleted: 1
      })
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [5, 6])
      // Even a year on, keepLast protects the newest two.
      yield* TestClock.adjust("365 days")
      assert.deepStrictEqual(yield* store.prune({ keepLast: 2, olderThan: "1 day", aggregateType: type }), {
        deleted: 0
      })
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "a")), [5, 6])
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "old")), [3])
    }))

  it.effect("prune olderThan: exactly the age is not older; rank is by version, not by creation time", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const type = freshType("Boundary")
      const now = yield* Clock.currentTimeMillis
      yield* store.save(make({ aggregateType: type, aggregateId: "edge", version: 1, createdAt: now - 3 * DAY }))
      yield* store.save(make({ aggregateType: type, aggregateId: "edge", version: 2, createdAt: now }))
      assert.deepStrictEqual(yield* store.prune({ keepLast: 1, olderThan: "3 days", aggregateType: type }), {
        deleted: 0
      })
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* store.prune({ keepLast: 1, olderThan: "3 days", aggregateType: type }), {
        deleted: 1
      })
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "edge")), [2])

      // The newest version was created long ago (e.g. rebuilt from an old backup), an older one recently:
      // keepLast counts versions, so the newest version stays and the older one is judged by its age.
      const t = yield* Clock.currentTimeMillis
      yield* store.save(make({ aggregateType: type, aggregateId: "skew", version: 10, createdAt: t - 30 * DAY }))
      yield* store.save(make({ aggregateType: type, aggregateId: "skew", version: 9, createdAt: t }))
      yield* store.save(make({ aggregateType: type, aggregateId: "skew", version: 8, createdAt: t - 30 * DAY }))
      assert.deepStrictEqual(yield* store.prune({ keepLast: 1, olderThan: "1 day", aggregateType: type }), {
        deleted: 1
      })
      assert.deepStrictEqual(versionsOf(yield* store.list(type, "skew")), [9, 10])
      assert.deepStrictEqual(yield* loadSome(store, type, "skew"), Option.some(10))
    }))

  it.effect.prop(
    "prune matches the retention model for random histories (property)",
    [PruneHistories, Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })), OlderThanHours],
    ([generated, keepLast, olderThanHours]) =>
      Effect.gen(function*() {
        // One entry per version in a history (the first generated one).
        const histories = generated.map((history) =>
          history.filter((entry, i) => history.findIndex((other) => other.version === entry.version) === i)
        )
        const store = yield* Store
        const type = freshType("PruneModel")
        const now = yield* Clock.currentTimeMillis
        const HOUR = 60 * 60 * 1000
        for (const [i, history] of histories.entries()) {
          for (const { ageHours, version } of history) {
            yield* store.save(
              make({ aggregateType: type, aggregateId: `a${i}`, version, createdAt: now - ageHours * HOUR })
            )
          }
        }
        const expected = histories.map((history) =>
          [...history].sort((x, y) => y.version - x.version)
            .filter((entry, rank) =>
              // Kept: among the newest keepLast, or (with an age) not older than it.
              rank < keepLast || (olderThanHours !== undefined && entry.ageHours <= olderThanHours)
            )
            .map((entry) => entry.version)
            .sort((x, y) => x - y)
        )
        const expectedDeleted = histories.reduce((n, history, i) => n + history.length - expected[i]!.length, 0)
        const result = yield* store.prune({
          keepLast,
          aggregateType: type,
          olderThan: olderThanHours === undefined ? undefined : `${olderThanHours} hours`
        })
        assert.strictEqual(result.deleted, expectedDeleted)
        for (const [i, versions] of expected.entries()) {
          assert.deepStrictEqual(versionsOf(yield* store.list(type, `a${i}`)), versions)
        }
      }),
    { arbitrary: { runs: 25 } }
  )
}
