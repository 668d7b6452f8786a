import { BadArgument } from "@effect-snapshots/core"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"

const bad = () =>
  new BadArgument.BadArgument({
    module: "SqlSnapshotStore.layerWith",
    message: "thresholdBytes must be a positive integer, got -1"
  })

describe("BadArgument", () => {
  it("its message says where and what", () => {
    const error = bad()
    assert.strictEqual(error._tag, "BadArgument")
    assert.strictEqual(error.module, "SqlSnapshotStore.layerWith")
    assert.strictEqual(error.message, "SqlSnapshotStore.layerWith: thresholdBytes must be a positive integer, got -1")
    assert.instanceOf(error, Error)
    assert.isTrue(BadArgument.isBadArgument(error))
    assert.isFalse(BadArgument.isBadArgument(new Error(error.message)))
  })

  it("adds the module to the message once", () => {
    const again = new BadArgument.BadArgument({ module: bad().module, message: bad().message })
    assert.strictEqual(again.message, bad().message)
    assert.isTrue(Equal.equals(again, bad()))
  })

  it("encodes to JSON and decodes to an equal error", () => {
    const json = Schema.encodeSync(BadArgument.BadArgument)(bad())
    assert.deepStrictEqual(JSON.parse(JSON.stringify(json)), {
      _tag: "BadArgument",
      module: "SqlSnapshotStore.layerWith",
      message: "SqlSnapshotStore.layerWith: thresholdBytes must be a positive integer, got -1"
    })
    const decoded = Schema.decodeUnknownSync(BadArgument.BadArgument)(json)
    assert.isTrue(Equal.equals(decoded, bad()))
    assert.strictEqual(decoded.message, bad().message)
  })

  it.effect("fails an effect as a typed error that catchTag handles, and prints with its message", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(bad())
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.include(Cause.pretty(exit.cause), "BadArgument: SqlSnapshotStore.layerWith: thresholdBytes must be")
      }
      const caught = yield* bad().pipe(Effect.catchTag("BadArgument", (e) => Effect.succeed(e.module)))
      assert.strictEqual(caught, "SqlSnapshotStore.layerWith")
    }))
})
