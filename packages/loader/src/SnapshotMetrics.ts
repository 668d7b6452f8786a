/**
 * The metrics the repository records. They are plain Effect `Metric`s: export them with an OpenTelemetry
 * exporter (or read them with `Metric.value`) without extra code. Every metric carries the attribute
 * `aggregate_type`; `snapshotsSkipped` also `reason`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Metric from "effect/Metric"
import type { SkipReason } from "./Aggregate.js"

// Each metric is declared once (a counter as its entry in `counters`, built by `counter`), so that the exported
// (attribute-less) metric and the per-type ones `forAggregateType` builds are the same series: Effect keys a series by type, name, description and
// attributes.

const counters = {
  snapshotHits: { name: "effect_snapshots_snapshot_hits", description: "Loads that started from a snapshot" },
  cacheHits: {
    name: "effect_snapshots_cache_hits",
    description: "Loads that started from a cached state proven current by the stream"
  },
  snapshotMisses: {
    name: "effect_snapshots_snapshot_misses",
    description: "Loads without a usable snapshot (full replay)"
  },
  snapshotsWritten: { name: "effect_snapshots_snapshots_written", description: "Snapshots written" },
  snapshotFailures: {
    name: "effect_snapshots_snapshot_failures",
    description: "Snapshot writes that failed and were swallowed"
  },
  snapshotsCovered: {
    name: "effect_snapshots_snapshots_covered",
    description: "Snapshots due but not written: one at or past the due point was stored first"
  },
  queueDrops: {
    name: "effect_snapshots_snapshot_queue_drops",
    description: "Background snapshot requests dropped (queue full)"
  },
  snapshotsSkipped: {
    name: "effect_snapshots_snapshots_skipped",
    description: "Snapshots found but not used, by reason"
  },
  migrationMismatches: {
    name: "effect_snapshots_migration_mismatches",
    description: "Migrated snapshot states that differed from a full replay (discarded)"
  }
}

const counter = (key: keyof typeof counters, attributes?: Record<string, string>): Metric.Counter<number> =>
  Metric.counter(counters[key].name, { description: counters[key].description, incremental: true, attributes })

const eventsReplayedOptions = {
  description: "Events folded per load",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 4, count: 11 })
}

const loadDurationOptions = {
  description: "Duration of a load (snapshot probe + tail + fold)",
  boundaries: Metric.boundariesFromIterable([0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000])
}

/** What `Metric.timer` attaches: the histogram is in milliseconds. */
const timeUnit = { time_unit: "milliseconds" } as const

/**
 * Loads that used a snapshot.
 *
 * @since 0.1.0
 * @category metrics
 */
export const snapshotHits: Metric.Counter<number> = counter("snapshotHits")

/**
 * Loads that started from a state the repository knew (its cache), proven current by the stream: no snapshot
 * was read.
 *
 * @since 0.2.0
 * @category metrics
 */
export const cacheHits: Metric.Counter<number> = counter("cacheHits")

/**
 * Loads that found no usable snapshot and replayed the whole stream.
 *
 * @since 0.1.0
 * @category metrics
 */
export const snapshotMisses: Metric.Counter<number> = counter("snapshotMisses")

/**
 * Events folded per load (after the snapshot, or all of them on a miss).
 *
 * @since 0.1.0
 * @category metrics
 */
export const eventsReplayed: Metric.Histogram<number> = Metric.histogram(
  "effect_snapshots_events_replayed",
  eventsReplayedOptions
)

/**
 * Duration of successful loads, in milliseconds (attribute `time_unit`, as `Metric.timer` sets it).
 *
 * @since 0.1.0
 * @category metrics
 */
export const loadDuration: Metric.Histogram<Duration.Duration> = Metric.mapInput(
  Metric.histogram("effect_snapshots_load_duration", { ...loadDurationOptions, attributes: timeUnit }),
  Duration.toMillis
)

/**
 * Snapshots written (by the strategy after a commit, or to replace an unusable one).
 *
 * @since 0.1.0
 * @category metrics
 */
export const snapshotsWritten: Metric.Counter<number> = counter("snapshotsWritten")

/**
 * Snapshots a strategy called for that were not written because the store already had one at or past the due
 * point (`SnapshotStore.saveIfDue` answered `AlreadyCovered`): another instance's writer served that due point
 * first. Not counted in `snapshotsWritten`.
 *
 * @since 1.1.0
 * @category metrics
 */
