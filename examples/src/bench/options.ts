/**
 * Command-line options of `pnpm bench`.
 */

export type Part =
  | "load"
  | "memory"
  | "vsRaw"
  | "loadHot"
  | "loadCold"
  | "save"
  | "replay1M"
  | "peer"
  | "largeState"
  | "restore"
  | "seedScenario"
  | "citus"
  | "redis"

/** `replay1M` and `peer` each carry their bare-`pg` floor (the `replayFloor` rows). */
export const allParts: ReadonlyArray<Part> = [
  "load",
  "memory",
  "vsRaw",
  "loadHot",
  "loadCold",
  "save",
  "replay1M",
  "peer",
  "largeState",
  "restore",
  "seedScenario",
  "citus",
  "redis"
]

export interface Options {
  readonly profile: "full" | "quick" | "smoke"
  /** Where the JSON goes; the chart is written next to it (same name, `.svg`). */
  readonly out: string
  readonly parts: ReadonlyArray<Part>
  /** History lengths of the `load` series on Postgres. */
  readonly sqlSizes: ReadonlyArray<number>
  /** History lengths of the `load` series on the memory layers. */
  readonly memorySizes: ReadonlyArray<number>
  readonly snapshotEvery: number
  /** Events after the snapshot in every with-snapshot load (the average tail when snapshotting every 100). */
  readonly tail: number
  readonly vsRawEvents: number
  readonly peerEvents: number
  readonly replayEvents: number
  readonly saveIterations: number
  readonly largeStateItems: number
  /** `restore`: states of this many lines (one event per line), loaded from a snapshot and by replay. */
  readonly restoreLines: ReadonlyArray<number>
  /** `seedScenario`: items in the order before its snapshot, and items added after it. */
  readonly seedItems: number
  readonly seedMore: number
  /** `citus`: events in the stream loaded on Citus and on the plain server (snapshot `tail` events back). */
  readonly citusEvents: number
  /** Warm-up rounds and timed rounds of each side-by-side comparison, and a time budget per comparison (ms). */
  readonly warmup: number
  readonly iterations: number
  readonly budgetMs: number
  /** Timed rounds that run even when the budget is spent. */
  readonly minIterations: number
  /** Full replays of the `replay1M` stream (the median is reported). */
  readonly replayRounds: number
}

export class UsageError extends Error {}

const usage = `usage: pnpm bench [--quick | --smoke] [--out FILE] [--only part,part,...]
  --quick        smaller sizes, finishes in under a minute
  --smoke        tiny sizes, for the test that keeps the bench from rotting
  --out FILE     write the JSON there (default examples/bench-results/bench.json) and the chart next to it (.svg)
  --only PARTS   run only these parts: ${allParts.join(", ")}
Runs on PostgreSQL at PG_URL when it is set, else on the embedded PGlite; the memory layers always.
The citus part runs when CITUS_URL (a Citus coordinator) is set, against CITUS_PLAIN_URL (default PG_URL).`

const profiles = {
  full: {
    sqlSizes: [100, 1_000, 10_000, 100_000],
    memorySizes: [100, 1_000, 10_000, 100_000, 1_000_000],
    vsRawEvents: 10_000,
    peerEvents: 10_000,
    replayEvents: 1_000_000,
    saveIterations: 2_000,
    largeStateItems: 10_000,
    restoreLines: [1_000, 10_000],
    seedItems: 1_000,
    seedMore: 100,
    citusEvents: 1_000,
    warmup: 20,
    iterations: 200,
    budgetMs: 20_000,
    minIterations: 5,
    replayRounds: 3
  },
  quick: {
    sqlSizes: [100, 1_000, 10_000, 100_000],
    memorySizes: [100, 1_000, 10_000, 100_000],
    vsRawEvents: 10_000,
    peerEvents: 10_000,
    replayEvents: 100_000,
    saveIterations: 400,
    largeStateItems: 2_000,
    restoreLines: [1_000, 2_000],
    seedItems: 1_000,
    seedMore: 100,
    citusEvents: 1_000,
    warmup: 5,
    iterations: 30,
    budgetMs: 1_500,
    minIterations: 3,
    replayRounds: 1
  },
  smoke: {
    sqlSizes: [100, 300],
    memorySizes: [100, 300],
    vsRawEvents: 300,
    peerEvents: 300,
    replayEvents: 2_000,
    saveIterations: 20,
    largeStateItems: 200,
    restoreLines: [100, 200],
    seedItems: 100,
    seedMore: 10,
    citusEvents: 200,
    warmup: 1,
    iterations: 3,
    budgetMs: 500,
    minIterations: 1,
    replayRounds: 1
  }
} as const

export const parse = (argv: ReadonlyArray<string>): Options => {
  let profile: Options["profile"] = "full"
  let out = "examples/bench-results/bench.json"
  let parts: ReadonlyArray<Part> = allParts
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => {
      const next = argv[++i]
      if (next === undefined || next.startsWith("--")) throw new UsageError(`${arg} needs a value\n${usage}`)
      return next
    }
    if (arg === "--quick") profile = "quick"
    else if (arg === "--smoke") profile = "smoke"
    else if (arg === "--out") out = value()
    else if (arg.startsWith("--out=")) out = arg.slice("--out=".length)
    else if (arg === "--only") {
      const names = value().split(",").map((s) => s.trim()).filter((s) => s !== "")
      const unknown = names.filter((name) => !allParts.includes(name as Part))
      if (unknown.length > 0) throw new UsageError(`unknown part(s) ${unknown.join(", ")}\n${usage}`)
      parts = names as Array<Part>
    } else if (arg === "--help" || arg === "-h") throw new UsageError(usage)
    else throw new UsageError(`unknown argument ${arg}\n${usage}`)
  }
  return { profile, out, parts, snapshotEvery: 100, tail: 50, ...profiles[profile] }
}
