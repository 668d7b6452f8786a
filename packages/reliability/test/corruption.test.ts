/**
 * Corruption: a snapshot that cannot be trusted is skipped, the aggregate replayed, the snapshot replaced
 * by a sound one, and the skip counted in `effect_snapshots_snapshots_skipped{reason}`.
 *
 * - On Postgres (PGlite without PG_URL) the corruption is planted in the snapshot table by SQL: a gzip'd
 *   state whose JSON is truncated, bad gzip and brotli bytes, an unknown schemaVersion, a stale fingerprint,
 *   a version above the stream, and a row holding another aggregate's snapshot. Three stacks: the SQL store
 *   under `compressed`; `resilient` next to the store, under `compressed` (the order the store's README
 *   recommends); and the reverse. `resilient` passes every failure on, so the repository skips and replaces
 *   in all three.
 * - On memory, the store answers a corrupt snapshot once (`Faults.corruptSnapshot`), including a snapshot
 *   whose aggregate type or id is not the one asked for.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import type { Aggregate } from "@effect-snapshots/loader"
import { EventSourcedRepository, EventStore, SnapshotMetrics } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Checks, Faults, Pcg } from "@effect-snapshots/reliability"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { SqlClient } from "effect/sql"
import * as zlib from "node:zlib"
import { record } from "./utils/figures.js"

const metrics = SnapshotMetrics.forAggregateType("Account")

const skipped = (reason: Aggregate.SkipReason) =>
  Effect.map(Metric.value(metrics.skipped(reason)), (state) => state.count)

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, References.MinimumLogLevel, "Error")

interface Outcome {
  readonly problems: ReadonlyArray<string>
}

/**
 * After the corruption was planted for `id` (whose stream is at `version`): the load is the full replay and
 * used no snapshot, the skip was counted once with `reason`, the snapshot was replaced by a sound one, and the
 * next load starts from it without another skip.
 */
const expectRecovered = Effect.fnUntraced(function*(
  repo: EventSourcedRepository.EventSourcedRepository<Account.State, Account.Event>,
  id: string,
  reason: Aggregate.SkipReason
) {
  const problems: Array<string> = []
  const count = skipped(reason)
  const before = yield* count
  const replay = yield* Account.replay(id)
  const loaded = yield* repo.load(id)
  yield* repo.flush
  if (!Account.sameState(loaded.state, replay.state) || loaded.version !== replay.version) {
    problems.push(`${id}: the load is not the full replay`)
  }
  if (Option.isSome(loaded.snapshotVersion)) {
    problems.push(`${id}: the load used the corrupt snapshot (at ${loaded.snapshotVersion.value})`)
  }
  const counted = (yield* count) - before
  if (counted !== 1) problems.push(`${id}: the repository counted the skip ${counted} times, expected 1`)
  // The repository now knows the state (its next load would not read a snapshot): ask another instance.
  const another = yield* EventSourcedRepository.make(Account.Account, { strategy: SnapshotStrategy.never })
  const again = yield* another.load(id)
  if (Option.getOrUndefined(again.snapshotVersion) !== replay.version) {
    problems.push(
      `${id}: not replaced: the next load started from ${
        Option.getOrElse(again.snapshotVersion, () => "no snapshot")
      }, expected a snapshot at ${replay.version}`
    )
  }
  if ((yield* count) - before !== counted) problems.push(`${id}: skipped again after the replacement`)
  // The corrupt snapshot may stay in the history below its replacement (a newer snapshot hides it).
  const report = yield* Checks.aggregate(repo, id, { snapshots: false })
  problems.push(...report.problems.map((p) => `${id}: ${p}`))
  const outcome: Outcome = { problems }
  return outcome
})

// ---------------------------------------------------------------------------------------------------------------
// SQL: corruption planted in the table
// ---------------------------------------------------------------------------------------------------------------

type Planted =
  | "TruncatedJson"
  | "BadGzip"
  | "BadBrotli"
  | "UnknownSchemaVersion"
  | "StaleFingerprint"
  | "VersionAboveStream"
  | "ForeignRow"

