/**
 * The metrics the repository records. They are plain Effect `Metric`s: export them with
 * `@effect/opentelemetry` (or read them with `Metric.value`) without extra code. Every metric is tagged with
 * `aggregate_type`; `snapshotsSkipped` also with `reason`.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type { SkipReason } from "./Aggregate.js"

/**
 * Loads that used a snapshot.
 *
 * @since 0.1.0
 */
export const snapshotHits = Metric.counter("effect_snapshots_snapshot_hits", {
  description: "Loads that started from a snapshot",
  incremental: true
})

/**
 * Loads that started from a state the repository knew (its cache), proven current by the stream: no snapshot
 * was read.
 *
 * @since 0.2.0
 * @category metrics
 */
export const cacheHits = Metric.counter("effect_snapshots_cache_hits", {
  description: "Loads that started from a cached state proven current by the stream",
  incremental: true
})

/**
 * Loads that found no usable snapshot and replayed the whole stream.
 *
 * @since 0.1.0
 */
export const snapshotMisses = Metric.counter("effect_snapshots_snapshot_misses", {
  description: "Loads without a usable snapshot (full replay)",
  incremental: true
})

/**
 * Events folded per load (after the snapshot, or all of them on a miss).
 *
 * @since 0.1.0
 */
export const eventsReplayed = Metric.histogram(
  "effect_snapshots_events_replayed",
  MetricBoundaries.exponential({ start: 1, factor: 4, count: 11 }),
  "Events folded per load"
)

/**
 * Duration of successful loads, in milliseconds.
 *
 * @since 0.1.0
 */
export const loadDuration = Metric.timerWithBoundaries(
  "effect_snapshots_load_duration",
  [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
  "Duration of a load (snapshot probe + tail + fold)"
)

/**
 * Snapshots written (by the strategy after a commit, or to replace an unusable one).
 *
 * @since 0.1.0
 */
export const snapshotsWritten = Metric.counter("effect_snapshots_snapshots_written", {
  description: "Snapshots written",
  incremental: true
})

/**
 * Snapshot writes that failed; the failure was logged and swallowed (a command never fails for it).
 *
 * @since 0.1.0
 */
export const snapshotFailures = Metric.counter("effect_snapshots_snapshot_failures", {
  description: "Snapshot writes that failed and were swallowed",
  incremental: true
})

/**
 * Background snapshot requests dropped because the queue was full.
 *
 * @since 0.1.0
 */
export const queueDrops = Metric.counter("effect_snapshots_snapshot_queue_drops", {
  description: "Background snapshot requests dropped (queue full)",
  incremental: true
})

/**
 * Snapshots found but not used, by reason (see `Aggregate.SkipReason`).
 *
 * @since 0.1.0
 */
export const snapshotsSkipped = Metric.counter("effect_snapshots_snapshots_skipped", {
  description: "Snapshots found but not used, by reason",
  incremental: true
})

/**
 * The metrics of one aggregate type, tagged once (the repository builds them at construction).
 *
 * @since 0.1.0
 */
export const forAggregateType = (aggregateType: string) => {
  const skipped = Metric.tagged(snapshotsSkipped, "aggregate_type", aggregateType)
  const byReason = new Map<SkipReason, Metric.Metric.Counter<number>>()
  return {
    hits: Metric.tagged(snapshotHits, "aggregate_type", aggregateType),
    cacheHits: Metric.tagged(cacheHits, "aggregate_type", aggregateType),
    misses: Metric.tagged(snapshotMisses, "aggregate_type", aggregateType),
    replayed: Metric.tagged(eventsReplayed, "aggregate_type", aggregateType),
    duration: Metric.tagged(loadDuration, "aggregate_type", aggregateType),
    written: Metric.tagged(snapshotsWritten, "aggregate_type", aggregateType),
    failures: Metric.tagged(snapshotFailures, "aggregate_type", aggregateType),
    drops: Metric.tagged(queueDrops, "aggregate_type", aggregateType),
    skipped: (reason: SkipReason): Metric.Metric.Counter<number> => {
      let metric = byReason.get(reason)
      if (metric === undefined) {
        metric = Metric.tagged(skipped, "reason", reason)
        byReason.set(reason, metric)
      }
      return metric
    }
  }
}
