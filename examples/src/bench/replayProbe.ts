/**
 * replay1M on its own: seeds one long stream (once, in its own schema), then replays it through the library
 * and through the bare-pg floor, each in its own child process, alternating, and prints the medians, their
 * ratio, the peak RSS and the load average.
 *
 *   PG_URL=... tsx examples/src/bench/replayProbe.ts [events=1000000] [rounds=5] [--cpu-prof]
 *
 * AB_OLD=<dir>/src/index.ts adds a third process replaying through another copy of the loader's sources (e.g.
 * `git archive <commit> packages/loader/src` unpacked inside `packages/loader/`, where its imports resolve),
 * alternating with the two others; CHILD_ARGV adds Node flags to the children (`--trace-gc`).
 */
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore } from "@effect-snapshots/sql"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as os from "node:os"
import pg from "pg"
import * as Child from "./child.js"
import type { ReplayRequest, ReplayResponse } from "./replay-child.js"
import * as Seed from "./seed.js"

const url = process.env.PG_URL
if (url === undefined) throw new Error("set PG_URL")
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"))
const events = Number(args[0] ?? 1_000_000)
const rounds = Number(args[1] ?? 5)
const cpuProf = process.argv.includes("--cpu-prof")
const schema = "effect_snapshots_replay_probe"
const id = `replay-${events}`

const admin = new pg.Client({ connectionString: url })
await admin.connect()
const exists = await admin.query(
  `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`,
  [schema, SqlEventStore.defaultTable]
)
const seeded = exists.rows[0].n > 0 &&
  (await admin.query(
      `SELECT count(*)::int AS n FROM ${schema}.${SqlEventStore.defaultTable} WHERE aggregate_id = $1`,
      [id]
    )).rows[0].n === events
if (!seeded) {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  const runtime = ManagedRuntime.make(SqlEventStore.layer.pipe(Layer.provideMerge(Postgres.layer({ schema }))))
  await runtime.runPromise(Effect.flatMap(Effect.void, () => Seed.insertRange(id, 1, events)))
  await runtime.dispose()
  console.log(`seeded ${events} events`)
}
await admin.end()

const extraArgs = (process.env.CHILD_ARGV ?? "").split(" ").filter((a) => a !== "")
const profileArgs = (mode: string) => [
  ...extraArgs,
  ...(
    cpuProf ? ["--cpu-prof", `--cpu-prof-dir=/tmp/rprof/replay-${mode}`] : []
  )
]
const abLoader = process.env.AB_OLD
if (abLoader !== undefined) process.env.AB_LOADER = abLoader
const previous = abLoader === undefined
  ? undefined
  : Child.start<ReplayRequest, ReplayResponse>(new URL("./replay-child.ts", import.meta.url), {
    execArgv: profileArgs("previous")
  })
delete process.env.AB_LOADER
const children = {
  library: Child.start<ReplayRequest, ReplayResponse>(new URL("./replay-child.ts", import.meta.url), {
    execArgv: profileArgs("library")
  }),
  floor: Child.start<ReplayRequest, ReplayResponse>(new URL("./replay-child.ts", import.meta.url), {
    execArgv: profileArgs("floor")
  })
}
type Name = string
// PAGES=1000,500: one more process per page size (REPLAY_PAGE_SIZE), replaying through the library, or through
// the floor with PAGED_MODE=floor.
const paged = (process.env.PAGES ?? "").split(",").filter((x) => x !== "").map((size) => {
  process.env.REPLAY_PAGE_SIZE = size
  const child = Child.start<ReplayRequest, ReplayResponse>(new URL("./replay-child.ts", import.meta.url), {
    execArgv: profileArgs(`page${size}`)
  })
  delete process.env.REPLAY_PAGE_SIZE
  return { name: `page${size}`, child, mode: (process.env.PAGED_MODE ?? "library") as "library" | "floor" }
})
const participants: Array<
  { readonly name: Name; readonly child: typeof children.library; readonly mode: "library" | "floor" }
> = [
  { name: "library", child: children.library, mode: "library" },
  { name: "floor", child: children.floor, mode: "floor" },
  ...(previous === undefined ? [] : [{ name: "previous" as const, child: previous, mode: "library" as const }]),
  ...paged
]
const ms: Record<string, Array<number>> = {}
const cpu: Record<string, Array<number>> = {}
const rss: Record<string, number> = {}
const loads: Array<number> = []
const request = (p: (typeof participants)[number]) =>
  p.child.request({ type: "replay", mode: p.mode, url, schema, table: SqlEventStore.defaultTable, id, rounds: 1 })
for (const p of participants) {
  const warm = await request(p)
  if (warm.type === "replayed") {
    console.log(`  ${p.name} warm-up ${warm.ms[0]!.toFixed(0)} ms, start RSS ${warm.startRssMb} MB`)
  }
}
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < participants.length; i++) {
    const p = participants[(round + i) % participants.length]!
    loads.push(os.loadavg()[0]!)
    const response = await request(p)
    if (response.type !== "replayed") throw new Error("unexpected response")
    if (response.events !== events) throw new Error(`${p.name}: replayed ${response.events}`)
    ;(ms[p.name] ??= []).push(...response.ms)
    ;(cpu[p.name] ??= []).push(...response.cpuMs)
    rss[p.name] = response.peakRssMb
    console.log(
      `  ${p.name} ${response.ms[0]!.toFixed(0)} ms (cpu ${
        response.cpuMs[0]!.toFixed(0)
      } ms), peak RSS ${response.peakRssMb} MB`
    )
  }
}
for (const p of participants) await p.child.close()
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const p of participants) {
  const paired = ms[p.name]!.map((x, i) => x / ms.floor![i]!)
  console.log(
    `${p.name.padEnd(9)} median ${median(ms[p.name]!).toFixed(0)} ms, cpu ${
      median(cpu[p.name]!).toFixed(0)
    } ms, peak RSS ${rss[p.name]} MB; / floor: medians ${
      (median(ms[p.name]!) / median(ms.floor!)).toFixed(3)
    }, paired ${median(paired).toFixed(3)}, cpu ${(median(cpu[p.name]!) / median(cpu.floor!)).toFixed(3)}`
  )
}
console.log(`n=${rounds}; load average during ${Math.min(...loads).toFixed(2)}..${Math.max(...loads).toFixed(2)}`)
