/**
 * The known-state cache (internal/knownStateCache.ts): bounded by the estimated heap of its states.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore, SnapshotMetrics } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import {
  entryOverhead,
  estimateBytes,
  type Known,
  KnownStateCache,
  resampleEvery
} from "../src/internal/knownStateCache.js"
import { Ledger } from "./utils/Ledger.js"
import { deposits } from "./utils/repositorySuite.js"

/** A small state whose encoded length is given: the cache counts the larger of the two, here `encodedBytes`. */
const known = (version: number, encodedBytes: number): Known<string> => ({
  version,
  state: `state@${version}`,
  position: version,
  lastSnapshot: undefined,
  replayed: Option.none(),
  duration: Option.none(),
  encodedBytes
})

const knownState = <S>(version: number, state: S): Known<S> => ({
  ...known(version, 0),
  state,
  encodedBytes: undefined
})

/** An order line as a JSON-decoded state holds it: four properties, two strings of their own, a double. */
const line = (n: number) => ({
  sku: `sku-${n}`.padEnd(12, "-"),
  quantity: n % 7,
  price: n + 0.25,
  note: `line ${n}`.padEnd(24, ".")
})
/** Its heap on 64-bit V8: the object (24 + 4 slots), the strings (16 + 16, 16 + 24), the double (16), its array slot. */
const lineHeap = 24 + 4 * 8 + 32 + 40 + 16 + 8

const size = (id: string, bytes: number) => bytes + id.length * 2 + entryOverhead

describe("the known-state cache", () => {
  it("holds at most maxBytes of estimated state, forgetting the least recently used", () => {
    const cache = new KnownStateCache<string>(3 * size("a", 1000))
    cache.set("a", known(1, 1000))
    cache.set("b", known(1, 1000))
    cache.set("c", known(1, 1000))
    assert.strictEqual(cache.size, 3)
    assert.strictEqual(cache.bytes, 3 * size("a", 1000))
    cache.get("a") // a is now the most recently used
    cache.set("d", known(1, 1000))
    assert.isDefined(cache.get("a"))
    assert.isUndefined(cache.get("b"))
    assert.isAtMost(cache.bytes, cache.maxBytes)
    // one big state pushes out as many as it needs
    cache.set("e", known(1, 2 * size("a", 1000)))
    assert.isAtMost(cache.bytes, cache.maxBytes)
    assert.isDefined(cache.get("e"))
  })

  it("a state bigger than the bound is not cached at all; 0 disables the cache", () => {
    const cache = new KnownStateCache<string>(10_000)
    cache.set("small", known(1, 100))
    cache.set("huge", known(1, 1_000_000))
    assert.isUndefined(cache.get("huge"))
    assert.isDefined(cache.get("small"))
    const off = new KnownStateCache<string>(0)
    off.set("a", known(1, 0))
    assert.strictEqual(off.size, 0)
  })

  it("accounts replaced, modified and deleted entries; never goes back to an older version", () => {
    const cache = new KnownStateCache<string>(1_000_000)
    cache.set("a", known(2, 500))
    cache.set("a", known(1, 100)) // older: ignored
    assert.strictEqual(cache.get("a")!.version, 2)
    cache.set("a", known(3, 700))
    assert.strictEqual(cache.bytes, size("a", 700))
    cache.modify("a", (k) => ({ ...k, encodedBytes: 900 }))
    assert.strictEqual(cache.bytes, size("a", 900))
    cache.delete("a")
    assert.strictEqual(cache.bytes, 0)
    assert.strictEqual(cache.size, 0)
  })

  it("cacheCapacity still bounds the number of entries", () => {
    const cache = new KnownStateCache<string>(1_000_000, 2)
    cache.set("a", known(1, 1))
    cache.set("b", known(1, 1))
    cache.set("c", known(1, 1))
    assert.strictEqual(cache.size, 2)
    assert.isUndefined(cache.get("a"))
  })
})

