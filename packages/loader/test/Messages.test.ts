/**
 * What an operator reads after a deploy (issue 22, item 9), on the memory stores: a snapshot that cannot be used
 * is ONE log line naming the aggregate (its id cut to 200 characters); `rebuild` / `rebuildStream` / `verifyAll`
 * over N such aggregates log ONE summary line, not N; and a `save` of an event that does not match its Schema
 * fails with an `EventEncodeError` whose message is one line naming the aggregate, the id and the event's index,
 * with the full Schema issue kept on the error (`cause`) for programs.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Deposited, Ledger } from "./utils/Ledger.js"
import { deployments } from "./utils/rebuildSuite.js"
import { deposits } from "./utils/repositorySuite.js"

interface Line {
  readonly level: string
  readonly message: string
}

/** Every log line of `self` at `minimum` and above, instead of the console. */
const capturing = <A, E, R>(self: Effect.Effect<A, E, R>, into: Array<Line>, minimum: "Info" | "Debug" = "Info") =>
  self.pipe(
    Effect.provide(Logger.layer([
      Logger.make(({ logLevel, message }) => {
        into.push({ level: logLevel, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
      })
    ])),
    Effect.provideService(References.MinimumLogLevel, minimum)
  )

const Stores = Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory)

let counter = 0
const freshType = (name: string) => `Msg${name}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`

/** A 300-character id: every message must cut it to 200. */
const longId = `long-${"x".repeat(295)}`

/** `count` aggregates (the first one with the long id) of 7 events, each snapshotted at 5 by `v1`. */
const seed = (v1: ReturnType<typeof deployments>["v1"], count: number) =>
  Effect.scoped(Effect.gen(function*() {
    const repo = yield* EventSourcedRepository.make(v1, { strategy: SnapshotStrategy.everyNEvents(5) })
    const ids = [longId, ...Array.from({ length: count - 1 }, (_, i) => `agg-${String(i).padStart(3, "0")}`)]
    for (const id of ids) yield* repo.save(id, 0, deposits(7))
    return ids
  }))

const assertOneLine = (line: Line, type: string, id: string) => {
  assert.notInclude(line.message, "\n", line.message)
  assert.include(line.message, type)
  assert.include(line.message, JSON.stringify(id.slice(0, 200)).slice(0, -1), line.message)
  if (id.length > 200) assert.notInclude(line.message, id, "the id is cut to 200 characters")
  assert.isAtMost(line.message.length, 200 + 400, line.message)
}

describe("messages after a deploy (issue 22)", () => {
  it.effect("a stale fingerprint: ONE log line per aggregate, naming the type and the id (cut to 200)", () =>
    Effect.gen(function*() {
      const { v1, v2 } = deployments(freshType("Load"))
      const ids = yield* seed(v1, 36)
      const repo = yield* EventSourcedRepository.make(v2, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      for (const id of ids) {
        const lines: Array<Line> = []
        const loaded = yield* capturing(repo.load(id), lines)
        assert.strictEqual(loaded.version, 7)
        assert.strictEqual(lines.length, 1, JSON.stringify(lines))
        assert.strictEqual(lines[0]!.level, "Warn")
        assertOneLine(lines[0]!, v2.type, id)
        assert.include(lines[0]!.message, "StaleFingerprint")
      }
    }).pipe(Effect.provide(Stores), Effect.scoped))

  it.effect("a snapshot whose state does not decode: ONE log line, the Schema problem cut short", () =>
    Effect.gen(function*() {
      const type = freshType("Decode")
      const { v1 } = deployments(type)
      yield* seed(v1, 2)
      const snapshots = yield* SnapshotStore.SnapshotStore
      const good = Option.getOrThrow(yield* snapshots.load(type, longId))
      // the same fingerprint and version, a state of the wrong types everywhere (a long value among them)
      yield* snapshots.delete(type, longId)
      yield* snapshots.save(
        new Snapshot.Snapshot({
          ...good,
          state: { id: 1, balance: "b".repeat(5000), entries: "x", checksum: [], openedAt: 3, tags: {} }
        })
      )
      const repo = yield* EventSourcedRepository.make(v1, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      const lines: Array<Line> = []
      const loaded = yield* capturing(repo.load(longId), lines)
      assert.strictEqual(loaded.version, 7)
      assert.strictEqual(lines.length, 1, JSON.stringify(lines))
      assertOneLine(lines[0]!, type, longId)
      assert.include(lines[0]!.message, "DecodeFailure")
    }).pipe(Effect.provide(Stores), Effect.scoped))

  it.effect("rebuild over 36 stale aggregates: ONE summary line (counts, the reason), not one per aggregate", () =>
    Effect.gen(function*() {
      const { v1, v2 } = deployments(freshType("Rebuild"))
      yield* seed(v1, 36)
      const repo = yield* EventSourcedRepository.make(v2, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      const lines: Array<Line> = []
      const summary = yield* capturing(repo.rebuild({ concurrency: 4 }), lines)
      assert.deepStrictEqual([summary.total, summary.written, summary.failed], [36, 36, 0])
      assert.strictEqual(lines.length, 1, lines.map((l) => l.message).join("\n"))
      const [line] = lines
      assert.notInclude(line!.message, "\n")
      assert.include(line!.message, v2.type)
      assert.match(line!.message, /\b36\b/)
      assert.match(line!.message, /36 written/)
      assert.match(line!.message, /StaleFingerprint/)
      // every per-aggregate detail is still there for who asks for Debug
      const debug: Array<Line> = []
      const { v1: w1, v2: w2 } = deployments(freshType("RebuildDebug"))
      yield* seed(w1, 3)
      const again = yield* EventSourcedRepository.make(w2, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      yield* capturing(again.rebuild(), debug, "Debug")
      assert.strictEqual(debug.filter((l) => l.message.includes("StaleFingerprint")).length, 3 + 1)
    }).pipe(Effect.provide(Stores), Effect.scoped))

  it.effect("rebuildStream run to its end: ONE summary line", () =>
    Effect.gen(function*() {
      const { v1, v2 } = deployments(freshType("Stream"))
      yield* seed(v1, 12)
      const repo = yield* EventSourcedRepository.make(v2, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      const lines: Array<Line> = []
      const n = yield* capturing(Stream.runCount(repo.rebuildStream({ concurrency: 2 })), lines)
      assert.strictEqual(n, 12)
      assert.strictEqual(lines.length, 1, lines.map((l) => l.message).join("\n"))
      assert.match(lines[0]!.message, /12 written/)
    }).pipe(Effect.provide(Stores), Effect.scoped))

  it.effect("verifyAll over 36 stale aggregates: ONE summary line", () =>
    Effect.gen(function*() {
      const { v1, v2 } = deployments(freshType("Verify"))
      yield* seed(v1, 36)
      const repo = yield* EventSourcedRepository.make(v2, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 })
      const lines: Array<Line> = []
      const summary = yield* capturing(repo.verifyAll({ concurrency: 4 }), lines)
      assert.deepStrictEqual([summary.checked, summary.consistent, summary.failedCount], [36, 36, 0])
      assert.strictEqual(lines.length, 1, lines.map((l) => l.message).join("\n"))
      const [line] = lines
      assert.notInclude(line!.message, "\n")
      assert.include(line!.message, v2.type)
      assert.match(line!.message, /36 checked/)
      assert.match(line!.message, /StaleFingerprint/)
    }).pipe(Effect.provide(Stores), Effect.scoped))

  it.effect("save of an event that does not match its Schema: a one-line EventEncodeError naming type, id and index", () =>
    Effect.gen(function*() {
      const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never })
      const ok = Deposited.make({ amount: BigDecimal.fromBigInt(1n), note: "fine" })
      const bad = { _tag: "Deposited", amount: "1".repeat(5000), note: 42 } as unknown as typeof ok
      for (const id of ["a", longId]) {
        const error = yield* Effect.flip(repo.save(id, 0, [ok, ok, bad]))
        assert.strictEqual(error._tag, "EventEncodeError")
        assert.instanceOf(error, Aggregate.EventEncodeError)
        if (error._tag !== "EventEncodeError") return
        assert.strictEqual(error.index, 2)
        assert.strictEqual(error.aggregateId, id)
        assert.strictEqual(error.eventType, "Deposited")
        const message = error.message
        assert.notInclude(message, "\n", message)
        assert.include(message, "Ledger")
        assert.include(message, JSON.stringify(id.slice(0, 200)).slice(0, -1))
        if (id.length > 200) assert.notInclude(message, id)
        assert.match(message, /events\[2\]/)
        assert.match(message, /Deposited/)
        assert.isAtMost(message.length, 600, message)
        // the full issue, for programs
        assert.isTrue(Schema.isSchemaError(error.cause), String(error.cause))
        assert.match((error.cause as Schema.SchemaError).message, /amount|note/)
      }
      // nothing was written
      assert.strictEqual((yield* Effect.flip(repo.load("a")))._tag, "AggregateNotFound")
    }).pipe(Effect.provide(Stores), Effect.scoped))
})
