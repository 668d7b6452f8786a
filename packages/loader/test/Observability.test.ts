import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore, SnapshotMetrics } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { Ledger } from "./utils/Ledger.js"
import { deposits } from "./utils/repositorySuite.js"

const memory = Layer.merge(EventStore.layerMemory, SnapshotStore.layerMemory)

/** Records every span ended under `effect`, with its attributes. */
const recordSpans = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const inner = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const recording = Tracer.make({
      span: (options) => {
        const span = inner.span(options)
        spans.push(span)
        return span
      },
      context: inner.context
    })
    const result = yield* Effect.withTracer(effect, recording)
    return [result, spans] as const
  })

describe("observability", () => {
  it.effect("load and save run in spans with the aggregate type, id, source, snapshot version and events replayed", () =>
    Effect.gen(function*() {
      const [, spans] = yield* recordSpans(Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(5) })
        yield* repo.save("obs", 0, deposits(6))
        yield* repo.save("obs", 6, deposits(2, 7))
        yield* repo.load("obs") // from the state this repository knows: no snapshot read
        const fresh = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never })
        yield* fresh.load("obs") // snapshot at 6 + 2 events
      })))
      const loads = spans.filter((s) => s.name === "EventSourcedRepository.load")
      assert.strictEqual(loads.length, 2)
      assert.deepStrictEqual(loads.map((s) => s.attributes.get("load.source")), ["cache", "snapshot"])
      const load = loads[1]!
      assert.strictEqual(load.attributes.get("aggregate.type"), "Ledger")
      assert.strictEqual(load.attributes.get("aggregate.id"), "obs")
      assert.strictEqual(load.attributes.get("snapshot.version"), 6)
      assert.strictEqual(load.attributes.get("events.replayed"), 2)
      assert.strictEqual(loads[0]!.attributes.get("snapshot.version"), -1)
      assert.strictEqual(loads[0]!.attributes.get("events.replayed"), 0)
      const saves = spans.filter((s) => s.name === "EventSourcedRepository.save")
      assert.deepStrictEqual(saves.map((s) => s.attributes.get("snapshot.outcome")), ["written", "none"])
      assert.deepStrictEqual(saves.map((s) => s.attributes.get("aggregate.version")), [6, 8])
    }).pipe(Effect.provide(memory)))

  it.effect("a long id is cut to 200 characters in span attributes", () =>
    Effect.gen(function*() {
      const id = "x".repeat(1_000)
      const [, spans] = yield* recordSpans(Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never })
        yield* repo.save(id, 0, deposits(1))
      })))
      const save = spans.find((s) => s.name === "EventSourcedRepository.save")!
      assert.strictEqual(save.attributes.get("aggregate.id"), "x".repeat(200) + "…")
    }).pipe(Effect.provide(memory)))

  it.effect("metrics: cache hits, snapshot hits, misses, events replayed, load duration, snapshots written", () =>
    Effect.gen(function*() {
      const type = "MeteredLedger"
      const metrics = SnapshotMetrics.forAggregateType(type)
      const Metered = Aggregate.make({ ...Ledger, type })
      yield* Effect.scoped(Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Metered, { strategy: SnapshotStrategy.everyNEvents(10) })
        yield* repo.save("m", 0, deposits(4))
        assert.strictEqual((yield* repo.load("m")).source, "cache") // cache hit, 0 replayed
        yield* repo.save("m", 4, deposits(8, 5)) // crosses 10: written at 12
        yield* repo.save("m", 12, deposits(3, 13))
        const fresh = yield* EventSourcedRepository.make(Metered, { strategy: SnapshotStrategy.never })
        const loaded = yield* fresh.load("m") // snapshot hit, 3 replayed
        assert.deepStrictEqual(loaded.snapshotVersion, Option.some(12))
        assert.strictEqual(loaded.source, "snapshot")
        yield* fresh.save("n", 0, deposits(2))
        const other = yield* EventSourcedRepository.make(Metered, { strategy: SnapshotStrategy.never })
        assert.strictEqual((yield* other.load("n")).source, "replay") // miss, 2 replayed
      }))
      assert.strictEqual((yield* Metric.value(metrics.cacheHits)).count, 1)
      assert.strictEqual((yield* Metric.value(metrics.hits)).count, 1)
      assert.strictEqual((yield* Metric.value(metrics.misses)).count, 1)
      assert.strictEqual((yield* Metric.value(metrics.written)).count, 1)
      const replayed = yield* Metric.value(metrics.replayed)
      assert.strictEqual(replayed.count, 3)
      assert.strictEqual(replayed.sum, 5)
      assert.strictEqual((yield* Metric.value(metrics.duration)).count, 3)
      // An application reading the exported metrics with Metric.withAttributes sees the same state.
      const byType = <I, S>(metric: Metric.Metric<I, S>) => Metric.withAttributes(metric, { aggregate_type: type })
      assert.strictEqual((yield* Metric.value(byType(SnapshotMetrics.cacheHits))).count, 1)
      assert.strictEqual((yield* Metric.value(byType(SnapshotMetrics.snapshotHits))).count, 1)
      assert.strictEqual((yield* Metric.value(byType(SnapshotMetrics.eventsReplayed))).sum, 5)
      assert.strictEqual((yield* Metric.value(byType(SnapshotMetrics.loadDuration))).count, 3)
      assert.strictEqual((yield* Metric.value(byType(SnapshotMetrics.snapshotsWritten))).count, 1)
      // Attributes the fiber adds (Metric.CurrentMetricAttributes) still reach the metric, with the type.
      yield* Metric.update(metrics.drops, 1).pipe(
        Effect.provideService(Metric.CurrentMetricAttributes, { tenant: "t1" })
      )
      const tenant = Metric.withAttributes(byType(SnapshotMetrics.queueDrops), { tenant: "t1" })
      assert.strictEqual((yield* Metric.value(tenant)).count, 1)
    }).pipe(Effect.provide(memory)))
})
