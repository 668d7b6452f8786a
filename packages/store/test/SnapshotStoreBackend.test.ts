/**
 * What `SnapshotStore.make(backend)` adds once for every backend (here the memory store): a span per call with
 * the backend and the aggregate, and failures counted by backend, operation and reason.
 */
import { SnapshotStore, SnapshotStoreBackend } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Tracer from "effect/Tracer"
import { freshType, make } from "./utils/contract.js"

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

describe("SnapshotStore.make(backend)", () => {
  it.effect("each call runs in a span naming the backend and the aggregate", () =>
    Effect.gen(function*() {
      const store = yield* SnapshotStore.makeMemory
      const type = freshType("Spans")
      const [, spans] = yield* recordSpans(Effect.andThen(
        store.save(make({ aggregateType: type, aggregateId: "a", version: 1 })),
        store.load(type, "a")
      ))
      assert.deepStrictEqual(spans.map((span) => span.name), ["SnapshotStore.save", "SnapshotStore.load"])
      const load = spans[1]!
      assert.strictEqual(load.attributes.get("backend"), "memory")
      assert.strictEqual(load.attributes.get("aggregate_type"), type)
      assert.strictEqual(load.attributes.get("aggregate_id"), "\"a\"")
    }))

  it.effect("a failure is counted by backend, operation and reason", () =>
    Effect.gen(function*() {
      const store = yield* SnapshotStore.makeMemory
      const counter = Metric.withAttributes(SnapshotStoreBackend.failures, {
        backend: "memory",
        operation: "save",
        reason: "InvalidInput"
      })
      const before = yield* Metric.value(counter)
      const error = yield* Effect.flip(store.save(make({ aggregateType: "T", aggregateId: "", version: 1 })))
      assert.strictEqual(error.reason, "InvalidInput")
      assert.strictEqual((yield* Metric.value(counter)).count - before.count, 1)
    }))
})
