/**
 * The admin CLI as an operator runs it: a subprocess (node + tsx) against a real Postgres (PG_URL), in a
 * schema of its own (the URL's `options=-c search_path=...`), seeded by utils/seed.ts.
 */
import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import { afterAll, beforeAll } from "vitest"
import type { Cli } from "../src/index.js"
import { fixture, parsed, runCli } from "./utils/cli.js"

// Each command is a node + tsx subprocess: ~10 s each on an idle 2-CPU machine, ~100 s at a load average of 25.
const timeout = 600_000
import { bigState, seed } from "./utils/seed.js"

const url = process.env.PG_URL ?? ""
const schema = `admin_cli_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`

const schemaUrl = (() => {
  if (url === "") return ""
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return parsed.toString()
})()

const bin = fixture("bin.ts")
const admin = (...args: ReadonlyArray<string>) => runCli(bin, args, { PG_URL: schemaUrl })

const count = (where: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM ${sql(schema)}.effect_snapshots WHERE ${
        sql.literal(where)
      }`
  ).pipe(
    Effect.map((rows) => rows[0]!.n),
    Effect.provide(Postgres.layerUrl(url, { maxConnections: 1 })),
    Effect.scoped
  )

describe.skipIf(url === "")("admin CLI on Postgres", () => {
  beforeAll(() => Effect.runPromise(seed.pipe(Effect.provide(Postgres.layerUrl(url, { schema })), Effect.scoped)))
  afterAll(() =>
    Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).pipe(
        Effect.provide(Postgres.layerUrl(url, { maxConnections: 1 })),
        Effect.scoped
      )
    )
  )

  it.effect(
    "stats: per type counts, bytes, oldest/newest and the stale share of registered types",
    () =>
      Effect.gen(function*() {
        const [text, json] = yield* Effect.all([admin("stats"), admin("stats", "--json")], { concurrency: 2 })
        assert.strictEqual(json.code, 0, json.stderr)
        const report = parsed<Cli.StatsReport>(json)
        assert.strictEqual(report.table, "effect_snapshots")
        const byType = Object.fromEntries(report.types.map((t) => [t.aggregateType, t]))
        assert.deepStrictEqual(Object.keys(byType), ["Counter", "Gauge", "Other"])
        const counter = byType.Counter
        assert.strictEqual(counter.registered, true)
        assert.strictEqual(counter.aggregates, 3)
        assert.strictEqual(counter.snapshots, 4)
        assert.strictEqual(counter.staleSnapshots, 1)
        assert.strictEqual(counter.staleAggregates, 1)
        assert.strictEqual(counter.staleShare, 0.25)
        assert.isAbove(counter.bytes, 0)
        assert.match(counter.oldest ?? "", /^\d{4}-\d\d-\d\dT/)
        assert.strictEqual(byType.Gauge.staleSnapshots, 0)
        const other = byType.Other
        assert.strictEqual(other.registered, false)
        assert.strictEqual(other.staleSnapshots, null)
        assert.strictEqual(other.snapshots, 4)
        assert.isBelow(Date.parse(other.oldest ?? ""), Date.now() - 59 * 86_400_000)
        assert.deepStrictEqual(report.total.snapshots, 9)

        assert.strictEqual(text.code, 0, text.stderr)
        assert.match(text.stdout, /^aggregate type\s+aggregates\s+snapshots\s+bytes\s+oldest\s+newest\s+stale$/m)
        assert.match(text.stdout, /^Counter\s+3\s+4\s+.*25\.0% \(1 of 4; 1 aggregates load from a stale one\)$/m)
        assert.match(text.stdout, /^Other\s+1\s+4\s+.*- \(not registered\)$/m)
        assert.match(text.stdout, /^total: 5 aggregates, 9 snapshots/m)
      }),
    timeout
  )

  it.effect(
    "list and inspect: the history without states; one snapshot with its state, truncated in text",
    () =>
      Effect.gen(function*() {
        const [listText, listJson, inspectText, inspectJson, atVersion, full] = yield* Effect.all([
          admin("list", "Counter", "c-1"),
          admin("list", "Counter", "c-1", "--json"),
          admin("inspect", "Other", "o-1"),
          admin("inspect", "Other", "o-1", "--json"),
          admin("inspect", "Counter", "c-1", "--version", "2", "--json"),
          admin("inspect", "Other", "o-1", "--max-lines", "0")
        ], { concurrency: 3 })
        assert.strictEqual(listJson.code, 0, listJson.stderr)
        const history = parsed<Cli.ListReport>(listJson)
        assert.strictEqual(history.aggregateType, "Counter")
        assert.strictEqual(history.aggregateId, "c-1")
        assert.deepStrictEqual(history.snapshots.map((s) => s.version), [2, 4])
        assert.strictEqual(history.snapshots[0]!.schemaVersion, 1)
        assert.strictEqual(history.snapshots[0]!.metadata.position, 2)
        assert.notProperty(history.snapshots[0]!, "state")
        assert.strictEqual(listText.code, 0)
        assert.match(listText.stdout, /^2 snapshots of Counter "c-1", oldest first:$/m)
        assert.match(listText.stdout, /^\s+2\s+1\s+\d{4}-/m)

        assert.strictEqual(inspectJson.code, 0, inspectJson.stderr)
        const newest = parsed<Cli.InspectReport>(inspectJson)
        assert.strictEqual(newest.version, 4)
        assert.deepStrictEqual(newest.metadata, { note: "newest" })
        assert.deepStrictEqual(newest.state, bigState)
        assert.strictEqual(newest.stateBytes, Buffer.byteLength(JSON.stringify(bigState)))
        assert.strictEqual(parsed<Cli.InspectReport>(atVersion).version, 2)
        assert.deepStrictEqual((parsed<Cli.InspectReport>(atVersion).state as { items: unknown }).items, [
          "item-1",
          "item-2"
        ])

        assert.strictEqual(inspectText.code, 0)
        assert.match(inspectText.stdout, /^Other "o-1" at version 4 \(schema version 1\)$/m)
        assert.match(inspectText.stdout, /showing 60 of 306 lines; --max-lines 0 or --json for the whole state$/m)
        assert.notInclude(inspectText.stdout, "item-300")
        assert.include(full.stdout, "\"item-300\"")
        assert.notInclude(full.stdout, "showing")
      }),
    timeout
  )

  it.effect(
    "prune --dry-run reports what would go and deletes nothing; prune then deletes exactly that",
    () =>
      Effect.gen(function*() {
        const before = yield* count("true")
        const [all, old, text] = yield* Effect.all([
          admin("prune", "--keep-last", "1", "--dry-run", "--json"),
          admin("prune", "--keep-last", "1", "--older-than", "30 days", "--dry-run", "--json"),
          admin("prune", "--keep-last", "1", "--older-than", "30 days", "--dry-run")
        ], { concurrency: 3 })
        assert.strictEqual(all.code, 0, all.stderr)
        assert.deepStrictEqual(parsed<Cli.PruneReport>(all), {
          dryRun: true,
          keepLast: 1,
          olderThan: null,
          aggregateType: null,
          types: [
            { aggregateType: "Counter", deleted: 1, aggregates: 1 },
            { aggregateType: "Other", deleted: 3, aggregates: 1 }
          ],
          deleted: 4
        })
        assert.deepStrictEqual(parsed<Cli.PruneReport>(old).types, [{
          aggregateType: "Other",
          deleted: 3,
          aggregates: 1
        }])
        assert.match(text.stdout, /^Would delete \(dry run, nothing deleted\): keep the 1 newest/m)
        assert.match(text.stdout, /^Other\s+3\s+1$/m)
        assert.strictEqual(yield* count("true"), before)

        const pruned = yield* admin("prune", "--keep-last", "1", "--older-than", "30 days", "--json")
        assert.strictEqual(pruned.code, 0, pruned.stderr)
        const report = parsed<Cli.PruneReport>(pruned)
        assert.strictEqual(report.dryRun, false)
        assert.strictEqual(report.deleted, 3)
        assert.deepStrictEqual(report.types.find((t) => t.aggregateType === "Other"), {
          aggregateType: "Other",
          deleted: 3
        })
        assert.strictEqual(yield* count("true"), before - 3)
        assert.strictEqual(yield* count("aggregate_type = 'Other'"), 1)
      }),
    timeout
  )

  it.effect(
    "verify: drift and orphans exit 1 with the report; --repair fixes the drift; then exit 0",
    () =>
      Effect.gen(function*() {
        const found = yield* admin("verify", "--json")
        assert.strictEqual(found.code, 1, found.stderr)
        const report = parsed<Cli.VerifyReport>(found)
        assert.strictEqual(report.ok, false)
        assert.deepStrictEqual(report.types, [
          { aggregateType: "Counter", checked: 3, consistent: 2, inconsistent: 1, failed: 0, repaired: 0 },
          { aggregateType: "Gauge", checked: 1, consistent: 0, inconsistent: 0, failed: 1, repaired: 0 }
        ])
        assert.strictEqual(report.inconsistent[0]!.aggregateId, "c-2")
        assert.deepStrictEqual(report.inconsistent[0]!.differences, [{ path: "$.count", snapshot: "99", replay: "3" }])
        assert.strictEqual(report.failed[0]!.aggregateId, "g-orphan")
        assert.strictEqual(report.failed[0]!.reason, "OrphanSnapshot")
        assert.match(found.stderr, /^verify Counter: 3\/3 \(100%/m)

        const repaired = yield* admin("verify", "--type", "Counter", "--repair")
        assert.strictEqual(repaired.code, 1, repaired.stderr)
        assert.match(repaired.stdout, /^Counter\s+3\s+2\s+1\s+0\s+1$/m)
        assert.match(repaired.stdout, /^inconsistent: Counter "c-2" at version 3 \(snapshot 3\), repaired$/m)
        assert.match(repaired.stdout, /^ {2}\$\.count: snapshot 99, replay 3$/m)

        const clean = yield* admin("verify", "--type", "Counter", "--no-progress")
        assert.strictEqual(clean.code, 0, clean.stdout + clean.stderr)
        assert.match(clean.stdout, /All snapshots are consistent with their events\./)
        assert.notInclude(clean.stderr, "verify Counter")
      }),
    timeout
  )

  it.effect(
    "exit code 2 with one line: a bad flag, bad values, an unknown type, a missing snapshot",
    () =>
      Effect.gen(function*() {
        const runs = yield* Effect.all([
          admin("stats", "--bogus"),
          admin("prune", "--keep-last", "1", "--older-than", "soon"),
          admin("prune", "--keep-last", "0"),
          admin("verify", "--type", "Nope"),
          admin("inspect", "Counter", "c-1", "--version", "3")
        ], { concurrency: 3 })
        for (const ran of runs) {
          assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
          assert.notMatch(ran.stderr, /\n\s+at /, "no stack trace")
        }
        const [flag, duration, keep, type, missing] = runs
        assert.include(flag!.stderr, "--bogus")
        assert.strictEqual(duration!.stderr, "error: --older-than is not a duration: \"soon\" (try \"30 days\")\n")
        assert.strictEqual(keep!.stderr, "error: --keep-last must be >= 1, got 0\n")
        assert.strictEqual(type!.stderr, "error: unknown aggregate type \"Nope\"; registered: Counter, Gauge\n")
        assert.strictEqual(missing!.stderr, "error: no snapshot of Counter \"c-1\" at version 3\n")
      }),
    timeout
  )

  it.effect(
    "prune --older-than a negative or zero age (snapshots created seconds ago) is exit code 2, nothing deleted",
    () =>
      Effect.gen(function*() {
        const before = yield* count("true")
        const runs = yield* Effect.all([
          admin("prune", "--keep-last", "1", "--older-than=-5 days"),
          admin("prune", "--keep-last", "1", "--older-than", "0 seconds", "--json")
        ], { concurrency: 2 })
        const [negative, zero] = runs
        for (const ran of runs) {
          assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
          assert.strictEqual(ran.stdout, "")
        }
        assert.strictEqual(negative!.stderr, "error: --older-than must be > 0, got \"-5 days\"\n")
        assert.strictEqual(zero!.stderr, "error: --older-than must be > 0, got \"0 seconds\"\n")
        assert.strictEqual(yield* count("true"), before)
      }),
    timeout
  )

  // Real time: the pool's connect and the held lock run on the clock (the TestClock would warn that it stands still).
  it.live(
    "a statement the database does not answer within --timeout (a locked table) is exit code 2 with one line",
    () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const ran = yield* sql.withTransaction(
          Effect.gen(function*() {
            yield* sql.unsafe(`LOCK TABLE "${schema}".effect_snapshots IN ACCESS EXCLUSIVE MODE`)
            // Without a bound the CLI waits for the lock, which is held until it ends: killed after 2 minutes.
            return yield* runCli(bin, ["stats", "--timeout", "2 seconds"], { PG_URL: schemaUrl }, {
              killAfterMillis: 120_000
            })
          })
        )
        assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
        assert.strictEqual(ran.stdout, "")
        assert.strictEqual(ran.stderr, "error: stats failed: statement did not answer within 2 seconds (--timeout)\n")
      }).pipe(Effect.provide(Postgres.layerUrl(url, { maxConnections: 1 })), Effect.scoped),
    timeout
  )

  it.effect("exit code 2 with one line when PG_URL cannot be reached", () =>
    Effect.gen(function*() {
      const ran = yield* runCli(bin, ["stats", "--json"], { PG_URL: "postgres://postgres@127.0.0.1:1/test" })
      assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
      assert.strictEqual(ran.stdout, "")
      assert.match(
        ran.stderr,
        /^error: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/test \(PG_URL\): .*ECONNREFUSED.*\n$/
      )
    }), timeout)
})