describe("the cache sizes a state from the state itself", () => {
  it("a state rebuilt by replay counts its own size, not a figure per event (issue 22 item 4)", () => {
    const cache = new KnownStateCache<unknown>(64 * 1024 * 1024)
    // 80 events folded into 8,000 lines: ~1.3 MB of heap; counted as 80 x 256 bytes before.
    const state = { id: "order-1", lines: Array.from({ length: 8_000 }, (_, n) => line(n)) }
    cache.set("order-1", knownState(80, state))
    const expected = 8_000 * lineHeap
    assert.isAbove(cache.bytes, 0.9 * expected)
    assert.isBelow(cache.bytes, 1.1 * expected + 1_000)
  })

  it("the estimate samples: its cost does not grow with an array's length, and it extrapolates exactly for alike elements", () => {
    const small = Array.from({ length: 1_000 }, (_, n) => line(n))
    const big = Array.from({ length: 1_000_000 }, (_, n) => small[n % 1_000]!)
    const header = 48
    assert.strictEqual(estimateBytes(small), header + 1_000 * lineHeap)
    assert.strictEqual(estimateBytes(big), header + 1_000_000 * lineHeap)
    // A million-element array is measured in about the time of a thousand-element one (16 elements each).
    const time = (value: unknown) => {
      const start = performance.now()
      for (let i = 0; i < 200; i++) estimateBytes(value)
      return performance.now() - start
    }
    time(big)
    assert.isBelow(time(big), 20 * time(small) + 50)
  })

  it("prices strings, numbers, Maps, Sets, bytes and records; two-byte strings count double; a cycle ends", () => {
    assert.strictEqual(estimateBytes("x".repeat(100)), 16 + 104)
    assert.strictEqual(estimateBytes("\u20ac".repeat(100)), 16 + 200)
    assert.strictEqual(estimateBytes(7), 0) // a small integer lives in its slot
    assert.strictEqual(estimateBytes(0.5), 16)
    assert.isAbove(
      estimateBytes(new Map(Array.from({ length: 1_000 }, (_, n) => [`k${n}`, line(n)]))),
      1_000 * lineHeap
    )
    assert.isAbove(estimateBytes(new Set(Array.from({ length: 1_000 }, (_, n) => `member-${n}`))), 1_000 * 24)
    assert.isAbove(estimateBytes(new Uint8Array(100_000)), 100_000)
    const record: Record<string, unknown> = {}
    for (let n = 0; n < 5_000; n++) record[`key-${n}`] = line(n)
    assert.isAbove(estimateBytes(record), 5_000 * lineHeap)
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    assert.isBelow(estimateBytes(cyclic), 64 * 64)
  })

  it("a snapshot's encoded length counts when it is the larger; the walk counts when it is", () => {
    const cache = new KnownStateCache<unknown>(64 * 1024 * 1024)
    const numbers = Array.from({ length: 10_000 }, (_, n) => n % 100) // 8 bytes each on the heap, 2-3 in JSON
    cache.set("numbers", { ...knownState(1, numbers), encodedBytes: JSON.stringify(numbers).length })
    assert.strictEqual(cache.bytes, estimateBytes(numbers) + "numbers".length * 2 + entryOverhead)
    cache.delete("numbers")
    cache.set("blob", { ...knownState(1, "b"), encodedBytes: 50_000 })
    assert.strictEqual(cache.bytes, 50_000 + "blob".length * 2 + entryOverhead)
  })

  it(`between samples (every ${resampleEvery} events) an entry grows by the bytes per event the last samples showed`, () => {
    const cache = new KnownStateCache<unknown>(64 * 1024 * 1024)
    const lines = (n: number) => ({ lines: Array.from({ length: n }, (_, i) => line(i)) })
    const overhead = "o".length * 2 + entryOverhead
    cache.set("o", knownState(100, lines(1_000)))
    const first = cache.bytes - overhead
    assert.strictEqual(first, estimateBytes(lines(1_000)))
    // 10 lines per event: extrapolated at the average of the stream so far (first / 100 per event)
    cache.set("o", knownState(110, lines(1_100)))
    assert.closeTo(cache.bytes - overhead, first + 10 * (first / 100), 1)
    // a new sample after resampleEvery events
    cache.set("o", knownState(100 + resampleEvery, lines(1_000 + 10 * resampleEvery)))
    assert.strictEqual(cache.bytes - overhead, estimateBytes(lines(1_000 + 10 * resampleEvery)))
    // the same state again (a snapshot written of it): not walked again, its encoded length considered
    const current = cache.get("o")!
    cache.modify("o", (k) => ({ ...k, encodedBytes: 10 }))
    assert.strictEqual(cache.get("o")!.state, current.state)
    assert.strictEqual(cache.bytes - overhead, estimateBytes(lines(1_000 + 10 * resampleEvery)))
  })
})

describe("the cache's gauges", () => {
  it.effect("effect_snapshots_cache_bytes and _entries follow the repository's cache, and go back when its scope closes", () =>
    Effect.gen(function*() {
      const type = "GaugedLedger"
      const gauges = SnapshotMetrics.cacheForAggregateType(type)
      const Gauged = Aggregate.make({ ...Ledger, type })
      yield* Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Gauged, { strategy: SnapshotStrategy.never })
        yield* repo.save("g1", 0, deposits(3))
        yield* repo.save("g2", 0, deposits(2))
        assert.strictEqual((yield* Metric.value(gauges.cacheEntries)).value, 2)
        const bytes = (yield* Metric.value(gauges.cacheBytes)).value
        assert.isAbove(bytes, 2 * entryOverhead)
        // the same series as the exported gauge with the attribute
        const byType = Metric.withAttributes(SnapshotMetrics.cacheBytes, { aggregate_type: type })
        assert.strictEqual((yield* Metric.value(byType)).value, bytes)
        // a repository of its own with a bound of one entry's worth: its entries add up in the same series
        const small = yield* EventSourcedRepository.make(Gauged, { strategy: SnapshotStrategy.never, cacheCapacity: 1 })
        yield* small.load("g1")
        yield* small.load("g2")
        assert.strictEqual((yield* Metric.value(gauges.cacheEntries)).value, 3)
      }))
      assert.strictEqual((yield* Metric.value(gauges.cacheEntries)).value, 0)
      assert.strictEqual((yield* Metric.value(gauges.cacheBytes)).value, 0)
    }).pipe(Effect.provide(Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory))))
})