const plantedReason: Record<Planted, Aggregate.SkipReason> = {
  TruncatedJson: "DecodeFailure",
  BadGzip: "DecodeFailure",
  BadBrotli: "DecodeFailure",
  UnknownSchemaVersion: "NoMigration",
  StaleFingerprint: "StaleFingerprint",
  VersionAboveStream: "AboveStream",
  ForeignRow: "StreamMismatch"
}

const rng = new Pcg.Pcg(4439)
const garbage = (n: number) => Buffer.from(Array.from({ length: n }, () => rng.integer(256)))

/** Corrupt the newest snapshot row of `id` in `table`. */
const plant = Effect.fnUntraced(function*(table: string, id: string, kind: Planted, donor: string) {
  const sql = yield* SqlClient.SqlClient
  const t = sql(table)
  const [row] = yield* sql<{ version: number }>`
      SELECT version::int AS version FROM ${t}
      WHERE aggregate_type = 'Account' AND aggregate_id = ${id} ORDER BY version DESC LIMIT 1`
  assert.isDefined(row, `${id} has a snapshot`)
  const where = sql`aggregate_type = 'Account' AND aggregate_id = ${id} AND version = ${row!.version}`
  switch (kind) {
    case "TruncatedJson": {
      // the stored bytes are gzip; inflate, cut the JSON in half, deflate again: valid gzip, broken JSON
      const [bytes] = yield* sql<{ b: Uint8Array }>`SELECT state_bytes AS b FROM ${t} WHERE ${where}`
      const text = zlib.gunzipSync(bytes!.b).toString("utf8")
      const cut = zlib.gzipSync(Buffer.from(text.slice(0, Math.floor(text.length / 2)), "utf8"))
      yield* sql`UPDATE ${t} SET state_bytes = ${cut} WHERE ${where}`
      break
    }
    case "BadGzip": {
      const bytes = garbage(80)
      bytes[0] = 0x1f
      bytes[1] = 0x8b
      bytes[2] = 0x08
      yield* sql`UPDATE ${t} SET state_bytes = ${bytes} WHERE ${where}`
      break
    }
    case "BadBrotli":
      yield* sql`UPDATE ${t} SET encoding = 'brotli', state_bytes = ${garbage(80)} WHERE ${where}`
      break
    case "UnknownSchemaVersion":
      yield* sql`UPDATE ${t} SET schema_version = 99 WHERE ${where}`
      break
    case "StaleFingerprint":
      yield* sql`UPDATE ${t} SET metadata = jsonb_set(metadata, '{fingerprint}', '"0123456789abcdef"') WHERE ${where}`
      break
    case "VersionAboveStream":
      yield* sql`UPDATE ${t} SET version = version + 100 WHERE ${where}`
      break
    case "ForeignRow":
      // the donor's snapshot (same shape and version, another stream) under this aggregate's key
      yield* sql`UPDATE ${t} SET (state, state_text, state_bytes, encoding, metadata) = (
          SELECT d.state, d.state_text, d.state_bytes, d.encoding, d.metadata FROM ${t} d
          WHERE d.aggregate_type = 'Account' AND d.aggregate_id = ${donor} AND d.version = ${row!.version})
          WHERE ${where}`
      break
  }
})

type Stack = "compressed" | "resilient, then compressed" | "compressed, then resilient"

const sqlStack = (table: string, stack: Stack) => {
  const base = SqlSnapshotStore.layerWith({ table })
  switch (stack) {
    case "compressed":
      return base.pipe(SnapshotStore.compressed({ thresholdBytes: 0 }))
    case "resilient, then compressed":
      return base.pipe(SnapshotStore.resilient(), SnapshotStore.compressed({ thresholdBytes: 0 }))
    case "compressed, then resilient":
      return base.pipe(SnapshotStore.compressed({ thresholdBytes: 0 }), SnapshotStore.resilient())
  }
}

const Db = Postgres.layerTest("reliability_corruption", { maxConnections: 4 })
const Base = SqlEventStore.layer.pipe(Layer.provideMerge(Db))

