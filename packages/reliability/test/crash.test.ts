/**
 * Crashes: a child process runs `update`s in a loop against real Postgres (inline snapshots, then
 * background), and is killed with SIGKILL at a random moment, 20 times. After each kill every aggregate is
 * checked (see `Checks.aggregate`): versions contiguous, no batch half-written, every acknowledged batch
 * present, no snapshot above its stream, every snapshot equal to the replay at its version, and the
 * repository loads the full-replay state.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Checks, Pcg } from "@effect-snapshots/reliability"
import { nodeBinary, tsxArgs } from "@effect-snapshots/reliability/NodeProcess"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SqlClient } from "effect/sql"
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { record } from "./utils/figures.js"

const KILLS = 20
const IDS = 8
const FIBERS = 4
const SEED = 20_261_126

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const worker = path.join(packageRoot, "test", "fixtures", "crashWorker.ts")

interface Ack {
  readonly id: string
  readonly version: number
  readonly tx: string
}

interface WorkerRun {
  readonly acks: ReadonlyArray<Ack>
  readonly killed: boolean
  readonly stderr: string
}

/** Start the worker, wait until it is ready, let it work `killAfterMs`, then SIGKILL it. */
const runWorker = (env: Record<string, string>, killAfterMs: number) =>
  Effect.callback<WorkerRun, Error>((resume) => {
    const child = spawn(nodeBinary(), tsxArgs(worker), {
      cwd: packageRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const acks: Array<Ack> = []
    let buffer = ""
    let stderr = ""
    let killed = false
    let timer: NodeJS.Timeout | undefined
    const startup = setTimeout(() => {
      child.kill("SIGKILL")
    }, 60_000)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (data: string) => {
      buffer += data
      let newline: number
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        if (line === "ready") {
          clearTimeout(startup)
          timer = setTimeout(() => {
            killed = child.kill("SIGKILL")
          }, killAfterMs)
        } else if (line.startsWith("ack ")) {
          const [, id, version, tx] = line.split(" ")
          acks.push({ id: id!, version: Number(version), tx: tx! })
        }
      }
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (data: string) => {
      stderr += data
    })
    child.on("exit", (_code, signal) => {
      clearTimeout(startup)
      if (timer) clearTimeout(timer)
      // A partial last line (cut by the kill) is not an ack.
      if (signal === "SIGKILL" && killed) resume(Effect.succeed({ acks, killed, stderr }))
      else resume(Effect.fail(new Error(`worker exited on its own (signal ${signal}, killed ${killed}): ${stderr}`)))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Until the server has no session of that application name left (at most 30 s). */
const waitForSessionsToEnd = (sql: SqlClient.SqlClient, applicationName: string) =>
  Effect.gen(function*() {
    for (const giveUpAt = Date.now() + 30_000; Date.now() < giveUpAt;) {
      const [{ sessions }] = yield* sql<{ sessions: number }>`
        SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE application_name = ${applicationName}`
      if (sessions === 0) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.fail(new Error(`the killed worker's sessions (${applicationName}) did not end in 30 s`))
  })

const Db = Postgres.layerTest("reliability_crash", { maxConnections: 4 })
const Stores = Layer.merge(
  SqlEventStore.layer,
  // inflates what the compressed runs stored; never compresses (the threshold is out of reach)
  SqlSnapshotStore.layer.pipe(SnapshotStore.compressed({ thresholdBytes: 1_000_000_000 }))
).pipe(Layer.provideMerge(Db))

describe.skipIf(!Postgres.hasServer)("crashes (SIGKILL, real Postgres)", () => {
  layer(Stores, { timeout: "120 seconds", excludeTestServices: true })((it) => {
    it.effect(`${KILLS} kills: inline then background snapshots, every aggregate sound after each`, () =>
      Effect.gen(function*() {
        const started = Date.now()
        const sql = yield* SqlClient.SqlClient
        const [{ schema }] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
        const repo = yield* EventSourcedRepository.make(Account.Account, { strategy: SnapshotStrategy.never })
        const rng = new Pcg.Pcg(SEED)
        const acked = new Map<string, Set<string>>()
        const ackedVersion = new Map<string, number>()
        const checked = new Set<string>()
        let snapshotsChecked = 0
        let totalAcks = 0
        let cases = 0
        const failures: Array<string> = []
        for (let run = 0; run < KILLS; run++) {
          const mode = run < KILLS / 2 ? "inline" : "background"
          const killAfterMs = 100 + Math.floor(rng.number() * 1400)
          const applicationName = `crash-worker-${process.pid}-${run}`
          const workerUrl = new URL(process.env.PG_URL!)
          workerUrl.searchParams.set("application_name", applicationName)
          const result = yield* runWorker({
            PG_URL: workerUrl.href,
            CRASH_SCHEMA: schema!,
            CRASH_MODE: mode,
            CRASH_RUN: String(run),
            CRASH_SEED: String(SEED + run),
            CRASH_IDS: String(IDS),
            CRASH_FIBERS: String(FIBERS)
          }, killAfterMs)
          // The server finishes a statement the killed worker had sent (and commits it, outside a transaction)
          // before it notices the closed socket: check only once its sessions are gone, or a batch that
          // commits between the check's replay and its load looks like a wrong load.
          yield* waitForSessionsToEnd(sql, applicationName)
          totalAcks += result.acks.length
          for (const ack of result.acks) {
            const set = acked.get(ack.id) ?? new Set()
            set.add(ack.tx)
            acked.set(ack.id, set)
            ackedVersion.set(ack.id, Math.max(ackedVersion.get(ack.id) ?? 0, ack.version))
          }
          for (let i = 0; i < IDS; i++) {
            const id = `acct-${i}`
            const report = yield* Checks.aggregate(repo, id, {
              acked: acked.get(id) ?? [],
              ackedVersion: ackedVersion.get(id) ?? 0,
              checked
            })
            snapshotsChecked += report.snapshots
            cases++
            if (report.problems.length > 0) {
              failures.push(`run ${run} (${mode}, killed after ${killAfterMs} ms) ${id}: ${report.problems.join("; ")}`)
            }
            record("crash", { mismatches: report.mismatch ? 1 : 0, rowsLost: report.lost })
          }
          if (failures.length === 0) record("crash", { killsSurvived: 1 })
        }
        // The bulk check: every aggregate with a snapshot, snapshot + tail against the full replay.
        const sweep = yield* repo.verifyAll({ concurrency: 4 })
        assert.strictEqual(sweep.checked, IDS)
        assert.strictEqual(sweep.consistent, IDS, JSON.stringify(sweep.inconsistent))
        const [{ events, snapshots }] = yield* sql<{ events: number; snapshots: number }>`
          SELECT (SELECT count(*)::int FROM effect_snapshots_events) AS events,
                 (SELECT count(*)::int FROM effect_snapshots) AS snapshots`
        record("crash", { casesTried: cases }, Date.now() - started)
        assert.deepStrictEqual(failures, [])
        // The kills landed while work was going on: most runs committed something, and snapshots were written.
        assert.isAbove(totalAcks, KILLS * 5, `only ${totalAcks} updates acknowledged over ${KILLS} runs`)
        assert.isAbove(snapshots!, 0)
        assert.isAbove(snapshotsChecked, 0)
        assert.isAtLeast(events!, totalAcks)
      }))
  })
})
