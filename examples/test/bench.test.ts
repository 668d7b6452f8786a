import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "../src/bench/options.js"

const benchFile = fileURLToPath(new URL("../src/bench/main.ts", import.meta.url))

describe("bench", () => {
  it("parses its flags and rejects unknown ones", () => {
    assert.strictEqual(Cli.parse([]).profile, "full")
    assert.deepStrictEqual(Cli.parse(["--quick"]).sqlSizes, [100, 1_000, 10_000, 100_000])
    assert.strictEqual(Cli.parse(["--out", "x.json"]).out, "x.json")
    assert.deepStrictEqual(Cli.parse(["--only", "load,peer"]).parts, ["load", "peer"])
    assert.throws(() => Cli.parse(["--only", "nope"]), /unknown part/)
    assert.throws(() => Cli.parse(["--frobnicate"]), /unknown argument/)
    assert.throws(() => Cli.parse(["--out"]), /needs a value/)
  })

  // Tiny sizes: proves every part still runs and writes the documented JSON fields and the chart.
  it("runs end to end with tiny sizes and writes the JSON and the chart", () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-snapshots-bench-"))
    try {
      const out = join(dir, "bench.json")
      const run = spawnSync(process.execPath, ["--import", "tsx", benchFile, "--smoke", "--out", out], {
        encoding: "utf8",
        timeout: 240_000
      })
      assert.strictEqual(run.status, 0, run.stdout + run.stderr)
      const results = JSON.parse(readFileSync(out, "utf8"))
      assert.strictEqual(results.backend, Postgres.hasServer ? "postgres" : "pglite")
      for (const series of [results.load, results.loadMemory]) {
        assert.deepStrictEqual(series.map((p: { events: number }) => p.events), [100, 300])
        for (const point of series) {
          assert.hasAllKeys(point, [
            "events",
            "snapshotEvery",
            "withSnapshotMs",
            "fullReplayMs",
            "withSnapshotP99Ms",
            "fullReplayP99Ms",
            "snapshotVersion",
            "replayedWithSnapshot",
            "speedUp",
            "samples"
          ])
          assert.strictEqual(point.snapshotEvery, 100)
          assert.strictEqual(point.snapshotVersion, point.events - 50)
          assert.strictEqual(point.replayedWithSnapshot, 50)
        }
      }
      if (Postgres.hasServer) {
        assert.includeMembers(Object.keys(results.vsRaw), ["events", "libraryMs", "rawMs", "ratio"])
        assert.strictEqual(results.roundTripsPerLoad, 2)
        assert.includeMembers(Object.keys(results.replay1M), ["events", "eventsPerSecond", "peakRssMb"])
        assert.strictEqual(results.replay1M.events, 2_000)
        assert.includeMembers(Object.keys(results.save), ["libraryMs", "rawMs", "ratio", "libraryP99Ms", "rawP99Ms"])
        assert.includeMembers(Object.keys(results.peer), [
          "name",
          "events",
          "peerMs",
          "oursFullReplayMs",
          "oursWithSnapshotMs"
        ])
      } else {
        assert.isNull(results.vsRaw)
        assert.isNull(results.peer)
        assert.isAbove(results.skipped.length, 0)
      }
      const svg = readFileSync(join(dir, "bench.svg"), "utf8")
      assert.match(svg, /^<svg/)
      assert.include(svg, "events in the stream")
      assert.isTrue(existsSync(out))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 240_000)
})
