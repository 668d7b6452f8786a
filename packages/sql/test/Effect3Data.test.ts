/**
 * Data written by the last Effect 3 build (commit 287ca39) loads under the Effect 4 port.
 *
 * `fixtures/effect3/effect3.sql` is a pg_dump of a schema that the Effect 3 library wrote through its public API
 * (see the folder's README); `expected.json` holds what Effect 3 loaded from it. The dump is restored into this
 * file's fresh database (a schema of PG_URL's server, else an embedded PGlite), the port's SQL stores (with the
 * same `compressed` decorator) are built over it, and for EVERY aggregate of the fixture:
 * - the state Schema (the same user Schema in Effect 4 syntax, `fixtures/effect3/aggregates.ts`) has the Effect 3
 *   fingerprint, and so do the single-kind Schemas the fixture records;
 * - a load gives a state whose encoded JSON is byte for byte the Effect 3 one, at the same version, FROM THE SAME
 *   SNAPSHOT (no fall-back to replay: no snapshot skipped, counted as a miss, or warned about);
 * - every stored event reads back (`read` and `readAll`) as Effect 3 stored it and decodes.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate, EventSourcedRepository, EventStore, SnapshotMetrics } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Result from "effect/Result"
import { SqlClient } from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as Fixture from "./fixtures/effect3/aggregates.js"

// -----------------------------------------------------------------------------------------------------------
// the fixture
// -----------------------------------------------------------------------------------------------------------

interface ExpectedEvent {
  readonly version: number
  readonly position: number
  readonly type: string
  readonly payload: unknown
  readonly metadata: Record<string, unknown>
}

interface ExpectedAggregate {
  readonly aggregateType: keyof typeof Fixture.current
  readonly aggregateId: string
  readonly note: string
  readonly version: number
  readonly snapshotVersion: number | null
  readonly replayed: number
  readonly source: "snapshot" | "replay"
  readonly snapshots: ReadonlyArray<{ readonly version: number; readonly schemaVersion: number }>
  readonly stateJson: string
  readonly events: ReadonlyArray<ExpectedEvent>
}

interface Expected {
  readonly commit: string
  readonly schema: string
  readonly compressThresholdBytes: number
  readonly fingerprints: ReadonlyArray<
    { readonly name: string; readonly fingerprint: string; readonly description: string }
  >
  readonly aggregateFingerprints: Record<keyof typeof Fixture.current, string>
  readonly counterV1Fingerprint: string
  readonly aggregates: ReadonlyArray<ExpectedAggregate>
}

const fixtureFile = (name: string) => fs.readFileSync(new URL(`./fixtures/effect3/${name}`, import.meta.url), "utf8")
const expected: Expected = JSON.parse(fixtureFile("expected.json"))
const dump = fixtureFile("effect3.sql")

type AnyAggregate = Aggregate.Aggregate.Any
const aggregateOf = (type: keyof typeof Fixture.current): AnyAggregate =>
  Fixture.current[type] as unknown as AnyAggregate

// -----------------------------------------------------------------------------------------------------------
// restoring the dump
// -----------------------------------------------------------------------------------------------------------

/**
 * pg_dump's plain SQL as statements: comments and psql meta-commands (`\restrict`) dropped, string literals,
 * quoted identifiers and dollar-quoted function bodies kept whole.
 */
const splitStatements = (text: string): Array<string> => {
  const statements: Array<string> = []
  let current = ""
  let i = 0
  const until = (closing: string, from: number): number => {
    const end = text.indexOf(closing, from)
    if (end === -1) throw new Error(`unterminated ${closing} at ${from}`)
    return end + closing.length
  }
  while (i < text.length) {
    const c = text[i]!
    if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i)
      i = end === -1 ? text.length : end + 1
    } else if (c === "\\" && current.trim() === "") {
      const end = text.indexOf("\n", i)
      i = end === -1 ? text.length : end + 1
    } else if (c === "'" || c === "\"") {
      // '' (or "") inside is two literals back to back: the loop takes them as such
      const end = until(c, i + 1)
      current += text.slice(i, end)
      i = end
    } else if (c === "$" && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(text.slice(i, i + 64))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64))![0]
      const end = until(tag, i + tag.length)
      current += text.slice(i, end)
      i = end
    } else if (c === ";") {
      if (current.trim() !== "") statements.push(current.trim())
      current = ""
      i++
    } else {
      current += c
      i++
    }
  }
  if (current.trim() !== "") statements.push(current.trim())
  return statements
}

