/**
 * The storable policy on its own, as the stores and the loader's event stores call it: keys, states,
 * event payloads and metadata; problem messages, never a throw.
 */
import { Storable } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"

describe("Storable", () => {
  it("keys: non-empty, no NUL, no lone surrogate, within the byte limits", () => {
    assert.isUndefined(Storable.keyProblem("Order", "order-42"))
    assert.match(Storable.keyProblem("", "a")!, /aggregateType must not be empty/)
    assert.match(Storable.keyProblem("T", "a\u0000")!, /aggregateId "a\\u0000" contains a NUL/)
    assert.match(Storable.keyProblem("T", "🎉".slice(0, 1))!, /lone UTF-16 surrogate/)
    assert.match(Storable.keyProblem("T", 42)!, /aggregateId must be a string, got number/)
    assert.isUndefined(Storable.keyProblem("T", "é".repeat(Storable.maxAggregateIdBytes / 2)))
    assert.match(
      Storable.keyProblem("T", "é".repeat(Storable.maxAggregateIdBytes / 2 + 1))!,
      /longer than 2048 UTF-8 bytes/
    )
    assert.match(Storable.typeProblem("x".repeat(257))!, /longer than 256 UTF-8 bytes/)
  })

  it("user values in messages are cut to 200 characters, with their length", () => {
    const problem = Storable.keyProblem("T", `${"x".repeat(10_000)}\u0000`)!
    assert.isBelow(problem.length, 300)
    assert.include(problem, "(10001 characters)")
    assert.strictEqual(Storable.show("short"), "\"short\"")
  })

  it("JSON values: the first problem with its path", () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /^undefined is not JSON$/],
      [{ a: [1, { b: Number.NaN }] }, /NaN is not a JSON number at \.a\[1\]\.b/],
      [{ s: "ok", t: "\ud800" }, /a string contains a lone UTF-16 surrogate at \.t/],
      [{ ["\u0000"]: 1 }, /a key contains a NUL/],
      [{ d: new Date(0) }, /a Date is not a plain object at \.d/],
      [[1n], /a bigint is not JSON at \[0\]/],
      [[undefined], /undefined is not JSON at \[0\]/]
    ]
    for (const [value, message] of cases) assert.match(Storable.jsonProblem(value)!, message)
    const cycle: Array<unknown> = []
    cycle.push({ back: cycle })
    assert.match(Storable.jsonProblem({ c: cycle })!, /a cycle \(an object contains itself\) at \.c\[0\]\.back/)
  })

  it("an event payload with an undefined property (an optional field's encoding) is storable; so is null-prototype", () => {
    assert.isUndefined(Storable.jsonProblem({ type: "ItemAdded", note: undefined, qty: 2 }))
    const bare = Object.assign(Object.create(null) as object, { a: 1 })
    assert.isUndefined(Storable.objectProblem(bare))
    assert.match(Storable.objectProblem([1])!, /must be a plain JSON object/)
    assert.match(Storable.nameProblem("events[0].type", "")!, /^events\[0\]\.type must not be empty$/)
  })

  it("toJson: the JSON text of a storable value, or the same problem jsonProblem names", () => {
    assert.deepStrictEqual(Storable.toJson({ a: [1, "x", null], b: undefined }), Result.succeed(`{"a":[1,"x",null]}`))
    assert.deepStrictEqual(Storable.toJson(3), Result.succeed("3"))
    const hostile = { list: [1, undefined] }
    assert.deepStrictEqual(Storable.toJson(hostile), Result.fail(Storable.jsonProblem(hostile)!))
    assert.deepStrictEqual(Storable.toJson({ s: "\ud800" }), Result.fail(Storable.jsonProblem({ s: "\ud800" })!))
  })

  it("depth: 512 levels are fine, 513 are not; never a stack overflow", () => {
    const nested = (depth: number) => {
      let value: unknown = 0
      for (let i = 0; i < depth; i++) value = [value]
      return value
    }
    assert.isUndefined(Storable.jsonProblem(nested(Storable.maxDepth)))
    assert.match(Storable.jsonProblem(nested(Storable.maxDepth + 1))!, /nested more than 512 levels deep/)
    assert.match(Storable.jsonProblem(nested(100_000))!, /nested more than 512 levels deep/)
  })
})
