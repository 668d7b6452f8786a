/**
 * The admin CLI on the embedded Postgres (PGlite). The data commands run in this process (`Cli.run` on a
 * PGlite shared by the file, each command on a freshly seeded schema, its console captured): starting a
 * PGlite and a tsx subprocess per command made this the slowest file of a newcomer's run. As an operator runs
 * it, a subprocess: the examples' bin on the embedded Postgres (its exit code and JSON). The subprocess runs of
 * every data command, and the process exit codes, are the Postgres suite's (Cli.postgres.test.ts, on CI).
 * The in-process commands run without the test services (the live clock, as the CLI does: progress rates,
 * `createdAt`, prune's cutoff).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregate } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Cli } from "../src/index.js"
import { definition, Gauge, registry } from "./fixtures/aggregates.js"
import { parsed, runCli } from "./utils/cli.js"
import { seed } from "./utils/seed.js"

// A node + tsx subprocess: ~10 s on an idle 2-CPU machine, ~100 s at a load average of 25.
const timeout = 600_000

/** What a command printed, as the subprocess helpers answer it. */
interface Captured {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** Snapshots left in the command's schema afterwards. */
  readonly left: number
}

/** The console of `Cli.run`, its lines kept: what the CLI prints on stdout (log, info) and stderr (error, warn). */
const capturing = (base: Console.Console, out: Array<string>, err: Array<string>): Console.Console => {
  const line = (sink: Array<string>) => (...args: ReadonlyArray<unknown>) => void sink.push(args.map(String).join(" "))
  return Object.assign(Object.create(base) as Console.Console, {
    log: line(out),
    info: line(out),
    error: line(err),
    warn: line(err)
  })
}

let schemas = 0

/** `admin <args>` on a fresh schema of the file's PGlite, seeded as utils/seed.ts says. */
const admin = (...args: ReadonlyArray<string>) => adminWith(registry, ...args)

