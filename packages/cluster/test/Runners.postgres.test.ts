/**
 * Three runner processes on loopback share one Postgres schema (events, snapshots, the cluster's message and
 * runner storage). A client in this process sends commands over many Counter entities; one runner is SIGKILLed
 * mid-run; then every runner is restarted in turn (SIGTERM, a new process) while commands keep coming.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { nodeBinary, tsxArgs } from "@effect-snapshots/reliability/NodeProcess"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { node } from "./fixtures/cluster.js"
import { Counter, CounterEntity } from "./fixtures/counter.js"

const url = process.env.PG_URL ?? ""
const onCi = (process.env.CI ?? "") !== "" && process.env.CI !== "false"
// CI runs the scale; a newcomer's run (no CI variable) half of it, to stay well within 90 s on two cores.
const ENTITIES = onCi ? 200 : 100
const COMMANDS = onCi ? 2000 : 1000
const ROLLING_COMMANDS = onCi ? 600 : 300
const runnerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "runner.ts")
const basePort = 41000 + Math.floor(Math.random() * 2000)

interface Runner {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  readonly stderr: () => string
}

const startRunner = (schema: string, name: string, port: number) =>
  Effect.callback<Runner, Error>((resume) => {
    const child = spawn(nodeBinary(), tsxArgs(runnerScript), {
      env: { ...process.env, CLUSTER_SCHEMA: schema, RUNNER_PORT: String(port), RUNNER_NAME: name },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    let ready = false
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    child.stdout!.on("data", (chunk: Buffer) => {
      if (!ready && chunk.toString().includes("ready")) {
        ready = true
        resume(Effect.succeed({ name, child, exited, stderr: () => stderr }))
      }
    })
    void exited.then((code) => {
      if (!ready) resume(Effect.fail(new Error(`runner ${name} exited (${code}) before ready: ${stderr}`)))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

interface Sent {
  readonly acked: Map<string, string>
  failed: number
  readonly failures: Map<string, number>
}

describe.skipIf(!Postgres.hasServer)("three runner processes on one Postgres", () => {
  it.live("a SIGKILLed runner's entities come back on the survivors; a rolling restart loses nothing", () => {
    const schema = `cluster_runners_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    const runners: Array<Runner> = []
    return Effect.gen(function*() {
      const started = Date.now()
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE cluster_activations (
        runner text NOT NULL, entity_id text NOT NULL, source text NOT NULL, version int NOT NULL,
        snapshot_version int, replayed int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`
      let port = basePort
      const start = (name: string) =>
        Effect.tap(startRunner(schema, name, port++), (runner) => Effect.sync(() => runners.push(runner)))
      yield* Effect.all([start("r1"), start("r2"), start("r3")], { concurrency: "unbounded" })

      const client = yield* CounterEntity.client
      const sent: Sent = { acked: new Map(), failed: 0, failures: new Map() }
      const send = (n: number) => {
        const id = `e-${(n * 7919) % ENTITIES}`
        const by = `k${n}`
        return client(id).Add({ amount: (n % 7) + 1, by }).pipe(
          Effect.timeout("30 seconds"),
          Effect.result,
          Effect.map((result) => {
            if (Result.isSuccess(result)) sent.acked.set(by, id)
            else {
              sent.failed++
              const tag = (result.failure as { _tag?: string })._tag ?? "unknown"
              sent.failures.set(tag, (sent.failures.get(tag) ?? 0) + 1)
            }
          })
        )
      }

      // 1. The kill: SIGKILL the second runner to be ready once a third of the commands are acknowledged.
      let killedAt: Date | undefined
      let killed = ""
      let snapshottedAtKill = new Map<string, number>()
      const killer = Effect.gen(function*() {
        while (sent.acked.size < COMMANDS / 3) yield* Effect.sleep("20 millis")
        killed = runners[1]!.name
        runners[1]!.child.kill("SIGKILL")
        killedAt = new Date()
        const rows = yield* sql<{ id: string; version: number }>`
          SELECT aggregate_id AS id, max(version)::int AS version FROM effect_snapshots
          WHERE aggregate_type = 'Counter' GROUP BY aggregate_id`
        snapshottedAtKill = new Map(rows.map((row) => [row.id, row.version]))
      })
      yield* Effect.all([
        Effect.forEach(Array.from({ length: COMMANDS }, (_, n) => n), send, { concurrency: 16, discard: true }),
        killer
      ], { concurrency: "unbounded" })
      const afterKill = Date.now()

      const repo = yield* EventSourcedRepository.make(Counter, { strategy: SnapshotStrategy.never })
      const check = Effect.gen(function*() {
        const events = yield* EventStore.EventStore
        const problems: Array<string> = []
        const seen = new Map<string, number>()
        for (let e = 0; e < ENTITIES; e++) {
          const id = `e-${e}`
          const stored = yield* Stream.runCollect(events.read("Counter", id))
          stored.forEach((event, i) => {
            if (event.version !== i + 1) problems.push(`${id}: version ${event.version} at index ${i}`)
            const by = (event.payload as { by: string }).by
            seen.set(by, (seen.get(by) ?? 0) + 1)
          })
          const replayed = stored.reduce(
            (state, event) => Counter.evolve(state, event.payload as { _tag: "Added"; amount: number; by: string }),
            Counter.initial(id)
          )
          // Served through the cluster: by a live runner, from its state in memory.
          const served = yield* client(id).Get()
          if (served.total !== replayed.total || served.adds !== replayed.adds) {
            problems.push(`${id}: served ${JSON.stringify(served)}, replay ${JSON.stringify(replayed)}`)
          }
        }
        for (const [by, count] of seen) if (count !== 1) problems.push(`${by} stored ${count} times`)
        for (const [by, id] of sent.acked) if (seen.get(by) !== 1) problems.push(`acknowledged ${by} on ${id} missing`)
        const verified = yield* repo.verifyAll({ concurrency: 4 })
        if (verified.inconsistentCount > 0 || verified.failedCount > 0) {
          problems.push(`verifyAll: ${JSON.stringify(verified)}`)
        }
        return { problems, stored: Array.from(seen.values()).reduce((a, b) => a + b, 0) }
      })

      const first = yield* check
      assert.deepStrictEqual(first.problems, [])
      assert.isAtLeast(sent.acked.size, COMMANDS * 0.9, `failures: ${JSON.stringify([...sent.failures])}`)

      // The dead runner's entities were reactivated on the survivors; those with a snapshot at the kill from it.
      const onDead = new Set(
        (yield* sql<{ id: string }>`SELECT DISTINCT entity_id AS id FROM cluster_activations WHERE runner = ${killed}`)
          .map((row) => row.id)
      )
      const reactivated = yield* sql<{ id: string; source: string; runner: string }>`
        SELECT entity_id AS id, source, runner FROM cluster_activations
        WHERE at > ${killedAt!} AND runner <> ${killed} ORDER BY at`
      const moved = reactivated.filter((row) => onDead.has(row.id))
      const withSnapshot = moved.filter((row) => snapshottedAtKill.has(row.id))
      const fullReplays = withSnapshot.filter((row) => row.source === "replay")
      console.log(
        `cluster runners, SIGKILL: ${sent.acked.size} of ${COMMANDS} acknowledged (${sent.failed} failed: ` +
          `${JSON.stringify([...sent.failures])}); ${onDead.size} entities had lived on the dead runner, ` +
          `${moved.length} reactivations of them on survivors, ${withSnapshot.length} with a snapshot at the kill, ` +
          `full replays among those: ${fullReplays.length}; ${afterKill - started} ms`
      )
      assert.isAbove(onDead.size, 0)
      assert.isAbove(moved.length, 0, "no entity of the dead runner was reactivated on a survivor")
      assert.isAbove(withSnapshot.length, 0)
      assert.strictEqual(fullReplays.length, 0, JSON.stringify(fullReplays.slice(0, 5)))

      // 2. The rolling restart: the killed runner.s replacement first, then each runner in turn, while commands keep coming.
      yield* start("r4")
      const ackedBefore = sent.acked.size
      const failedBefore = sent.failed
      const roll = Effect.gen(function*() {
        for (const index of [0, 2, 3]) {
          // runners[1] is the killed one; runners[3] its replacement
          const old = runners[index]!
          old.child.kill("SIGTERM")
          const code = yield* Effect.promise(() => old.exited)
          // runMain exits with 130 after an interrupt by a signal; anything else is a crash.
          assert.include([0, 130], code, `${old.name} stopped with ${code}: ${old.stderr()}`)
          yield* start(`${old.name}b`)
        }
      })
      yield* Effect.all([
        Effect.forEach(
          Array.from({ length: ROLLING_COMMANDS }, (_, n) => COMMANDS + n),
          (n) => Effect.andThen(Effect.sleep("25 millis"), send(n)),
          { concurrency: 4, discard: true }
        ),
        roll
      ], { concurrency: "unbounded" })
      const second = yield* check
      assert.deepStrictEqual(second.problems, [])
      const rollingAcked = sent.acked.size - ackedBefore
      const rollingFailed = sent.failed - failedBefore
      console.log(
        `cluster runners, rolling restart: ${rollingAcked} of ${ROLLING_COMMANDS} acknowledged, ${rollingFailed} ` +
          `failed (${JSON.stringify([...sent.failures])}); ${second.stored} events stored; ${Date.now() - started} ms`
      )
      assert.strictEqual(rollingAcked + rollingFailed, ROLLING_COMMANDS)
      assert.strictEqual(rollingFailed, 0, JSON.stringify([...sent.failures]))
    }).pipe(
      Effect.provide(node(url, schema, undefined)),
      Effect.provideService(References.MinimumLogLevel, "Warn"),
      Effect.ensuring(
        Effect.sync(() => {
          for (const runner of runners) runner.child.kill("SIGKILL")
        })
      ),
      Effect.ensuring(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).pipe(
          Effect.provide(Postgres.layerUrl(url)),
          Effect.ignore
        )
      )
    )
  }, 180_000)
})