describe("corruption planted in the snapshot table (SQL)", () => {
  layer(Base, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    for (
      const [stack, table, prefix] of [
        ["compressed", "snapshots_c", "c"],
        ["resilient, then compressed", "snapshots_rc", "rc"],
        ["compressed, then resilient", "snapshots_cr", "cr"]
      ] as const
    ) {
      it.effect(`${stack}: each kind skipped, replayed, replaced and counted`, () =>
        Effect.gen(function*() {
          const started = Date.now()
          const store = yield* Layer.build(sqlStack(table, stack))
          return yield* Effect.gen(function*() {
            const repo = yield* EventSourcedRepository.make(Account.Account, {
              strategy: SnapshotStrategy.everyNEvents(5)
            })
            const kinds = Object.keys(plantedReason) as Array<Planted>
            const donor = `${prefix}-donor`
            // every aggregate (and the donor) at version 12 with snapshots at 5 and 10
            for (const id of [donor, ...kinds.map((k) => `${prefix}-${k}`)]) {
              for (const [from, size] of [[0, 5], [5, 5], [10, 2]] as const) {
                yield* repo.save(id, from, Account.batch(`${id}-${from}`, size, () => rng.number()))
              }
            }
            const problems: Array<string> = []
            for (const kind of kinds) {
              const id = `${prefix}-${kind}`
              yield* plant(table, id, kind, donor)
              // a fresh repository: nothing of the aggregate is cached
              const fresh = yield* EventSourcedRepository.make(Account.Account, {
                strategy: SnapshotStrategy.everyNEvents(5)
              })
              const outcome = yield* expectRecovered(fresh, id, plantedReason[kind])
              problems.push(...outcome.problems.map((p) => `${kind}: ${p}`))
            }
            record(`corruption (SQL)`, {
              casesTried: kinds.length,
              faultsInjected: kinds.length,
              mismatches: problems.filter((p) => p.includes("not the full replay")).length
            }, Date.now() - started)
            assert.deepStrictEqual(problems, [])
          }).pipe(Effect.provideContext(store))
        }).pipe(quiet))
    }
  })
})

// ---------------------------------------------------------------------------------------------------------------
// memory: the store answers a corrupt snapshot once
// ---------------------------------------------------------------------------------------------------------------

const memoryReason: Record<Faults.Corruption, Aggregate.SkipReason> = {
  TruncatedJson: "DecodeFailure",
  WrongShape: "DecodeFailure",
  BadGzip: "DecodeFailure",
  BadBrotli: "DecodeFailure",
  UnknownSchemaVersion: "NoMigration",
  StaleFingerprint: "StaleFingerprint",
  VersionAboveStream: "AboveStream",
  WrongAggregateType: "StreamMismatch",
  WrongAggregateId: "StreamMismatch"
}

describe("corrupt snapshots answered by the store (memory)", () => {
  it.effect("each kind skipped, replayed, replaced and counted", () => {
    let corruptNext: Faults.Corruption | undefined
    const corrupting = Layer.effect(
      SnapshotStore.SnapshotStore,
      Effect.map(SnapshotStore.SnapshotStore, (inner): SnapshotStore.SnapshotStoreService => ({
        ...inner,
        load: (type, id, options) =>
          Effect.map(inner.load(type, id, options), (found) => {
            const kind = corruptNext
            corruptNext = undefined
            return kind === undefined ? found : Option.map(found, (s) => Faults.corruptSnapshot(s, kind))
          })
      }))
    ).pipe(Layer.provide(SnapshotStore.layerMemory))
    return Effect.gen(function*() {
      const started = Date.now()
      const repo = yield* EventSourcedRepository.make(Account.Account, { strategy: SnapshotStrategy.everyNEvents(5) })
      const problems: Array<string> = []
      for (const kind of Faults.corruptions) {
        const id = `m-${kind}`
        for (const [from, size] of [[0, 5], [5, 5], [10, 2]] as const) {
          yield* repo.save(id, from, Account.batch(`${id}-${from}`, size, () => rng.number()))
        }
        corruptNext = kind
        const fresh = yield* EventSourcedRepository.make(Account.Account, {
          strategy: SnapshotStrategy.everyNEvents(5)
        })
        const outcome = yield* expectRecovered(fresh, id, memoryReason[kind])
        problems.push(...outcome.problems.map((p) => `${kind}: ${p}`))
      }
      record(`corruption (memory)`, {
        casesTried: Faults.corruptions.length,
        faultsInjected: Faults.corruptions.length
      }, Date.now() - started)
      assert.deepStrictEqual(problems, [])
    }).pipe(Effect.provide(Layer.merge(EventStore.layerMemory, corrupting)), quiet)
  })
})
