import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as zlib from "node:zlib"
import { make, stateOfSize } from "./utils/contract.js"

/** The decorated store and the memory store under it, to look at what was really stored. */
const stack = (options: SnapshotStore.CompressOptions) =>
  Effect.gen(function*() {
    const inner = yield* SnapshotStore.makeMemory
    const outer = yield* SnapshotStore.makeCompressed(inner, options)
    return { inner, outer }
  })

const storedState = (inner: SnapshotStore.SnapshotStoreService, id: string) =>
  Effect.map(inner.load("T", id), (snapshot) => Option.getOrThrow(snapshot).state)

describe("SnapshotStore.compressed", () => {
  it.effect("stores states above the threshold as gzip (level 1 by default), others untouched", () =>
    Effect.gen(function*() {
      const { inner, outer } = yield* stack({ thresholdBytes: 1000 })
      const big = stateOfSize(100_000)
      yield* outer.save(make({ aggregateType: "T", aggregateId: "big", version: 1, state: big, createdAt: 2000 }))
      yield* outer.save(
        make({ aggregateType: "T", aggregateId: "small", version: 1, state: { a: 1 }, createdAt: 1000 })
      )

      const stored = yield* storedState(inner, "big")
      assert.instanceOf(stored, Snapshot.CompressedState)
      const compressed = stored as Snapshot.CompressedState
      assert.strictEqual(compressed.algorithm, "gzip")
      const json = JSON.stringify(big)
      assert.deepStrictEqual(Buffer.from(compressed.bytes), zlib.gzipSync(json, { level: 1 }))
      assert.isBelow(compressed.bytes.byteLength, json.length / 3)
      assert.deepStrictEqual(yield* storedState(inner, "small"), { a: 1 })

      assert.deepStrictEqual(Option.getOrThrow(yield* outer.load("T", "big")).state, big)
      assert.deepStrictEqual(Option.getOrThrow(yield* outer.load("T", "small")).state, { a: 1 })
      assert.deepStrictEqual(Option.getOrThrow(yield* outer.latestForType("T")).state, big)
    }))

  it.effect("the threshold counts UTF-8 bytes of the JSON: above compresses, at it does not", () =>
    Effect.gen(function*() {
      const state = "é".repeat(500) // JSON: 2 quotes + 500 two-byte characters = 1002 bytes, 502 UTF-16 units
      const at = yield* stack({ thresholdBytes: 1002 })
      yield* at.outer.save(make({ aggregateType: "T", aggregateId: "a", version: 1, state }))
      assert.strictEqual(yield* storedState(at.inner, "a"), state)
      const below = yield* stack({ thresholdBytes: 1001 })
      yield* below.outer.save(make({ aggregateType: "T", aggregateId: "a", version: 1, state }))
      assert.instanceOf(yield* storedState(below.inner, "a"), Snapshot.CompressedState)
      assert.strictEqual(Option.getOrThrow(yield* below.outer.load("T", "a")).state, state)
    }))

  it.effect("brotli with a quality; loads inflate by the recorded algorithm, whatever the decorator's", () =>
    Effect.gen(function*() {
      const { inner, outer } = yield* stack({ thresholdBytes: 0, algorithm: "brotli", level: 5 })
      const state = stateOfSize(20_000)
      yield* outer.save(make({ aggregateType: "T", aggregateId: "a", version: 1, state }))
      const stored = (yield* storedState(inner, "a")) as Snapshot.CompressedState
      assert.strictEqual(stored.algorithm, "brotli")
      assert.strictEqual(zlib.brotliDecompressSync(stored.bytes).toString("utf8"), JSON.stringify(state))
      const gzipReader = yield* SnapshotStore.makeCompressed(inner, { thresholdBytes: 0, algorithm: "gzip" })
      assert.deepStrictEqual(Option.getOrThrow(yield* gzipReader.load("T", "a")).state, state)
    }))

  it.effect("a corrupt payload is a Corrupt error, never a defect", () =>
    Effect.gen(function*() {
      const { inner, outer } = yield* stack({ thresholdBytes: 0 })
      const payloads: Array<[string, Snapshot.CompressedState]> = [
        ["garbage gzip", new Snapshot.CompressedState({ algorithm: "gzip", bytes: new Uint8Array([1, 2, 3, 4]) })],
        ["empty gzip", new Snapshot.CompressedState({ algorithm: "gzip", bytes: new Uint8Array() })],
        [
          "truncated gzip",
          new Snapshot.CompressedState({ algorithm: "gzip", bytes: zlib.gzipSync("{\"a\":1}").subarray(0, 12) })
        ],
        ["gzip of non-JSON", new Snapshot.CompressedState({ algorithm: "gzip", bytes: zlib.gzipSync("{not json") })],
        ["garbage brotli", new Snapshot.CompressedState({ algorithm: "brotli", bytes: new Uint8Array([255, 0, 9]) })]
      ]
      for (const [i, [name, state]] of payloads.entries()) {
        yield* inner.save(make({ aggregateType: "T", aggregateId: `c${i}`, version: 1, state }))
        const error = yield* Effect.flip(outer.load("T", `c${i}`))
        assert.strictEqual(error.reason, "Corrupt", name)
        assert.strictEqual(error._tag, "SnapshotStoreError", name)
      }
      const latest = yield* Effect.flip(outer.latestForType("T"))
      assert.strictEqual(latest.reason, "Corrupt")
    }))

  it.effect("checks the state before compressing it: non-JSON is InvalidInput, nothing written", () =>
    Effect.gen(function*() {
      const { inner, outer } = yield* stack({ thresholdBytes: 0 })
      // JSON.stringify would silently drop these; the decorator must not.
      for (const state of [[undefined], [() => 1], { d: new Date(0) }]) {
        const error = yield* Effect.flip(outer.save(make({ aggregateType: "T", aggregateId: "a", version: 1, state })))
        assert.strictEqual(error.reason, "InvalidInput")
      }
      assert.deepStrictEqual(yield* inner.list("T", "a"), [])
    }))

  it.effect("a state already compressed passes through as it is", () =>
    Effect.gen(function*() {
      const { inner, outer } = yield* stack({ thresholdBytes: 0, algorithm: "brotli" })
      const state = new Snapshot.CompressedState({ algorithm: "gzip", bytes: zlib.gzipSync("[1,2,3]") })
      yield* outer.save(make({ aggregateType: "T", aggregateId: "a", version: 1, state }))
      assert.strictEqual(yield* storedState(inner, "a"), state)
      assert.deepStrictEqual(Option.getOrThrow(yield* outer.load("T", "a")).state, [1, 2, 3])
    }))

  it.effect("bad options fail the layer with BadArgument", () =>
    Effect.gen(function*() {
      const bad: Array<SnapshotStore.CompressOptions> = [
        { thresholdBytes: -1 },
        { thresholdBytes: Number.NaN },
        { thresholdBytes: 10, level: 10 },
        { thresholdBytes: 10, algorithm: "brotli", level: 12 },
        { thresholdBytes: 10, level: 1.5 },
        { thresholdBytes: 10, algorithm: "zstd" as never }
      ]
      for (const options of bad) {
        const error = yield* Effect.flip(
          Layer.build(SnapshotStore.layerMemory.pipe(SnapshotStore.compressed(options))).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "BadArgument", JSON.stringify(options))
        assert.strictEqual(error.module, "SnapshotStore.compressed")
      }
    }))
})
