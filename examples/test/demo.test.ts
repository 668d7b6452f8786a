import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Demo from "../src/demo.js"

const demoFile = fileURLToPath(new URL("../src/demo.ts", import.meta.url))
const adminFile = fileURLToPath(new URL("../src/admin.ts", import.meta.url))

/** Run `tsx examples/src/demo.ts` as a newcomer would, with the given environment. */
const runCli = (args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  spawnSync(process.execPath, ["--import", "tsx", demoFile, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000
  })

describe("demo", () => {
  it.live(
    "writes the history, loads it both ways to the same state, and prunes to keepLast",
    () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const result = yield* Demo.program({
          ...Demo.defaults,
          events: 2_500,
          keepLast: 1,
          rounds: 2,
          interactive: false,
          print: (line) => Effect.sync(() => void lines.push(line))
        }).pipe(Effect.provide(Demo.layerOn(Postgres.layerTest("examples_demo"))))
        // create (v1), commits of 50 items (v51, v101, ..., v2451, v2499), submit (v2500); every 1,000 events.
        assert.strictEqual(result.events, 2_500)
        assert.strictEqual(result.snapshotVersion, 2_001)
        assert.strictEqual(result.replayedFromSnapshot, 499)
        assert.strictEqual(result.replayedFull, 2_500)
        assert.isTrue(result.sameState)
        assert.isAbove(result.fullReplayMs, 0)
        assert.isAbove(result.snapshotMs, 0)
        assert.deepStrictEqual(result.historyBefore, [1_001, 2_001])
        assert.deepStrictEqual(result.historyAfter, [2_001])
        assert.strictEqual(result.pruned, 1)
        const report = lines.join("\n")
        assert.include(report, "events in the stream")
        assert.include(report, "speed-up")
        assert.include(report, "the same state")
        assert.include(report, "deleted 1 of this order's snapshots (v1,001)")
      }),
    120_000
  )

  it("with an unreachable PG_URL says it cannot connect and exits non-zero, without a stack trace", () => {
    const run = runCli(["--events", "100"], { PG_URL: "postgres://postgres@127.0.0.1:1/test" })
    assert.strictEqual(run.status, 1, run.stdout + run.stderr)
    assert.include(run.stderr, "cannot connect to PostgreSQL at 127.0.0.1:1/test")
    assert.notMatch(run.stderr + run.stdout, /^\s+at /m)
  }, 60_000)

  it("rejects a bad --events value with a message and exit code 2", () => {
    const run = runCli(["--events", "many"], { PG_URL: "postgres://postgres@127.0.0.1:1/test" })
    assert.strictEqual(run.status, 2)
    assert.include(run.stderr, "--events must be an integer >= 3")
  }, 60_000)

  it(
    "runs end to end on the embedded Postgres in its data folder, where `pnpm admin -- stats` then finds the order",
    () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "demo-data-"))
      const env = { PG_URL: undefined, DEMO_EVENTS: undefined, EFFECT_SNAPSHOTS_DATA: dataDir }
      try {
        const run = runCli(["--events", "1200"], env)
        assert.strictEqual(run.status, 0, run.stdout + run.stderr)
        assert.include(run.stdout, `the embedded Postgres (PGlite) in ${dataDir}`)
        assert.include(run.stdout, "events replayed")
        assert.include(run.stdout, "the same state")
        assert.include(run.stdout, "Retention prune")
        assert.include(run.stdout, "Done in")
        const stats = spawnSync(process.execPath, ["--import", "tsx", adminFile, "--", "stats", "--json"], {
          encoding: "utf8",
          env: { ...process.env, ...env },
          timeout: 120_000
        })
        assert.strictEqual(stats.status, 0, stats.stdout + stats.stderr)
        const order = (JSON.parse(stats.stdout) as {
          types: Array<{ aggregateType: string; aggregates: number; snapshots: number }>
        }).types.find((t) => t.aggregateType === "Order")
        assert.strictEqual(order?.aggregates, 1, stats.stdout)
        assert.isAbove(order?.snapshots ?? 0, 0, stats.stdout)
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true })
      }
    },
    240_000
  )
})
