import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Decorators from "../src/decorators.js"

describe("decorators", () => {
  it.effect(
    "compressed stores a large state as gzip bytes; resilient keeps commands working over a broken store",
    () =>
      Effect.gen(function*() {
        const result = yield* Decorators.program("t").pipe(
          Effect.provide(Decorators.layer(Postgres.layerTest("examples_decorators")))
        )
        const { compressed, storeDown } = result
        assert.strictEqual(compressed.encoding, "gzip")
        assert.isAbove(compressed.jsonBytes, 10_000)
        assert.isBelow(compressed.storedBytes, compressed.jsonBytes / 4)
        assert.strictEqual(compressed.version, 401)
        assert.strictEqual(compressed.snapshotVersion, 401)
        assert.strictEqual(compressed.replayed, 0)
        assert.strictEqual(compressed.lines, 400)
        // Every snapshot call failed, yet every command committed and the order loads by full replay.
        assert.strictEqual(storeDown.version, 251)
        assert.strictEqual(storeDown.snapshotVersion, null)
        assert.strictEqual(storeDown.replayed, 251)
        assert.strictEqual(storeDown.itemCount, 499)
        assert.isAbove(storeDown.swallowed, 0)
      }),
    120_000
  )
})