export const snapshotsCovered: Metric.Counter<number> = counter("snapshotsCovered")

/**
 * Snapshot writes that failed; the failure was logged and swallowed (a command never fails for it).
 *
 * @since 0.1.0
 * @category metrics
 */
export const snapshotFailures: Metric.Counter<number> = counter("snapshotFailures")

/**
 * Background snapshot requests dropped because the queue was full.
 *
 * @since 0.1.0
 * @category metrics
 */
export const queueDrops: Metric.Counter<number> = counter("queueDrops")

/**
 * Snapshots found but not used, by reason (see `Aggregate.SkipReason`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const snapshotsSkipped: Metric.Counter<number> = counter("snapshotsSkipped")

/**
 * Migrated snapshot states found different from a full replay of the stream (a wrong migration): each was
 * discarded, the aggregate replayed and the snapshot replaced (see `Migration.CheckOptions`).
 *
 * @since 1.1.0
 * @category metrics
 */
export const migrationMismatches: Metric.Counter<number> = counter("migrationMismatches")

/**
 * The metrics of one aggregate type, each the same series as the exported metric with the attribute
 * `aggregate_type` (`Metric.withAttributes(SnapshotMetrics.cacheHits, { aggregate_type })` reads it).
 *
 * The repository builds them once, at construction. They are built with their attributes rather than through
 * `Metric.withAttributes`, which puts its attributes into the context on every update: a metric's own
 * attributes are fixed, so Effect computes its series key once and each update is a registry lookup.
 *
 * @since 0.1.0
 * @category metrics
 */
export const forAggregateType = (aggregateType: string) => {
  const attributes = { aggregate_type: aggregateType }
  const byReason = new Map<SkipReason, Metric.Counter<number>>()
  return {
    hits: counter("snapshotHits", attributes),
    cacheHits: counter("cacheHits", attributes),
    misses: counter("snapshotMisses", attributes),
    replayed: Metric.histogram(eventsReplayed.id, { ...eventsReplayedOptions, attributes }),
    duration: Metric.mapInput(
      Metric.histogram(loadDuration.id, { ...loadDurationOptions, attributes: { ...timeUnit, ...attributes } }),
      Duration.toMillis
    ),
    written: counter("snapshotsWritten", attributes),
    failures: counter("snapshotFailures", attributes),
    covered: counter("snapshotsCovered", attributes),
    drops: counter("queueDrops", attributes),
    migrationMismatches: counter("migrationMismatches", attributes),
    skipped: (reason: SkipReason): Metric.Counter<number> => {
      let metric = byReason.get(reason)
      if (metric === undefined) {
        metric = counter("snapshotsSkipped", { ...attributes, reason })
        byReason.set(reason, metric)
      }
      return metric
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The known-state cache's gauges: what the repositories' caches hold.
// ---------------------------------------------------------------------------------------------------------------

const cacheBytesOptions = {
  description: "Estimated heap bytes of the states held by the repositories' caches (bounded by cacheMaxBytes each)"
}
const cacheEntriesOptions = { description: "States held by the repositories' caches" }

/**
 * The estimated heap the repositories' known-state caches hold, in bytes: per repository at most its
 * `cacheMaxBytes`; the sum over the repositories of an aggregate type (attribute `aggregate_type`).
 *
 * @since 1.1.0
 * @category metrics
 */
export const cacheBytes: Metric.Gauge<number> = Metric.gauge("effect_snapshots_cache_bytes", cacheBytesOptions)

/**
 * The states the repositories' known-state caches hold (attribute `aggregate_type`).
 *
 * @since 1.1.0
 * @category metrics
 */
export const cacheEntries: Metric.Gauge<number> = Metric.gauge("effect_snapshots_cache_entries", cacheEntriesOptions)

/**
 * The cache gauges of one aggregate type: the same series as `cacheBytes` and `cacheEntries` with the
 * attribute `aggregate_type`.
 *
 * @since 1.1.0
 * @category metrics
 */
export const cacheForAggregateType = (aggregateType: string): {
  readonly cacheBytes: Metric.Gauge<number>
  readonly cacheEntries: Metric.Gauge<number>
} => {
  const attributes = { aggregate_type: aggregateType }
  return {
    cacheBytes: Metric.gauge(cacheBytes.id, { ...cacheBytesOptions, attributes }),
    cacheEntries: Metric.gauge(cacheEntries.id, { ...cacheEntriesOptions, attributes })
  }
}