const quoteIdent = (name: string) => `"${name.replaceAll("\"", "\"\"")}"`

/** Statements that set up pg_dump's session (search_path '' among them) or create the dump's own schema. */
const isSessionOrSchema = (statement: string) =>
  /^SET\s/i.test(statement) ||
  /^SELECT pg_catalog\.set_config\(/i.test(statement) ||
  new RegExp(`^CREATE SCHEMA ${expected.schema}$`).test(statement)

/**
 * Restore the dump into the connection's current schema (this file's fresh one on PG_URL, `public` on PGlite).
 * `order_xid` holds transaction ids of the cluster that wrote the dump; on another cluster they may lie above
 * the snapshot horizon, where readAll would not show them yet: renumbered then, in the same order.
 */
const restore = Effect.gen(function*() {
  const sql = yield* SqlClient
  const [{ schema }] = yield* sql.unsafe<{ schema: string }>("SELECT current_schema() AS schema")
  const statements = splitStatements(dump)
    .filter((statement) => !isSessionOrSchema(statement))
    .map((statement) => statement.replaceAll(`${expected.schema}.`, `${quoteIdent(schema!)}.`))
  assert.isAbove(statements.length, 20)
  for (const statement of statements) {
    assert.notInclude(statement, expected.schema, "the dump's schema name is rewritten everywhere")
  }
  yield* sql.withTransaction(Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true }))
  const [horizon] = yield* sql.unsafe<{ max: string; xmin: string; distinct: string }>(
    `SELECT max(order_xid::text::numeric)::text AS max, count(DISTINCT order_xid)::text AS distinct,
            pg_snapshot_xmin(pg_current_snapshot())::text AS xmin
     FROM effect_snapshots_events`
  )
  if (BigInt(horizon!.max) >= BigInt(horizon!.xmin)) {
    assert.isBelow(Number(horizon!.distinct) + 2, Number(horizon!.xmin), "room below the horizon")
    yield* sql.unsafe(
      `UPDATE effect_snapshots_events e SET order_xid = (r.rank + 2)::text::xid8
       FROM (SELECT position, dense_rank() OVER (ORDER BY order_xid) AS rank FROM effect_snapshots_events) r
       WHERE e.position = r.position`
    )
  }
})

const Client = Postgres.layerTest("effect3_data")

const Stores = Layer.mergeAll(
  SqlEventStore.layer,
  SqlSnapshotStore.layer.pipe(SnapshotStore.compressed({ thresholdBytes: expected.compressThresholdBytes }))
).pipe(Layer.provide(Layer.effectDiscard(restore)), Layer.provideMerge(Client))

// -----------------------------------------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------------------------------------

const skipReasons: ReadonlyArray<Aggregate.SkipReason> = [
  "StaleFingerprint",
  "NoMigration",
  "MigrationFailed",
  "DecodeFailure",
  "AboveStream",
  "StreamMismatch",
  "Unavailable"
]

