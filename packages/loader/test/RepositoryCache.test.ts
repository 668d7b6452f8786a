/**
 * The known-state cache (internal/knownStateCache.ts): bounded by the estimated bytes of its states.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { entryOverhead, type Known, KnownStateCache } from "../src/internal/knownStateCache.js"

const known = (version: number, bytes: number): Known<string> => ({
  version,
  state: `state@${version}`,
  position: version,
  lastSnapshot: undefined,
  replayed: Option.none(),
  duration: Option.none(),
  bytes
})

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
    cache.modify("a", (k) => ({ ...k, bytes: 900 }))
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
