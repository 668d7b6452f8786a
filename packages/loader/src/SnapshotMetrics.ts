/**
 * The metrics the repository records. They are plain Effect `Metric`s: export them with
 * `@effect/opentelemetry` (or read them with `Metric.value`) without extra code. Every metric is tagged with
 * `aggregate_type`; `snapshotsSkipped` also with `reason`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"
import type * as MetricState from "effect/MetricState"
import type { SkipReason } from "./Aggregate.js"

/**
 * `metric` (an untagged one, as built by `Metric.counter` / `Metric.histogram`) with `labels` fixed, the same
 * metric as `Metric.tagged` gives. `Metric.tagged` builds a new label array on every update, so Effect finds the
 * metric's state anew each time (a key, its hash, a registry lookup: about 10 µs per load of three updates);
 * here the array is the same on every update, which Effect caches, unless the fiber adds labels of its own.
 */
const withLabels = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): Metric.Metric<Type, In, Out> => {
  const all = (extra: ReadonlyArray<MetricLabel.MetricLabel>) => extra.length === 0 ? labels : [...labels, ...extra]
  return Metric.make(
    metric.keyType,
    (input, extra) => metric.unsafeUpdate(input, all(extra)),
    (extra) => metric.unsafeValue(all(extra)),
    (input, extra) => metric.unsafeModify(input, all(extra))
  )
}

const loadDurationHistogram = Metric.histogram(
  "effect_snapshots_load_duration",
  MetricBoundaries.fromIterable([0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000]),
  "Duration of a load (snapshot probe + tail + fold)"
)

const timeUnit = MetricLabel.make("time_unit", "milliseconds")

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
export const loadDuration: Metric.Metric<
  MetricKeyType.MetricKeyType.Histogram,
  Duration.Duration,
  MetricState.MetricState.Histogram
> =
  // What `Metric.timerWithBoundaries` builds (a histogram in milliseconds tagged `time_unit`), made here so that
  // `forAggregateType` can update the same histogram with fixed labels (see `withLabels`).
  Metric.mapInput(
    withLabels(loadDurationHistogram, [timeUnit]),
    Duration.toMillis
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
  const typeLabel = MetricLabel.make("aggregate_type", aggregateType)
  const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) => withLabels(metric, [typeLabel])
  const byReason = new Map<SkipReason, Metric.Metric.Counter<number>>()
  return {
    hits: tagged(snapshotHits),
    cacheHits: tagged(cacheHits),
    misses: tagged(snapshotMisses),
    replayed: tagged(eventsReplayed),
    duration: Metric.mapInput(
      withLabels(loadDurationHistogram, [timeUnit, typeLabel]),
      Duration.toMillis
    ),
    written: tagged(snapshotsWritten),
    failures: tagged(snapshotFailures),
    drops: tagged(queueDrops),
    skipped: (reason: SkipReason): Metric.Metric.Counter<number> => {
      let metric = byReason.get(reason)
      if (metric === undefined) {
        metric = withLabels(snapshotsSkipped, [typeLabel, MetricLabel.make("reason", reason)])
        byReason.set(reason, metric)
      }
      return metric
    }
  }
}
