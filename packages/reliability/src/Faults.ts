/**
 * Fault injection for the reliability suite: wrappers around a `SnapshotStore`, an `EventStore` or a
 * `SqlClient` that fail a chosen share of calls, add latency, hang, or answer corrupt snapshots / rows.
 * Every decision comes from a seeded PCG generator, so a run is reproducible from its seed (given the same
 * order of calls), and every injected fault is counted.
 *
 * @since 0.1.0
 */
import { EventStore, EventStoreError } from "@effect-snapshots/loader/EventStore"
import { CompressedState, Snapshot } from "@effect-snapshots/store/Snapshot"
import { SnapshotStore, SnapshotStoreError } from "@effect-snapshots/store/SnapshotStore"
import type { SnapshotStoreService } from "@effect-snapshots/store/SnapshotStore"
import { makeCompiler } from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import type { SqlConnection } from "effect/sql"
import { ConnectionError, SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import { Pcg } from "./Pcg.js"

/**
 * What to inject. Rates are shares of calls in [0, 1]; they are exclusive (one call gets at most one of
 * fail / hang / corrupt), so their sum must not exceed 1.
 *
 * @since 0.1.0
 */
export interface Plan {
  /** Share of calls that fail with the service's "Unavailable" error. */
  readonly failRate?: number | undefined
  /** Share of calls that never answer (until interrupted, e.g. by a timeout). */
  readonly hangRate?: number | undefined
  /** Share of reads that answer corrupt data (a corrupt snapshot, or corrupt rows). */
  readonly corruptRate?: number | undefined
  /** Latency added to every call that is not failed or hung: a fixed duration or a uniform [min, max]. */
  readonly latency?: Duration.Input | readonly [Duration.Input, Duration.Input] | undefined
}

/**
 * How many faults were injected, by kind.
 *
 * @since 0.1.0
 */
export interface Counters {
  calls: number
  failed: number
  hung: number
  corrupted: number
  delayed: number
}

/**
 * A seeded source of fault decisions with its counters. `enabled` can be switched off while a test sets
 * up (migrations, seeding) and on again; a disabled injector passes every call through and counts nothing.
 *
 * @since 0.1.0
 */
export interface Injector {
  readonly seed: number
  readonly plan: Plan
  readonly counters: Counters
  enabled: boolean
  /** A uniform number in [0, 1) from the injector's generator. */
  readonly random: () => number
  /** The decision for one call; counts it. */
  readonly decide: (canCorrupt: boolean) => Decision
  /** Total faults injected (failed + hung + corrupted); latency is not a fault. */
  readonly injected: () => number
}

/**
 * @since 0.1.0
 */
export type Decision =
  | { readonly _tag: "Pass"; readonly delay: Duration.Duration }
  | { readonly _tag: "Fail" }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Corrupt"; readonly delay: Duration.Duration }

const checkRate = (name: string, rate: number | undefined): number => {
  const r = rate ?? 0
  if (!(r >= 0 && r <= 1)) throw new RangeError(`Faults: ${name} must be within [0, 1], got ${r}`)
  return r
}

/**
 * A seeded injector.
 *
 * @since 0.1.0
 */
export const makeInjector = (seed: number, plan: Plan): Injector => {
  const failRate = checkRate("failRate", plan.failRate)
  const hangRate = checkRate("hangRate", plan.hangRate)
  const corruptRate = checkRate("corruptRate", plan.corruptRate)
  if (failRate + hangRate + corruptRate > 1) {
    throw new RangeError("Faults: failRate + hangRate + corruptRate must not exceed 1")
  }
  const rng = new Pcg(seed >>> 0)
  const [minLatency, maxLatency] = plan.latency === undefined
    ? [0, 0]
    : Array.isArray(plan.latency)
    ? [Duration.toMillis(plan.latency[0]), Duration.toMillis(plan.latency[1])]
    : [Duration.toMillis(plan.latency as Duration.Input), Duration.toMillis(plan.latency as Duration.Input)]
  const counters: Counters = { calls: 0, failed: 0, hung: 0, corrupted: 0, delayed: 0 }
  const delay = (): Duration.Duration => {
    if (maxLatency <= 0) return Duration.zero
    counters.delayed++
    return Duration.millis(minLatency + rng.number() * (maxLatency - minLatency))
  }
  const injector: Injector = {
    seed,
    plan,
    counters,
    enabled: true,
    random: () => rng.number(),
    decide: (canCorrupt) => {
      if (!injector.enabled) return { _tag: "Pass", delay: Duration.zero }
      counters.calls++
      const r = rng.number()
      if (r < failRate) {
        counters.failed++
        return { _tag: "Fail" }
      }
      if (r < failRate + hangRate) {
        counters.hung++
        return { _tag: "Hang" }
      }
      if (canCorrupt && r < failRate + hangRate + corruptRate) {
        counters.corrupted++
        return { _tag: "Corrupt", delay: delay() }
      }
      return { _tag: "Pass", delay: delay() }
    },
    injected: () => counters.failed + counters.hung + counters.corrupted
  }
  return injector
}

const sleep = (d: Duration.Duration) => Duration.toMillis(d) > 0 ? Effect.sleep(d) : Effect.void

/**
 * Run `effect` under a decision: fail with `onFail()`, hang, or pass (after the delay) through `onPass`.
 */
const apply = <A, E, R>(
  decision: Decision,
  effect: Effect.Effect<A, E, R>,
  onFail: () => E,
  onCorrupt: (a: A) => A = (a) => a
): Effect.Effect<A, E, R> => {
  switch (decision._tag) {
    case "Fail":
      return Effect.fail(onFail())
    case "Hang":
      return Effect.never
    case "Corrupt":
      return Effect.andThen(sleep(decision.delay), Effect.map(effect, onCorrupt))
    case "Pass":
      return Effect.andThen(sleep(decision.delay), effect)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Corrupt snapshots
// ---------------------------------------------------------------------------------------------------------------

/**
 * The ways a snapshot read back from a store can be wrong, each one something a repository must detect,
 * skip and replay past.
 *
 * @since 0.1.0
 */
export type Corruption =
  | "TruncatedJson"
  | "WrongShape"
  | "BadGzip"
  | "BadBrotli"
  | "UnknownSchemaVersion"
  | "StaleFingerprint"
  | "VersionAboveStream"
  | "WrongAggregateType"
  | "WrongAggregateId"

/**
 * @since 0.1.0
 */
export const corruptions: ReadonlyArray<Corruption> = [
  "TruncatedJson",
  "WrongShape",
  "BadGzip",
  "BadBrotli",
  "UnknownSchemaVersion",
  "StaleFingerprint",
  "VersionAboveStream",
  "WrongAggregateType",
  "WrongAggregateId"
]

const garbageBytes = (rng: () => number, n: number): Uint8Array => {
  const bytes = new Uint8Array(n)
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(rng() * 256)
  return bytes
}

/**
 * A corrupt copy of `snapshot`. `TruncatedJson` puts half of the state's JSON text where a JSON value
 * belongs (a store's text column read back without a closing brace); `StaleFingerprint` changes every
 * metadata value whose key mentions "fingerprint" (and adds one when there is none).
 *
 * @since 0.1.0
 */
export const corruptSnapshot = (snapshot: Snapshot, kind: Corruption, rng: () => number = Math.random): Snapshot => {
  const with_ = (patch: Partial<{ -readonly [K in keyof Snapshot]: Snapshot[K] }>) =>
    new Snapshot({ ...snapshot, ...patch }, { disableChecks: true })
  switch (kind) {
    case "TruncatedJson": {
      const text = JSON.stringify(snapshot.state) ?? "null"
      return with_({ state: text.slice(0, Math.max(1, Math.floor(text.length / 2))) })
    }
    case "WrongShape":
      return with_({ state: { corrupt: true, items: "not-an-array", n: "NaN" } })
    case "BadGzip": {
      // A gzip header followed by garbage: recognisably gzip, impossible to inflate.
      const bytes = garbageBytes(rng, 64)
      bytes[0] = 0x1f
      bytes[1] = 0x8b
      bytes[2] = 0x08
      return with_({ state: new CompressedState({ algorithm: "gzip", bytes }) })
    }
    case "BadBrotli":
      return with_({ state: new CompressedState({ algorithm: "brotli", bytes: garbageBytes(rng, 64) }) })
    case "UnknownSchemaVersion":
      return with_({ schemaVersion: snapshot.schemaVersion + 1000 })
    case "StaleFingerprint": {
      const metadata: Record<string, unknown> = {}
      let touched = false
      for (const [key, value] of Object.entries(snapshot.metadata)) {
        if (/fingerprint/i.test(key)) {
          metadata[key] = `stale-${String(value)}`
          touched = true
        } else {
          metadata[key] = value
        }
      }
      if (!touched) metadata.fingerprint = "stale-fingerprint"
      return with_({ metadata })
    }
    case "VersionAboveStream":
      return with_({ version: snapshot.version + 1_000_000 })
    case "WrongAggregateType":
      return with_({ aggregateType: `${snapshot.aggregateType}Other` })
    case "WrongAggregateId":
      return with_({ aggregateId: `${snapshot.aggregateId}-other` })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// SnapshotStore
// ---------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 */
export interface SnapshotStoreOptions {
  /** Which corruptions a corrupt load may answer (default: all of `corruptions`). */
  readonly corruptions?: ReadonlyArray<Corruption> | undefined
  /** Count of corrupt loads by kind, filled in as they are injected. */
  readonly corruptionCounts?: Partial<Record<Corruption, number>> | undefined
}

const unavailable = (method: string) => () =>
  new SnapshotStoreError({ reason: "Unavailable", message: `injected fault: SnapshotStore.${method} unavailable` })

/**
 * Wrap a SnapshotStore service: each call may fail ("Unavailable"), hang, be delayed, or (for `load` and
 * `latestForType`) answer a corrupt snapshot.
 *
 * @since 0.1.0
 */
export const snapshotStore = (
  inner: SnapshotStoreService,
  injector: Injector,
  options: SnapshotStoreOptions = {}
): SnapshotStoreService => {
  const kinds = options.corruptions ?? corruptions
  const corrupt = (o: Option.Option<Snapshot>): Option.Option<Snapshot> =>
    Option.map(o, (s) => {
      const kind = kinds[Math.floor(injector.random() * kinds.length)]!
      if (options.corruptionCounts) options.corruptionCounts[kind] = (options.corruptionCounts[kind] ?? 0) + 1
      return corruptSnapshot(s, kind, injector.random)
    })
  const wrap = <A>(
    method: string,
    effect: Effect.Effect<A, SnapshotStoreError>,
    onCorrupt?: (a: A) => A
  ): Effect.Effect<A, SnapshotStoreError> =>
    Effect.suspend(() => apply(injector.decide(onCorrupt !== undefined), effect, unavailable(method), onCorrupt))
  return {
    save: (snapshot) => wrap("save", inner.save(snapshot)),
    saveIfDue: (snapshot, opts) => wrap("saveIfDue", inner.saveIfDue(snapshot, opts)),
    ...(inner.now === undefined ? {} : { now: inner.now }),
    ...(inner.writesAfterCommit === undefined ? {} : { writesAfterCommit: inner.writesAfterCommit }),
    load: (type, id, opts) => wrap("load", inner.load(type, id, opts), corrupt),
    list: (type, id) => wrap("list", inner.list(type, id)),
    delete: (type, id, opts) => wrap("delete", inner.delete(type, id, opts)),
    latestForType: (type) => wrap("latestForType", inner.latestForType(type), corrupt),
    aggregates: (type) => Stream.unwrap(Effect.as(wrap("aggregates", Effect.void), inner.aggregates(type))),
    prune: (opts) => wrap("prune", inner.prune(opts))
  }
}

/**
 * The SnapshotStore decorator form: `SnapshotStore.layerMemory.pipe(Faults.layerSnapshotStore(injector))`.
 *
 * @since 0.1.0
 */
export const layerSnapshotStore =
  (injector: Injector, options: SnapshotStoreOptions = {}) =>
  <E, R>(inner: Layer.Layer<SnapshotStore, E, R>): Layer.Layer<SnapshotStore, E, R> =>
    Layer.effect(SnapshotStore, Effect.map(SnapshotStore, (s) => snapshotStore(s, injector, options))).pipe(
      Layer.provide(inner)
    )

// ---------------------------------------------------------------------------------------------------------------
// EventStore
// ---------------------------------------------------------------------------------------------------------------

const eventStoreUnavailable = (method: string) => () =>
  new EventStoreError({ reason: "Unavailable", message: `injected fault: EventStore.${method} unavailable` })

/**
 * Wrap an EventStore service: calls may fail ("Unavailable"), hang or be delayed. A failed `append` fails
 * BEFORE reaching the store, so nothing is written (use the SqlClient wrapper for faults inside a commit).
 * Latency widens race windows in concurrency tests.
 *
 * @since 0.1.0
 */
export const eventStore = (inner: EventStore["Service"], injector: Injector): EventStore["Service"] => {
  const wrap = <A, E>(method: string, effect: Effect.Effect<A, E | EventStoreError>) =>
    Effect.suspend(() => apply(injector.decide(false), effect, eventStoreUnavailable(method)))
  return {
    append: (type, id, expected, events) => wrap("append", inner.append(type, id, expected, events)),
    read: (type, id, opts) => Stream.unwrap(Effect.map(wrap("read", Effect.void), () => inner.read(type, id, opts))),
    readPage: (type, id, opts) => wrap("readPage", inner.readPage(type, id, opts)),
    readAll: (opts) => Stream.unwrap(Effect.map(wrap("readAll", Effect.void), () => inner.readAll(opts))),
    version: (type, id) => wrap("version", inner.version(type, id)),
    streams: (opts) => Stream.unwrap(Effect.map(wrap("streams", Effect.void), () => inner.streams(opts)))
  }
}

/**
 * @since 0.1.0
 */
export const layerEventStore =
  (injector: Injector) => <E, R>(inner: Layer.Layer<EventStore, E, R>): Layer.Layer<EventStore, E, R> =>
    Layer.effect(EventStore, Effect.map(EventStore, (s) => eventStore(s, injector))).pipe(Layer.provide(inner))

// ---------------------------------------------------------------------------------------------------------------
// SqlClient
// ---------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 */
export interface SqlClientOptions {
  /** Only statements whose SQL text matches are subject to faults (default: all). */
  readonly match?: RegExp | undefined
}

const corruptValue = (value: unknown, rng: () => number): unknown => {
  if (typeof value === "string") return value.slice(0, Math.floor(value.length / 2))
  if (value instanceof Uint8Array) {
    if (value.length === 0) return value
    const copy = Uint8Array.from(value.subarray(0, Math.max(1, Math.floor(value.length / 2))))
    for (let i = 0; i < copy.length; i += 7) copy[i] = Math.floor(rng() * 256)
    return copy
  }
  if (typeof value === "number") return value + 1_000_000
  if (value !== null && typeof value === "object") return { corrupt: true }
  return value
}

const corruptRows = (rows: ReadonlyArray<unknown>, rng: () => number): ReadonlyArray<unknown> =>
  rows.map((row) => {
    if (row === null || typeof row !== "object") return row
    const keys = Object.keys(row)
    if (keys.length === 0) return row
    const key = keys[Math.floor(rng() * keys.length)]!
    return { ...row, [key]: corruptValue((row as Record<string, unknown>)[key], rng) }
  })

/**
 * Wrap one connection: statements that match may fail with a `SqlError` (reason `ConnectionError`, the
 * retryable "unavailable" kind), hang, be delayed, or (SELECTs) answer rows with one column corrupted
 * (strings truncated, bytes truncated and flipped, numbers shifted, JSON replaced).
 *
 * @since 0.1.0
 */
export const connection = (
  inner: SqlConnection.Connection,
  injector: Injector,
  options: SqlClientOptions = {}
): SqlConnection.Connection => {
  const decideFor = (sql: string): Decision =>
    options.match === undefined || options.match.test(sql)
      ? injector.decide(/^\s*(select|with)\b/i.test(sql))
      : { _tag: "Pass", delay: Duration.zero }
  const fail = (sql: string) => () =>
    new SqlError({
      reason: new ConnectionError({
        message: `injected fault: ${sql.slice(0, 60)}`,
        cause: new Error("injected fault")
      })
    })
  const rows = <A>(a: A): A => corruptRows(a as ReadonlyArray<unknown>, injector.random) as A
  return {
    execute: (sql, params, transform) =>
      Effect.suspend(() => apply(decideFor(sql), inner.execute(sql, params, transform), fail(sql), rows)),
    executeRaw: (sql, params) => Effect.suspend(() => apply(decideFor(sql), inner.executeRaw(sql, params), fail(sql))),
    executeValues: (sql, params) =>
      Effect.suspend(() => apply(decideFor(sql), inner.executeValues(sql, params), fail(sql))),
    executeValuesUnprepared: (sql, params) =>
      Effect.suspend(() => apply(decideFor(sql), inner.executeValuesUnprepared(sql, params), fail(sql))),
    executeUnprepared: (sql, params, transform) =>
      Effect.suspend(() => apply(decideFor(sql), inner.executeUnprepared(sql, params, transform), fail(sql), rows)),
    executeStream: (sql, params, transform) =>
      Stream.unwrap(Effect.suspend(() =>
        Effect.map(
          apply(decideFor(sql), Effect.void, fail(sql)),
          () => inner.executeStream(sql, params, transform)
        )
      ))
  }
}

/**
 * The inner client's own (non-transaction) statements, as a connection: each one runs as the inner client
 * runs a statement outside a transaction (with `PgClient`, on a connection borrowed from its pool for that
 * statement only).
 */
const plainConnection = (inner: SqlClient.SqlClient): SqlConnection.Connection => ({
  execute: (sql, params) => inner.unsafe(sql, params),
  executeRaw: (sql, params) => inner.unsafe(sql, params).raw,
  executeValues: (sql, params) => inner.unsafe(sql, params).values,
  executeValuesUnprepared: (sql, params) => inner.unsafe(sql, params).valuesUnprepared,
  executeUnprepared: (sql, params) => inner.unsafe(sql, params).unprepared,
  executeStream: (sql, params) => inner.unsafe(sql, params).stream
})

/**
 * A Postgres `SqlClient` whose statements go through `connection(...)`. Plain statements run as the inner
 * client's own; a transaction reserves one of its pooled connections (the wrapper has its own transaction
 * service, so a transaction of the wrapper never joins one of the inner client, and the other way round).
 * Provide it only to the store under test:
 * `SqlSnapshotStore.layer.pipe(Layer.provide(Faults.layerSqlClient(injector)))`.
 *
 * Beware: interrupting a transaction's statement (a timeout around it) leaves that transaction to the
 * driver's cleanup; a fault-injected store should not use transactions under timeouts.
 *
 * @since 0.1.0
 */
export const layerSqlClient = (
  injector: Injector,
  options: SqlClientOptions = {}
): Layer.Layer<SqlClient.SqlClient, never, SqlClient.SqlClient> =>
  Layer.effect(
    SqlClient.SqlClient,
    Effect.gen(function*() {
      const inner = (yield* SqlClient.SqlClient).withoutTransforms()
      const plain = connection(plainConnection(inner), injector, options)
      return yield* SqlClient.make({
        driver: inner.driver,
        acquirer: Effect.succeed(plain),
        transactionAcquirer: Effect.map(inner.reserve, (conn) => connection(conn, injector, options)),
        compiler: makeCompiler(),
        spanAttributes: [["reliability.faults", true]]
      })
    })
  ).pipe(Layer.provide(Reactivity.layer))

// ---------------------------------------------------------------------------------------------------------------
// Instrumentation
// ---------------------------------------------------------------------------------------------------------------

/**
 * How many full replays (stream reads from the start) run at once, at most, and in all.
 *
 * @since 0.1.0
 */
export interface ReplayGauge {
  /** Count only while true (switch off for checks that read streams themselves). */
  active: boolean
  current: number
  max: number
  total: number
}

/**
 * @since 0.1.0
 */
export const makeReplayGauge = (): ReplayGauge => ({ active: true, current: 0, max: 0, total: 0 })

/**
 * Wrap an EventStore so that every `read` without `fromVersion` (a full replay; a tail read after a
 * snapshot always gives one) is counted while its stream runs.
 *
 * @since 0.1.0
 */
export const countFullReplays = (inner: EventStore["Service"], gauge: ReplayGauge): EventStore["Service"] => ({
  ...inner,
  read: (type, id, options) => {
    if (options?.fromVersion !== undefined && options.fromVersion > 1) return inner.read(type, id, options)
    return Stream.unwrap(
      Effect.acquireRelease(
        Effect.sync(() => {
          const counted = gauge.active
          if (counted) {
            gauge.current++
            gauge.total++
            if (gauge.current > gauge.max) gauge.max = gauge.current
          }
          return counted
        }),
        (counted) => Effect.sync(() => counted && gauge.current--)
      ).pipe(Effect.as(inner.read(type, id, options)))
    )
  }
})

/**
 * @since 0.1.0
 */
export const layerCountFullReplays =
  (gauge: ReplayGauge) => <E, R>(inner: Layer.Layer<EventStore, E, R>): Layer.Layer<EventStore, E, R> =>
    Layer.effect(EventStore, Effect.map(EventStore, (s) => countFullReplays(s, gauge))).pipe(Layer.provide(inner))
