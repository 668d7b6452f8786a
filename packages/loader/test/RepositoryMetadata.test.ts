/**
 * Event metadata through the repository: stored with every event of a save or update, visible in `read`,
 * `readAll` and projection envelopes; refused metadata is `InvalidMetadata` and writes nothing. And the
 * repository as a service (`EventSourcedRepository.Tag`).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore, Projection } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Ledger } from "./utils/Ledger.js"
import { deposits } from "./utils/repositorySuite.js"

const Stores = Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory)
const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) => Stream.runCollect(stream)

class Ledgers extends EventSourcedRepository.Tag<Ledgers>()("test/Ledgers", Ledger) {}

describe("EventSourcedRepository metadata", () => {
  it.effect("save and update store the metadata with every event: read, readAll and projection envelopes show it", () =>
    Effect.gen(function*() {
      const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never })
      const events = yield* EventStore.EventStore
      const first = { correlationId: "c-1", causationId: "cmd-1", user: { id: "u-7" } }
      yield* repo.save("m", 0, deposits(2), { metadata: first })
      yield* repo.update("m", () => Effect.succeed(deposits(1, 3)), { metadata: { correlationId: "c-2" } })
      yield* repo.save("m", 3, deposits(1, 4))
      const read = yield* collect(events.read("Ledger", "m"))
      assert.deepStrictEqual(read.map((e) => e.metadata), [first, first, { correlationId: "c-2" }, {}])
      const all = yield* collect(events.readAll())
      assert.deepStrictEqual(all.map((e) => e.metadata), read.map((e) => e.metadata))
      const envelopes = yield* collect(Projection.stream(Ledger, "m"))
      assert.deepStrictEqual(envelopes.map((e) => e.metadata), read.map((e) => e.metadata))
    }).pipe(Effect.provide(Stores)))

  it.effect("refused metadata is InvalidMetadata and writes nothing", () =>
    Effect.gen(function*() {
      const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never })
      const events = yield* EventStore.EventStore
      const bad = [
        { correlationId: 42 },
        { eventVersion: 3 },
        { at: new Date(0) },
        { n: Number.NaN }
      ] as ReadonlyArray<EventSourcedRepository.EventMetadata>
      for (const metadata of bad) {
        const saved = yield* Effect.result(repo.save("bad", 0, deposits(1), { metadata }))
        assert.isTrue(Result.isFailure(saved) && saved.failure._tag === "InvalidMetadata", JSON.stringify(metadata))
        const updated = yield* Effect.result(repo.update("bad", () => Effect.succeed(deposits(1)), { metadata }))
        assert.isTrue(Result.isFailure(updated) && updated.failure._tag === "InvalidMetadata")
      }
      assert.strictEqual(yield* events.version("Ledger", "bad"), 0)
    }).pipe(Effect.provide(Stores)))

  it.effect("with a metadataSchema: its encoded side is stored; what does not match is refused", () =>
    Effect.gen(function*() {
      const repo = yield* EventSourcedRepository.make(Ledger, {
        strategy: SnapshotStrategy.never,
        metadataSchema: Schema.Struct({ correlationId: Schema.String, at: Schema.DateFromString })
      })
      const events = yield* EventStore.EventStore
      const refused = yield* Effect.result(repo.save("s", 0, deposits(1), { metadata: { correlationId: "c" } }))
      assert.isTrue(Result.isFailure(refused) && refused.failure._tag === "InvalidMetadata")
      assert.strictEqual(yield* events.version("Ledger", "s"), 0)
      yield* repo.save("s", 0, deposits(1), { metadata: { correlationId: "c", at: new Date(0) } })
      const [stored] = yield* collect(events.read("Ledger", "s"))
      assert.deepStrictEqual(stored!.metadata, { correlationId: "c", at: "1970-01-01T00:00:00.000Z" })
    }).pipe(Effect.provide(Stores)))

  it.effect("Tag: a repository service and its Layer in one line", () =>
    Effect.gen(function*() {
      const ledgers = yield* Ledgers
      yield* ledgers.save("t", 0, deposits(3))
      const loaded = yield* ledgers.load("t")
      assert.strictEqual(loaded.version, 3)
      assert.strictEqual(ledgers.aggregateType, "Ledger")
      assert.strictEqual(Ledgers.aggregate, Ledger)
    }).pipe(
      Effect.provide(Ledgers.layer({ strategy: SnapshotStrategy.everyNEvents(2) }).pipe(Layer.provide(Stores)))
    ))

  it.effect("Tag: bad options fail the layer with BadArgument", () =>
    Effect.gen(function*() {
      const built = yield* Effect.result(
        Layer.build(Ledgers.layer({ strategy: SnapshotStrategy.never, fallbackConcurrency: 0 })).pipe(
          Effect.scoped,
          Effect.provide(Stores)
        )
      )
      assert.isTrue(Result.isFailure(built) && built.failure._tag === "BadArgument")
    }))
})
