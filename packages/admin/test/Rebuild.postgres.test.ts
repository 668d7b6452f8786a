/**
 * `rebuild` as an operator runs it after a deploy: a subprocess (node + tsx) against a real Postgres (PG_URL), in
 * a schema of its own, with the application's `Aggregates` registry. The seed wrote snapshots with the old state
 * Schema; after `rebuild` every stream (with or without a snapshot) loads from a fresh one.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import { afterAll, beforeAll } from "vitest"
import type { Cli } from "../src/index.js"
import { MeterV1, MeterV2, Ticked } from "./fixtures/meters.js"
import { fixture, parsed, runCli } from "./utils/cli.js"

// Each command is a node + tsx subprocess: ~10 s each on an idle 2-CPU machine, much more under load.
const timeout = 600_000

const url = process.env.PG_URL ?? ""
const schema = `admin_rebuild_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
const schemaUrl = (() => {
  if (url === "") return ""
  const parsedUrl = new URL(url)
  parsedUrl.searchParams.set("options", `-c search_path=${schema}`)
  return parsedUrl.toString()
})()

const admin = (...args: ReadonlyArray<string>) => runCli(fixture("metersBin.ts"), args, { PG_URL: schemaUrl })

const Stores = () =>
  Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
    Layer.provideMerge(Postgres.layerUrl(url, { schema, maxConnections: 2 }))
  )

const ids = Array.from({ length: 30 }, (_, i) => `m-${String(i).padStart(2, "0")}`)

/** 30 meters of 12 events before the deploy; the even ones with a snapshot at 10. */
const seed = Effect.scoped(Effect.gen(function*() {
  const snapshotting = yield* EventSourcedRepository.make(MeterV1, { strategy: SnapshotStrategy.everyNEvents(10) })
  const plain = yield* EventSourcedRepository.make(MeterV1, { strategy: SnapshotStrategy.never })
  for (const [i, id] of ids.entries()) {
    const events = Array.from({ length: 12 }, (_, k) => Ticked.make({ by: k + 1 }))
    yield* (i % 2 === 0 ? snapshotting : plain).save(id, 0, events)
  }
}))

describe.skipIf(url === "")("admin rebuild on Postgres", () => {
  beforeAll(() => Effect.runPromise(seed.pipe(Effect.provide(Stores()))), timeout)
  afterAll(() =>
    Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).pipe(
        Effect.provide(Postgres.layerUrl(url, { maxConnections: 1 })),
        Effect.scoped
      )
    )
  )

  it.effect(
    "rebuild --json: every stream gets a fresh snapshot; loads then come from snapshots; a second --only-stale pass skips all",
    () =>
      Effect.gen(function*() {
        const before = yield* admin("stats", "--json")
        assert.strictEqual(before.code, 0, before.stderr)
        const meterBefore = parsed<Cli.StatsReport>(before).types.find((t) => t.aggregateType === "Meter")!
        assert.strictEqual(meterBefore.staleAggregates, 15)

        const ran = yield* admin("rebuild", "--per-second", "500", "--concurrency", "3", "--json")
        assert.strictEqual(ran.code, 0, ran.stderr)
        const report = parsed<Cli.RebuildReport>(ran)
        assert.isTrue(report.ok)
        assert.strictEqual(report.perSecond, 500)
        assert.deepStrictEqual(
          report.types.map((t) => [t.aggregateType, t.total, t.done, t.written, t.skipped, t.failed, t.checkpoint]),
          [["Meter", 30, 30, 30, 0, 0, "m-29"]]
        )

        const loads = yield* Effect.scoped(Effect.gen(function*() {
          const repo = yield* EventSourcedRepository.make(MeterV2, {
            strategy: SnapshotStrategy.never,
            cacheMaxBytes: 0
          })
          return yield* Effect.forEach(ids, (id) => repo.load(id))
        })).pipe(Effect.provide(Stores()))
        assert.deepStrictEqual(
          new Set(loads.map((l) => `${l.source} ${l.replayed} ${l.state.total}`)),
          new Set(["snapshot 0 78"])
        )

        const again = yield* admin("rebuild", "--only-stale", "--type", "Meter", "--json")
        assert.strictEqual(again.code, 0, again.stderr)
        const second = parsed<Cli.RebuildReport>(again).types[0]!
        assert.deepStrictEqual([second.written, second.skipped], [0, 30])

        const resumed = yield* admin("rebuild", "--type", "Meter", "--resume-from", "m-24", "--json", "--no-progress")
        assert.strictEqual(resumed.code, 0, resumed.stderr)
        assert.strictEqual(parsed<Cli.RebuildReport>(resumed).types[0]!.total, 5)
      }),
    timeout
  )

  it.effect(
    "bad input is exit code 2 with one line: an unknown type, --resume-from without --type, --per-second 0",
    () =>
      Effect.gen(function*() {
        const [unknown, resume, rate] = yield* Effect.all([
          admin("rebuild", "--type", "Nope"),
          admin("rebuild", "--resume-from", "m-03"),
          admin("rebuild", "--per-second", "0")
        ], { concurrency: 3 })
        assert.strictEqual(unknown.code, 2)
        assert.match(unknown.stderr, /unknown aggregate type "Nope"; registered: Meter/)
        assert.strictEqual(resume.code, 2)
        assert.match(resume.stderr, /--resume-from needs --type/)
        assert.strictEqual(rate.code, 2)
        assert.match(rate.stderr, /--per-second must be > 0/)
      }),
    timeout
  )
})
