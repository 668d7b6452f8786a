import { Postgres } from "@effect-snapshots/postgres"
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
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
    assert.deepStrictEqual(Cli.parse(["--only", "loadHot,loadCold,restore,seedScenario"]).parts, [
      "loadHot",
      "loadCold",
      "restore",
      "seedScenario"
    ])
    assert.deepStrictEqual(Cli.parse(["--only", "citus"]).parts, ["citus"])
    assert.deepStrictEqual(Cli.parse(["--only", "redis"]).parts, ["redis"])
    assert.throws(() => Cli.parse(["--only", "nope"]), /unknown part/)
    assert.throws(() => Cli.parse(["--frobnicate"]), /unknown argument/)
    assert.throws(() => Cli.parse(["--out"]), /needs a value/)
  })

  // Tiny sizes: proves every part still runs and writes the documented JSON fields and the chart.
  // The run is a child process, awaited asynchronously: a synchronous spawn would block this worker's event
  // loop for the whole run, and vitest's RPC to the worker would time out on a busy machine.
  it("runs end to end with tiny sizes and writes the JSON and the chart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-snapshots-bench-"))
    try {
      const out = join(dir, "bench.json")
      const run = await new Promise<{ status: number | null; output: string }>((resolve) => {
        execFile(
          process.execPath,
          ["--import", "tsx", benchFile, "--smoke", "--out", out],
          { encoding: "utf8", timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
          (error, stdout, stderr) =>
            resolve({
              status: error === null ? 0 : typeof error.code === "number" ? error.code : null,
              output: stdout + stderr
            })
        )
      })
      assert.strictEqual(run.status, 0, run.output)
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
        // A load from a snapshot: the snapshot row and the tail, in one statement or two.
        assert.include([1, 2], results.roundTripsPerLoad)
        for (const row of [results.loadHot, results.loadCold]) {
          assert.includeMembers(Object.keys(row), [
            "events",
            "libraryMs",
            "rawMs",
            "ratio",
            "roundTrips",
            "statements",
            "rawRoundTrips"
          ])
          assert.strictEqual(row.rawRoundTrips, 1)
        }
        assert.strictEqual(results.loadCold.roundTrips, results.roundTripsPerLoad)
        assert.isAtLeast(results.loadHot.roundTrips, 1)
        assert.includeMembers(Object.keys(results.replay1M), ["floorMs", "floorPeakRssMb", "floorRatio"])
        assert.deepStrictEqual(results.replayFloor.map((r: { part: string }) => r.part), ["replay1M", "peer"])
        for (const row of results.replayFloor) {
          assert.includeMembers(Object.keys(row), ["part", "events", "oursMs", "floorMs", "ratio"])
        }
        assert.deepStrictEqual(results.replayFloor.map((r: { events: number }) => r.events), [2_000, 300])
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
        assert.isNull(results.loadHot)
        assert.isNull(results.loadCold)
        assert.deepStrictEqual(results.replayFloor, [])
        assert.isNull(results.peer)
        assert.isAbove(results.skipped.length, 0)
      }
      // restore: each size on the SQL backend and on memory, with the decode per line.
      const sqlBackend = Postgres.hasServer ? "postgres" : "pglite"
      assert.deepStrictEqual(
        results.restore.map((r: { backend: string; lines: number }) => `${r.backend}/${r.lines}`),
        [`${sqlBackend}/100`, "memory/100", `${sqlBackend}/200`, "memory/200"]
      )
      for (const row of results.restore) {
        assert.hasAllKeys(row, [
          "backend",
          "lines",
          "events",
          "snapshotMs",
          "replayMs",
          "speedUp",
          "samples",
          "stateJsonBytes",
          "parseMs",
          "decodeMs",
          "schemaDecodeMs",
          "parseUsPerLine",
          "decodeUsPerLine",
          "schemaDecodeUsPerLine",
          "byHandDecodeMs",
          // The bare-pg floor of a restore runs beside ours on a real server.
          ...(row.backend === "postgres" ? ["floorMs", "floorRatio", "floorSpeedUp"] : [])
        ])
        assert.strictEqual(row.events, row.lines + 1)
      }
      assert.deepStrictEqual(results.seedScenario.map((r: { backend: string }) => r.backend), ["memory", sqlBackend])
      for (const row of results.seedScenario) {
        assert.hasAllKeys(row, ["backend", "items", "more", "withoutMs", "withMs", "ratio", "samples"])
        assert.strictEqual(row.items, 100)
        assert.strictEqual(row.more, 10)
      }
      // citus: measured side by side when CITUS_URL and a plain server are set, else skipped with the reason.
      const plainUrl = process.env.CITUS_PLAIN_URL || process.env.PG_URL || ""
      if ((process.env.CITUS_URL ?? "") !== "" && plainUrl !== "") {
        assert.includeMembers(Object.keys(results.citus), [
          "servers",
          "loadCold",
          "loadHot",
          "save",
          "append",
          "appendInTransaction",
          "readAllPoll",
          "routing"
        ])
        assert.include(results.citus.readAllPoll.citus, "refused")
      } else {
        assert.isNull(results.citus)
        assert.include(results.skipped.map((s: { part: string }) => s.part), "citus")
      }
      // redis: a cold load from a snapshot in Redis vs in PostgreSQL, when both servers are set.
      if (Postgres.hasServer && (process.env.REDIS_URL ?? "") !== "") {
        assert.includeMembers(Object.keys(results.redis), [
          "events",
          "snapshotInPostgresMs",
          "snapshotInRedisMs",
          "ratioRedisToPostgres"
        ])
        assert.strictEqual(results.redis.events, 300)
      } else {
        assert.isNull(results.redis)
        assert.include(results.skipped.map((s: { part: string }) => s.part), "redis")
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