const count = (metric: Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

/** Every log line of `self` (down to Debug) instead of the console. */
const capturingLogs = <A, E, R>(self: Effect.Effect<A, E, R>, into: Array<string>) =>
  self.pipe(
    Effect.provide(Logger.layer([
      Logger.make(({ logLevel, message }) => {
        into.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
      })
    ])),
    Effect.provideService(References.MinimumLogLevel, "Debug")
  )

const stateJson = (aggregate: AnyAggregate, state: unknown): string => {
  const encoded = Aggregate.encodeState(aggregate, state)
  if (Result.isFailure(encoded)) assert.fail(`${aggregate.type}: the loaded state does not encode: ${encoded.failure}`)
  return JSON.stringify(encoded.success)
}

const plainEvent = (event: EventStore.StoredEvent): ExpectedEvent => ({
  version: event.version,
  position: Number(event.position),
  type: event.type,
  payload: event.payload,
  metadata: { ...event.metadata }
})

// -----------------------------------------------------------------------------------------------------------
// the tests
// -----------------------------------------------------------------------------------------------------------

describe(`data written by the last Effect 3 build (${expected.commit.slice(0, 7)})`, () => {
  it("covers what it claims", () => {
    assert.strictEqual(expected.aggregates.length, 11)
    assert.isTrue(expected.aggregates.some((a) => a.snapshotVersion === null))
    assert.isTrue(expected.aggregates.some((a) => a.snapshots.length >= 3))
    assert.isTrue(expected.aggregates.some((a) =>
      a.snapshots.some((s) => s.schemaVersion === 1) &&
      aggregateOf(a.aggregateType).schemaVersion === 2
    ))
  })

  it("the same Schemas in Effect 4 syntax have the Effect 3 fingerprints", () => {
    for (const { name, fingerprint, description } of expected.fingerprints) {
      const schema = Fixture.fingerprintSchemas[name]
      assert.isDefined(schema, name)
      assert.strictEqual(Aggregate.describeShape(schema!), description, name)
      assert.strictEqual(Aggregate.fingerprint(schema!), fingerprint, name)
    }
    for (const [type, fingerprint] of Object.entries(expected.aggregateFingerprints)) {
      assert.strictEqual(aggregateOf(type as keyof typeof Fixture.current).fingerprint, fingerprint, type)
    }
    assert.strictEqual(Fixture.CounterV1.fingerprint, expected.counterV1Fingerprint)
  })

  layer(Stores, { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("the snapshot history reads back (plain and gzip-compressed, schema versions 1 and 2)", () =>
      Effect.gen(function*() {
        const snapshots = yield* SnapshotStore.SnapshotStore
        for (const a of expected.aggregates) {
          const infos = yield* snapshots.list(a.aggregateType, a.aggregateId)
          assert.deepStrictEqual(
            infos.map((i) => ({ version: Number(i.version), schemaVersion: Number(i.schemaVersion) })),
            a.snapshots,
            a.aggregateId
          )
        }
      }))

    it.effect("every event of every stream reads back as stored and decodes (read and readAll)", () =>
      Effect.gen(function*() {
        const events = yield* EventStore.EventStore
        let total = 0
        const byStream = new Map<string, ExpectedAggregate>()
        for (const a of expected.aggregates) {
          byStream.set(`${a.aggregateType}/${a.aggregateId}`, a)
          const aggregate = aggregateOf(a.aggregateType)
          const read = yield* Stream.runCollect(events.read(a.aggregateType, a.aggregateId))
          assert.deepStrictEqual(read.map(plainEvent), a.events, a.aggregateId)
          for (const event of read) {
            const decoded = Aggregate.decodeEvent(aggregate, event)
            if (Result.isFailure(decoded)) assert.fail(`${a.aggregateId}@${event.version}: ${decoded.failure.message}`)
          }
          assert.strictEqual(yield* events.version(a.aggregateType, a.aggregateId), a.version)
          total += read.length
        }
        const all = yield* Stream.runCollect(events.readAll())
        assert.strictEqual(all.length, total, "readAll returns every event")
        const seen = new Map<string, number>()
        for (const event of all) {
          const key = `${event.aggregateType}/${event.aggregateId}`
          const a = byStream.get(key)
          assert.isDefined(a, key)
          const next = (seen.get(key) ?? 0) + 1
          seen.set(key, next)
          assert.strictEqual(event.version, next, `${key}: readAll keeps each stream's order`)
          assert.deepStrictEqual(plainEvent(event), a!.events[next - 1], `${key}@${next}`)
          assert.isTrue(Result.isSuccess(Aggregate.decodeEvent(aggregateOf(a!.aggregateType), event)), key)
        }
      }))

    it.effect("every stored snapshot, not only the newest, restores to the fold of the events up to it", () =>
      Effect.gen(function*() {
        const snapshots = yield* SnapshotStore.SnapshotStore
        const events = yield* EventStore.EventStore
        let restored = 0
        for (const a of expected.aggregates) {
          const aggregate = aggregateOf(a.aggregateType)
          const decoded = (yield* Stream.runCollect(events.read(a.aggregateType, a.aggregateId))).map((event) => {
            const result = Aggregate.decodeEvent(aggregate, event)
            if (Result.isFailure(result)) {
              return assert.fail(`${a.aggregateId}@${event.version}: ${result.failure.message}`)
            }
            return result.success
          })
          for (const { version, schemaVersion } of a.snapshots) {
            const found = yield* snapshots.load(a.aggregateType, a.aggregateId, { maxVersion: version })
            if (Option.isNone(found)) return assert.fail(`${a.aggregateId}: no snapshot at ${version}`)
            const snapshot = found.value
            assert.strictEqual(Number(snapshot.version), version, a.aggregateId)
            assert.strictEqual(Number(snapshot.schemaVersion), schemaVersion, a.aggregateId)
            const state = Aggregate.restoreState(aggregate, snapshot)
            if (Result.isFailure(state)) {
              return assert.fail(`${a.aggregateId}@${version}: ${state.failure.reason}: ${state.failure.message}`)
            }
            assert.strictEqual(state.success.migrated, schemaVersion !== aggregate.schemaVersion, a.aggregateId)
            const folded = Aggregate.fold(aggregate, aggregate.initial(a.aggregateId), decoded.slice(0, version))
            assert.strictEqual(
              stateJson(aggregate, state.success.state),
              stateJson(aggregate, folded),
              `${a.aggregateId}@${version}`
            )
            restored++
          }
        }
        assert.strictEqual(restored, expected.aggregates.reduce((n, a) => n + a.snapshots.length, 0))
      }))

    it.effect("every aggregate loads from its snapshot to the Effect 3 state, byte for byte", () =>
      Effect.gen(function*() {
        const logs: Array<string> = []
        const fellBack: Array<string> = []
        for (const a of expected.aggregates) {
          const aggregate = aggregateOf(a.aggregateType)
          const metrics = SnapshotMetrics.forAggregateType(a.aggregateType)
          const skippedBefore = yield* Effect.forEach(skipReasons, (reason) => count(metrics.skipped(reason)))
          const missesBefore = yield* count(metrics.misses)
          const hitsBefore = yield* count(metrics.hits)
          const loaded = yield* capturingLogs(
            Effect.scoped(Effect.flatMap(
              EventSourcedRepository.make(aggregate, { strategy: SnapshotStrategy.never, cacheMaxBytes: 0 }),
              (repo) => repo.load(a.aggregateId)
            )),
            logs
          )
          const skipped = (yield* Effect.forEach(skipReasons, (reason) => count(metrics.skipped(reason))))
            .map((after, i) => after - skippedBefore[i]!)
          const misses = (yield* count(metrics.misses)) - missesBefore
          const hits = (yield* count(metrics.hits)) - hitsBefore

          if (a.snapshotVersion !== null && loaded.source !== "snapshot") fellBack.push(a.aggregateId)
          assert.strictEqual(stateJson(aggregate, loaded.state), a.stateJson, `${a.aggregateId}: state JSON`)
          assert.strictEqual(loaded.version, a.version, `${a.aggregateId}: version`)
          assert.deepStrictEqual(
            Option.getOrNull(loaded.snapshotVersion),
            a.snapshotVersion,
            `${a.aggregateId}: loaded from the snapshot Effect 3 loaded from`
          )
          assert.strictEqual(loaded.source, a.source, `${a.aggregateId}: source`)
          assert.strictEqual(loaded.replayed, a.replayed, `${a.aggregateId}: events folded`)
          assert.deepStrictEqual(
            Object.fromEntries(skipReasons.map((reason, i) => [reason, skipped[i]])),
            Object.fromEntries(skipReasons.map((reason) => [reason, 0])),
            `${a.aggregateId}: snapshots skipped`
          )
          assert.strictEqual(misses, a.snapshotVersion === null ? 1 : 0, `${a.aggregateId}: snapshot misses`)
          assert.strictEqual(hits, a.snapshotVersion === null ? 0 : 1, `${a.aggregateId}: snapshot hits`)
        }
        assert.deepStrictEqual(fellBack, [], "aggregates that fell back to replay")
        assert.deepStrictEqual(
          logs.filter((line) => /^(Warn|Error|Fatal):/.test(line) || /failed|not used|stale/i.test(line)),
          [],
          "warnings (a snapshot not used, a failed cold load)"
        )
      }))
  })
})
