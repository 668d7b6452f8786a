import { SnapshotStrategy } from "@effect-snapshots/core"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"

describe("SnapshotStrategy", () => {
  it("placeholder", () => {
    assert.strictEqual(Schema.decodeUnknownSync(SnapshotStrategy.placeholder)("placeholder"), "placeholder")
  })
})
