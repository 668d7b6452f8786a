/**
 * `pnpm bench:effect3 -- --effect3 DIR`: the last Effect 3 commit (287ca39, checked out and installed in DIR)
 * and this checkout side by side on one machine, in one run: `pnpm bench --only loadHot,loadCold,save,restore`
 * in each, alternating (Effect 3 first, then Effect 4, `--rounds` times), on the same PG_URL. Prints one table
 * of medians across the rounds and writes docs/bench/effect3.json (or --out).
 *
 *   git worktree add --detach ../effect3 287ca39 && (cd ../effect3 && npx --yes pnpm@12.4.2 install)
 *   PG_URL=postgres://... pnpm bench:effect3 -- --effect3 ../effect3 [--rounds 2] [--out FILE]
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = resolve(fileURLToPath(new URL("../../..", import.meta.url)))

interface Args {
  readonly effect3: string
  readonly rounds: number
  readonly out: string
}

const parseArgs = (argv: ReadonlyArray<string>): Args | string => {
  let effect3 = ""
  let rounds = 2
  let out = join(here, "docs/bench/effect3.json")
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const next = argv[i + 1]
    if (arg === "--") continue
    if (arg === "--effect3" && next !== undefined) {
      effect3 = resolve(next)
      i++
    } else if (arg === "--rounds" && next !== undefined && /^[1-9]\d*$/.test(next)) {
      rounds = Number(next)
      i++
    } else if (arg === "--out" && next !== undefined) {
      out = resolve(next)
      i++
    } else {
      return `unknown or incomplete argument ${arg}\nusage: pnpm bench:effect3 -- --effect3 DIR [--rounds N] [--out FILE]`
    }
  }
  if (effect3 === "") return "--effect3 DIR (a checkout of 287ca39 with its dependencies installed) is required"
  if ((process.env.PG_URL ?? "") === "") return "PG_URL must name a PostgreSQL server (both lines run on it)"
  return { effect3, rounds, out }
}

interface Rows {
  readonly loadHot: number
  readonly loadCold: number
  readonly save: number
  readonly saveP99: number
  readonly restore1000: number
  readonly restore10000: number
  readonly restoreMemory1000: number
}

const rowsOf = (file: string): Rows => {
  const bench = JSON.parse(readFileSync(file, "utf8"))
  const restore = (backend: string, lines: number): number =>
    bench.restore.find((r: { backend: string; lines: number }) => r.backend === backend && r.lines === lines)
      ?.snapshotMs ?? Number.NaN
  return {
    loadHot: bench.loadHot.libraryMs,
    loadCold: bench.loadCold.libraryMs,
    save: bench.save.libraryMs,
    saveP99: bench.save.libraryP99Ms,
    restore1000: restore("postgres", 1_000),
    restore10000: restore("postgres", 10_000),
    restoreMemory1000: restore("memory", 1_000)
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const benchIn = (dir: string, out: string): void => {
  const ran = spawnSync("npx", [
    "--yes",
    "pnpm@12.4.2",
    "bench",
    "--only",
    "loadHot,loadCold,save,restore",
    "--out",
    out
  ], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
    env: process.env
  })
  if (ran.status !== 0) throw new Error(`pnpm bench in ${dir} exited with ${ran.status}`)
}

const main = () => {
  const args = parseArgs(process.argv.slice(2))
  if (typeof args === "string") {
    console.error(args)
    process.exitCode = 2
    return
  }
  const started = new Date()
  const loadAtStart = os.loadavg()[0]!
  const runs: { effect3: Array<Rows>; effect4: Array<Rows> } = { effect3: [], effect4: [] }
  // Each line runs on its own toolchain (the Effect 3 checkout has no node devDependency): record which Node.
  const nodes: Record<string, string> = {}
  const tmp = join(os.tmpdir(), `bench-effect3-${process.pid}`)
  mkdirSync(tmp, { recursive: true })
  for (let round = 1; round <= args.rounds; round++) {
    for (const [line, dir] of [["effect3", args.effect3], ["effect4", here]] as const) {
      console.log(`\n=== round ${round} of ${args.rounds}: ${line} (${dir}) ===`)
      const out = join(tmp, `${line}-${round}.json`)
      benchIn(dir, out)
      runs[line].push(rowsOf(out))
      nodes[line] = JSON.parse(readFileSync(out, "utf8")).machine?.node ?? "?"
    }
  }
  const keys = Object.keys(runs.effect3[0]!) as Array<keyof Rows>
  const medians = (line: "effect3" | "effect4") =>
    Object.fromEntries(keys.map((k) => [k, median(runs[line].map((r) => r[k]))])) as unknown as Rows
  const e3 = medians("effect3")
  const e4 = medians("effect4")
  const labels: Record<keyof Rows, string> = {
    loadHot: "loadHot (ms, median)",
    loadCold: "loadCold (ms, median)",
    save: "save (ms, median)",
    saveP99: "save (ms, p99)",
    restore1000: "restore 1,000 lines, Postgres (ms)",
    restore10000: "restore 10,000 lines, Postgres (ms)",
    restoreMemory1000: "restore 1,000 lines, memory (ms)"
  }
  console.log(`\n| row | Effect 3 (287ca39) | Effect 4 (this checkout) | Effect 4 / Effect 3 |`)
  console.log(`| --- | ---: | ---: | ---: |`)
  for (const k of keys) {
    console.log(`| ${labels[k]} | ${e3[k].toFixed(3)} | ${e4[k].toFixed(3)} | ${(e4[k] / e3[k]).toFixed(2)}x |`)
  }
  mkdirSync(dirname(args.out), { recursive: true })
  writeFileSync(
    args.out,
    JSON.stringify(
      {
        date: started.toISOString(),
        durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
        machine: {
          cpus: os.cpus().length,
          model: os.cpus()[0]?.model ?? "?",
          node: nodes,
          loadAverage: { start: loadAtStart, end: os.loadavg()[0]! }
        },
        rounds: args.rounds,
        medians: { effect3: e3, effect4: e4 },
        runs
      },
      null,
      2
    ) + "\n"
  )
  console.log(`\nwritten to ${args.out}`)
}

main()
