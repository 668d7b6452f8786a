import type { EventStore } from "@effect-snapshots/loader"
import { Aggregate } from "@effect-snapshots/loader"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { Deposited, initial, Ledger, LedgerState } from "./utils/Ledger.js"

const stored = (type: string, payload: unknown, metadata: Record<string, unknown> = {}): EventStore.StoredEvent => ({
  aggregateType: "Ledger",
  aggregateId: "a",
  version: 1,
  position: 1,
  type,
  payload,
  metadata,
  createdAt: DateTime.unsafeMake(0)
})

describe("Aggregate.fingerprint", () => {
  const Base = Schema.Struct({ a: Schema.String, b: Schema.optional(Schema.Number), c: Schema.Array(Schema.Boolean) })

  it("is deterministic and the same for equal shapes built separately", () => {
    const again = Schema.Struct({
      a: Schema.String,
      b: Schema.optional(Schema.Number),
      c: Schema.Array(Schema.Boolean)
    })
    assert.strictEqual(Aggregate.fingerprint(Base), Aggregate.fingerprint(again))
    assert.match(Aggregate.fingerprint(Base), /^[0-9a-f]{16}$/)
  })

  it("changes when the encoded shape changes", () => {
    const variants: ReadonlyArray<Schema.Schema.Any> = [
      Schema.Struct({ a: Schema.String, b: Schema.Number, c: Schema.Array(Schema.Boolean) }), // b not optional
      Schema.Struct({ a: Schema.String, bb: Schema.optional(Schema.Number), c: Schema.Array(Schema.Boolean) }),
      Schema.Struct({ a: Schema.Number, b: Schema.optional(Schema.Number), c: Schema.Array(Schema.Boolean) }),
      Schema.Struct({ a: Schema.String, b: Schema.optional(Schema.Number), c: Schema.Array(Schema.String) }),
      Schema.Struct({ a: Schema.String, b: Schema.optional(Schema.Number), c: Schema.Tuple(Schema.Boolean) }),
      Schema.Struct({
        a: Schema.String,
        b: Schema.optional(Schema.Number),
        c: Schema.Array(Schema.Boolean),
        d: Schema.Null
      }),
      Schema.Struct({ a: Schema.Literal("x"), b: Schema.optional(Schema.Number), c: Schema.Array(Schema.Boolean) })
    ]
    const prints = new Set([Aggregate.fingerprint(Base), ...variants.map((v) => Aggregate.fingerprint(v))])
    assert.strictEqual(prints.size, variants.length + 1)
  })

  it("ignores what a snapshot does not hold: refinements, transformations' decoded side, annotations, order", () => {
    const refined = Schema.Struct({
      c: Schema.Array(Schema.Boolean),
      a: Schema.String.pipe(Schema.minLength(1)).annotations({ description: "an a" }),
      b: Schema.optional(Schema.Number.pipe(Schema.int()))
    })
    assert.strictEqual(Aggregate.fingerprint(refined), Aggregate.fingerprint(Base))
    // BigDecimal and Date are strings on the encoded side: swapping one for the other keeps the shape.
    assert.strictEqual(
      Aggregate.fingerprint(Schema.Struct({ x: Schema.BigDecimal })),
      Aggregate.fingerprint(Schema.Struct({ x: Schema.Date }))
    )
    assert.strictEqual(
      Aggregate.fingerprint(Schema.Union(Schema.String, Schema.Number)),
      Aggregate.fingerprint(Schema.Union(Schema.Number, Schema.String))
    )
    // A Class encodes as its fields.
    class C extends Schema.Class<C>("C")({ a: Schema.String }) {}
    assert.strictEqual(Aggregate.fingerprint(C), Aggregate.fingerprint(Schema.Struct({ a: Schema.String })))
  })

  it("handles recursive schemas", () => {
    interface Tree {
      readonly value: number
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Schema<Tree> = Schema.Struct({
      value: Schema.Number,
      children: Schema.Array(Schema.suspend((): Schema.Schema<Tree> => Tree))
    })
    assert.match(Aggregate.fingerprint(Tree), /^[0-9a-f]{16}$/)
    assert.strictEqual(Aggregate.fingerprint(Tree), Aggregate.fingerprint(Tree))
  })
})

describe("Aggregate.restoreState", () => {
  const state = Schema.encodeSync(LedgerState)(initial("a"))
  const V3 = Aggregate.make({
    ...Ledger,
    schemaVersion: 3,
    migrations: {
      1: (s) => ({ ...(s as object), step1: true }),
      2: (s) => {
        const { step1: _, ...rest } = s as { step1: boolean }
        return rest
      }
    }
  })

  it("decodes a current snapshot; migrates an old one through the chain", () => {
    const current = Aggregate.restoreState(Ledger, {
      schemaVersion: 1,
      state,
      metadata: { [Aggregate.FingerprintKey]: Ledger.fingerprint }
    })
    assert.isTrue(Either.isRight(current) && !current.right.migrated)
    const old = Aggregate.restoreState(V3, { schemaVersion: 1, state, metadata: {} })
    assert.isTrue(Either.isRight(old) && old.right.migrated)
    if (Either.isRight(old)) assert.deepStrictEqual(Schema.encodeSync(LedgerState)(old.right.state), state)
  })

  it("answers why a snapshot is unusable", () => {
    const reason = (r: Either.Either<unknown, Aggregate.Skipped>) => Either.isLeft(r) ? r.left.reason : "ok"
    assert.strictEqual(
      reason(Aggregate.restoreState(Ledger, { schemaVersion: 1, state, metadata: { fingerprint: "other" } })),
      "StaleFingerprint"
    )
    assert.strictEqual(reason(Aggregate.restoreState(V3, { schemaVersion: 4, state, metadata: {} })), "NoMigration")
    const gap = Aggregate.make({ ...Ledger, schemaVersion: 3, migrations: { 2: (s) => s } })
    assert.strictEqual(reason(Aggregate.restoreState(gap, { schemaVersion: 1, state, metadata: {} })), "NoMigration")
    const throwing = Aggregate.make({
      ...Ledger,
      schemaVersion: 2,
      migrations: {
        1: () => {
          throw new Error("no")
        }
      }
    })
    assert.strictEqual(
      reason(Aggregate.restoreState(throwing, { schemaVersion: 1, state, metadata: {} })),
      "MigrationFailed"
    )
    assert.strictEqual(
      reason(Aggregate.restoreState(Ledger, { schemaVersion: 1, state: { nope: 1 }, metadata: {} })),
      "DecodeFailure"
    )
  })
})

describe("Aggregate events", () => {
  it("encodeEvents records the event version of types with upcasters; decodeEvent upcasts from it", () => {
    const Up = Aggregate.make({
      ...Ledger,
      upcasters: { Deposited: [(p) => ({ ...(p as object), note: "from v1" })] }
    })
    const deposit = Deposited.make({ amount: Schema.decodeSync(Schema.BigDecimal)("1.5"), note: "n" })
    const encoded = Either.getOrThrow(Aggregate.encodeEvents(Up, "a", [deposit]))
    assert.deepStrictEqual(encoded, [{
      type: "Deposited",
      payload: { _tag: "Deposited", amount: "1.5", note: "n" },
      metadata: { [Aggregate.EventVersionKey]: 2 }
    }])
    assert.deepStrictEqual(Either.getOrThrow(Aggregate.encodeEvents(Ledger, "a", [deposit]))[0]!.metadata, undefined)
    const v1 = Aggregate.decodeEvent(Up, stored("Deposited", { _tag: "Deposited", amount: "2" }))
    assert.isTrue(Either.isRight(v1) && v1.right._tag === "Deposited" && v1.right.note === "from v1")
    const v2 = Aggregate.decodeEvent(
      Up,
      stored("Deposited", { _tag: "Deposited", amount: "2", note: "kept" }, { eventVersion: 2 })
    )
    assert.isTrue(Either.isRight(v2) && v2.right._tag === "Deposited" && v2.right.note === "kept")
  })

  it("decodeEvent fails with EventDecodeError on a bad payload, a throwing upcaster or a type/tag mismatch", () => {
    const bad = Aggregate.decodeEvent(Ledger, stored("Deposited", { _tag: "Deposited", amount: "x", note: "" }))
    assert.isTrue(Either.isLeft(bad) && bad.left._tag === "EventDecodeError")
    const mismatch = Aggregate.decodeEvent(Ledger, stored("Withdrawn", { _tag: "Deposited", amount: "1", note: "" }))
    assert.isTrue(Either.isLeft(mismatch) && mismatch.left.message.includes("Deposited"))
    const Throws = Aggregate.make({
      ...Ledger,
      upcasters: {
        Deposited: [() => {
          throw new Error("bad upcaster")
        }]
      }
    })
    const thrown = Aggregate.decodeEvent(Throws, stored("Deposited", { _tag: "Deposited", amount: "1" }))
    assert.isTrue(Either.isLeft(thrown) && thrown.left.message.includes("bad upcaster"))
  })
})
