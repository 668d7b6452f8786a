/**
 * The admin CLI on the embedded Postgres (PGlite): each run is a subprocess (fixtures/embedded.ts) that seeds
 * a fresh PGlite, runs the CLI on it through `RunOptions.connection`, and reports how many snapshots are left.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"
import type { Cli } from "../src/index.js"
import { fixture, parsed, runCli } from "./utils/cli.js"

// Each command is a node + tsx subprocess: ~10 s each on an idle 2-CPU machine, ~100 s at a load average of 25.
const timeout = 600_000

const embedded = fixture("embedded.ts")
const admin = (...args: ReadonlyArray<string>) => runCli(embedded, args, { PG_URL: "" })
const left = (stderr: string): number => Number(/^fixture: snapshots=(\d+)$/m.exec(stderr)?.[1] ?? Number.NaN)

describe("admin CLI on PGlite", () => {
  it.effect("stats --json, prune --dry-run (deletes nothing) and prune, verify (exit 1)", () =>
    Effect.gen(function*() {
      const [stats, dryRun, pruned, verify] = yield* Effect.all([
        admin("stats", "--json"),
        admin("prune", "--keep-last", "1", "--dry-run", "--json"),
        admin("prune", "--keep-last", "1", "--json"),
        admin("verify", "--json")
      ], { concurrency: 2 })

      assert.strictEqual(stats.code, 0, stats.stderr)
      const types = parsed<Cli.StatsReport>(stats).types.map((
        t
      ) => [t.aggregateType, t.aggregates, t.snapshots, t.staleSnapshots])
      assert.deepStrictEqual(types, [["Counter", 3, 4, 1], ["Gauge", 1, 1, 0], ["Other", 1, 4, null]])
      assert.strictEqual(left(stats.stderr), 9)

      assert.strictEqual(dryRun.code, 0, dryRun.stderr)
      assert.strictEqual(parsed<Cli.PruneReport>(dryRun).deleted, 4)
      assert.strictEqual(left(dryRun.stderr), 9)
      assert.strictEqual(pruned.code, 0, pruned.stderr)
      assert.deepStrictEqual(parsed<Cli.PruneReport>(pruned).types, [
        { aggregateType: "Counter", deleted: 1 },
        { aggregateType: "Gauge", deleted: 0 },
        { aggregateType: "Other", deleted: 3 }
      ])
      assert.strictEqual(left(pruned.stderr), 5)

      assert.strictEqual(verify.code, 1, verify.stderr)
      const report = parsed<Cli.VerifyReport>(verify)
      assert.deepStrictEqual(report.types.map((t) => [t.aggregateType, t.consistent, t.inconsistent, t.failed]), [
        ["Counter", 2, 1, 0],
        ["Gauge", 0, 0, 1]
      ])
      assert.deepStrictEqual(report.inconsistent[0]!.differences, [{ path: "$.count", snapshot: "99", replay: "3" }])
    }), timeout)

  it.effect("a bad flag exits 2 with the usage error", () =>
    Effect.gen(function*() {
      const ran = yield* admin("prune", "--keep-last", "many")
      assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
      assert.include(ran.stderr, "many")
      assert.strictEqual(ran.stdout, "")
    }), timeout)

  it.effect(
    "the examples' bin: `admin.ts -- stats --json` on the embedded Postgres when PG_URL is unset",
    () =>
      Effect.gen(function*() {
        const bin = fileURLToPath(new URL("../../../examples/src/admin.ts", import.meta.url))
        const ran = yield* runCli(bin, ["--", "stats", "--json"], { PG_URL: "" })
        assert.strictEqual(ran.code, 0, ran.stdout + ran.stderr)
        assert.deepStrictEqual(
          parsed<Cli.StatsReport>(ran).types.map((t) => [t.aggregateType, t.registered, t.snapshots]),
          [
            ["Order", true, 0]
          ]
        )
      }),
    timeout
  )
})
