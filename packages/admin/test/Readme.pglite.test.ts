/**
 * The README's output blocks are what the CLI prints (issue 22 item 10): each block marked
 * `<!-- output: admin-... -->` is parsed from the README and compared, line by line, with the command run on
 * the test data of utils/seed.ts (in this process, on PGlite, as Cli.pglite.test.ts runs the data commands).
 * What a run measures is masked on both sides: timestamps, the bytes Postgres stores (`…` in the README) and
 * a rebuild's rate. examples/test/docs.test.ts checks that every output block of the READMEs is marked.
 */
import { Postgres } from "@effect-snapshots/postgres"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, layer } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Cli } from "../src/index.js"
import { registry } from "./fixtures/aggregates.js"
import { seed } from "./utils/seed.js"

const readme = fs.readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8")

/** The block after `<!-- output: key -->`: the command of its `$` line (if any) and the lines it shows. */
const block = (key: string) => {
  const marker = `<!-- output: ${key} -->\n\`\`\`${key.endsWith("-json") ? "json" : ""}\n`
  const start = readme.indexOf(marker)
  assert.isAtLeast(start, 0, `README block ${key}`)
  const lines = readme.slice(start + marker.length, readme.indexOf("\n```", start + marker.length)).split("\n")
  const command = lines[0]!.startsWith("$ ") ? lines.shift()!.replace(/^\$ (pnpm admin -- |admin )/, "") : undefined
  return { command, lines }
}

/**
 * Whether `actual` (printed JSON) is what `documented` (the README's) shows: `"…"` stands for any value, a key
 * `"…"` for the keys left out, an array ending in `"…"` for the elements left out; timestamps are masked.
 * Answers the path of the first difference.
 */
const differs = (documented: unknown, actual: unknown, at = "$"): string | undefined => {
  if (documented === "…") return undefined
  if (typeof documented === "string" && typeof actual === "string") {
    return masked([documented])[0] === masked([actual])[0] ? undefined : at
  }
  if (Array.isArray(documented) && Array.isArray(actual)) {
    const abridged = documented.at(-1) === "…"
    const shown = abridged ? documented.slice(0, -1) : documented
    if (abridged ? actual.length < shown.length : actual.length !== shown.length) return `${at}.length`
    for (const [i, item] of shown.entries()) {
      const difference = differs(item, actual[i], `${at}[${i}]`)
      if (difference !== undefined) return difference
    }
    return undefined
  }
  if (typeof documented === "object" && documented !== null && typeof actual === "object" && actual !== null) {
    const shown = Object.keys(documented).filter((key) => key !== "…")
    const keys = Object.keys(actual)
    const missing = shown.find((key) => !keys.includes(key))
    if (missing !== undefined) return `${at}.${missing} (not printed)`
    if (!("…" in documented)) {
      const extra = keys.find((key) => !shown.includes(key))
      if (extra !== undefined) return `${at}.${extra} (not in the README)`
    }
    for (const key of shown) {
      const difference = differs(
        (documented as Record<string, unknown>)[key],
        (actual as Record<string, unknown>)[key],
        `${at}.${key}`
      )
      if (difference !== undefined) return difference
    }
    return undefined
  }
  return documented === actual ? undefined : at
}

const masked = (lines: ReadonlyArray<string>): Array<string> =>
  lines.map((line) =>
    line
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<timestamp>")
      .replace(/\b\d+(\.\d+)? (B|KiB|MiB)\b/g, "…")
      .replace(/^(Order|Counter|Gauge)(\s+\d+\s+\d+\s+\d+\s+\d+\s+)\d+\.\d/, "$1$2<rate>")
      .replace(/\s+/g, " ")
      .trimEnd()
  )

let schemas = 0

/** `admin <args>` on a fresh schema of the file's PGlite, seeded as utils/seed.ts says: its stdout lines. */
const admin = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<SqlClient.SqlClient>()
    const sql = yield* SqlClient.SqlClient
    const schema = `readme_${++schemas}`
    yield* sql.unsafe(`CREATE SCHEMA ${schema}`)
    yield* sql.unsafe(`SET search_path TO ${schema}`)
    yield* seed
    const out: Array<string> = []
    const base = yield* Console.Console
    const console = Object.assign(Object.create(base) as Console.Console, {
      log: (...parts: ReadonlyArray<unknown>) => void out.push(parts.map(String).join(" ")),
      info: (...parts: ReadonlyArray<unknown>) => void out.push(parts.map(String).join(" ")),
      error: () => undefined,
      warn: () => undefined
    })
    yield* Cli.run(registry, { connection: Layer.succeedContext(context) })(["node", "admin", ...args]).pipe(
      Effect.provideService(Console.Console, console),
      Effect.provide(NodeServices.layer)
    )
    return out.join("\n").split("\n")
  })

/** The commands of the README's blocks (their `$` lines), run without a progress bar. */
const commands: ReadonlyArray<readonly [key: string, args: ReadonlyArray<string>]> = [
  ["admin-stats", ["stats"]],
  ["admin-list", ["list", "Counter", "c-1"]],
  ["admin-prune-dry-run", ["prune", "--keep-last", "1", "--older-than", "30 days", "--dry-run", "--no-progress"]],
  ["admin-verify", ["verify", "--repair", "--no-progress"]],
  ["admin-rebuild", ["rebuild", "--only-stale", "--per-second", "200", "--no-progress"]]
]

/** The commands whose `--json` the README's JSON blocks show (they have no `$` line: their section names it). */
const jsonCommands: ReadonlyArray<readonly [key: string, args: ReadonlyArray<string>]> = [
  ["admin-stats-json", ["stats", "--json"]],
  ["admin-list-json", ["list", "Counter", "c-1", "--json"]],
  ["admin-inspect-json", ["inspect", "Other", "o-1", "--json"]],
  ["admin-prune-dry-run-json", ["prune", "--keep-last", "1", "--dry-run", "--no-progress", "--json"]],
  ["admin-verify-json", ["verify", "--no-progress", "--json"]],
  ["admin-rebuild-json", ["rebuild", "--per-second", "500", "--no-progress", "--json"]]
]

describe("the admin README's output blocks", () => {
  layer(Postgres.layerEmbedded(), { timeout: 120_000, excludeTestServices: true })((it) => {
    for (const [key, args] of commands) {
      it.effect(`${key}: ${args.join(" ")}`, () =>
        Effect.gen(function*() {
          const { command, lines } = block(key)
          const shown = args.filter((a) => a !== "--no-progress").map((a) => a.includes(" ") ? `"${a}"` : a)
          assert.strictEqual(command, shown.join(" "))
          const printed = yield* admin(args)
          assert.deepStrictEqual(masked(printed), masked(lines), `as printed:\n${printed.join("\n")}`)
        }), 600_000)
    }
    for (const [key, args] of jsonCommands) {
      it.effect(`${key}: ${args.join(" ")}`, () =>
        Effect.gen(function*() {
          const printed = (yield* admin(args)).join("\n")
          const difference = differs(JSON.parse(block(key).lines.join("\n")), JSON.parse(printed))
          assert.isUndefined(difference, `the README's JSON differs at ${difference}; printed:\n${printed}`)
        }), 600_000)
    }
  })
})