const adminWith = (registry: Cli.Registry, ...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<SqlClient.SqlClient>()
    const sql = yield* SqlClient.SqlClient
    const schema = `cli_${++schemas}`
    yield* sql.unsafe(`CREATE SCHEMA ${schema}`)
    yield* sql.unsafe(`SET search_path TO ${schema}`)
    yield* seed
    const out: Array<string> = []
    const err: Array<string> = []
    const code = yield* Cli.run(registry, { connection: Layer.succeedContext(context) })(["node", "admin", ...args])
      .pipe(
        Effect.provideService(Console.Console, capturing(yield* Console.Console, out, err)),
        Effect.provide(NodeServices.layer)
      )
    const rows = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM effect_snapshots`
    return { code, stdout: out.join("\n"), stderr: err.join("\n"), left: rows[0]!.n } satisfies Captured
  })

describe("admin CLI on PGlite", () => {
  layer(Postgres.layerEmbedded(), { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect(
      "stats: a snapshot whose fingerprint the aggregate accepts (compatibleFingerprints) is not stale",
      () =>
        Effect.gen(function*() {
          // utils/seed.ts records Counter c-3's snapshot with the fingerprint "an-older-state-schema".
          const accepting = Aggregate.make({
            type: "Counter",
            ...definition,
            compatibleFingerprints: ["an-older-state-schema"]
          })
          const stats = yield* adminWith(
            [
              Cli.register(accepting, { strategy: SnapshotStrategy.never }),
              Cli.register(Gauge, { strategy: SnapshotStrategy.never })
            ],
            "stats",
            "--json"
          )
          assert.strictEqual(stats.code, 0, stats.stderr)
          const counter = parsed<Cli.StatsReport>(stats).types.find((t) => t.aggregateType === "Counter")
          assert.strictEqual(counter?.staleSnapshots, 0)
          assert.strictEqual(counter?.staleAggregates, 0)
        }),
      timeout
    )

    it.effect(
      "stats --json, prune --dry-run (deletes nothing) and prune, verify (exit 1)",
      () =>
        Effect.gen(function*() {
          const stats = yield* admin("stats", "--json")
          const dryRun = yield* admin("prune", "--keep-last", "1", "--dry-run", "--json")
          const pruned = yield* admin("prune", "--keep-last", "1", "--json")
          const verify = yield* admin("verify", "--json")

          assert.strictEqual(stats.code, 0, stats.stderr)
          const types = parsed<Cli.StatsReport>(stats).types.map((
            t
          ) => [t.aggregateType, t.aggregates, t.snapshots, t.staleSnapshots])
          assert.deepStrictEqual(types, [["Counter", 3, 4, 1], ["Gauge", 1, 1, 0], ["Other", 1, 4, null]])
          assert.strictEqual(stats.left, 9)

          assert.strictEqual(dryRun.code, 0, dryRun.stderr)
          assert.strictEqual(parsed<Cli.PruneReport>(dryRun).deleted, 4)
          assert.strictEqual(dryRun.left, 9)
          assert.strictEqual(pruned.code, 0, pruned.stderr)
          assert.deepStrictEqual(parsed<Cli.PruneReport>(pruned).types, [
            { aggregateType: "Counter", deleted: 1 },
            { aggregateType: "Gauge", deleted: 0 },
            { aggregateType: "Other", deleted: 3 }
          ])
          assert.strictEqual(pruned.left, 5)

          assert.strictEqual(verify.code, 1, verify.stderr)
          const report = parsed<Cli.VerifyReport>(verify)
          assert.deepStrictEqual(report.types.map((t) => [t.aggregateType, t.consistent, t.inconsistent, t.failed]), [
            ["Counter", 2, 1, 0],
            ["Gauge", 0, 0, 1]
          ])
          assert.deepStrictEqual(report.inconsistent[0]!.differences, [{
            path: "$.count",
            snapshot: "99",
            replay: "3"
          }])
        }),
      timeout
    )

    it.effect(
      "a bad flag is exit code 2 with the usage error, nothing on stdout, nothing deleted",
      () =>
        Effect.gen(function*() {
          const ran = yield* admin("prune", "--keep-last", "many")
          assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
          assert.include(ran.stderr, "many")
          assert.strictEqual(ran.stdout, "")
          assert.strictEqual(ran.left, 9)
        }),
      timeout
    )

    it.effect(
      "prune --older-than a negative or zero age is exit code 2 with one line, nothing deleted",
      () =>
        Effect.gen(function*() {
          // `--older-than=-5 days`: as a separate argument, `-5 days` reads as flags (a usage error, exit 2).
          for (const age of ["0 seconds", "-5 days", "-Infinity"]) {
            const ran = yield* admin("prune", "--keep-last", "1", `--older-than=${age}`)
            assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
            assert.strictEqual(ran.stderr, `error: --older-than must be > 0, got "${age}"`)
            assert.strictEqual(ran.stdout, "")
            assert.strictEqual(ran.left, 9, `prune --older-than "${age}" deleted snapshots`)
          }
          const zero = yield* admin("prune", "--keep-last", "1", "--older-than", "0 seconds", "--dry-run")
          assert.strictEqual(zero.stderr, "error: --older-than must be > 0, got \"0 seconds\"")
          const separate = yield* admin("prune", "--keep-last", "1", "--older-than", "-5 days")
          assert.strictEqual(separate.code, 2, separate.stdout + separate.stderr)
          assert.strictEqual(separate.left, 9)
        }),
      timeout
    )
  })

  const bin = fileURLToPath(new URL("../../../examples/src/admin.ts", import.meta.url))

  it.effect(
    "the examples' bin: `admin.ts -- stats --json` on the embedded Postgres when PG_URL is unset",
    () =>
      Effect.gen(function*() {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "admin-bin-"))
        const ran = yield* runCli(bin, ["--", "stats", "--json"], { PG_URL: "", EFFECT_SNAPSHOTS_DATA: dataDir })
        fs.rmSync(dataDir, { recursive: true, force: true })
        assert.include(ran.stderr, `Using the embedded Postgres (PGlite) in ${dataDir}`)
        assert.strictEqual(ran.code, 0, ran.stdout + ran.stderr)
        assert.deepStrictEqual(
          parsed<Cli.StatsReport>(ran).types.map((t) => [t.aggregateType, t.registered, t.snapshots]),
          [["Order", true, 0]]
        )
      }),
    timeout
  )
})
