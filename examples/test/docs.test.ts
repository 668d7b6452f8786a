/**
 * The printed output shown in the READMEs comes from running the examples (issue 22 item 10). Each output block
 * carries a marker on the line before its fence:
 *
 * - `<!-- output: KEY -->`: a test runs the example and compares what it printed with the block, parsed from
 *   the README (so a drift in either fails). Figures a run measures (times, speed-ups, timestamps, generated
 *   ids, a temporary folder) are masked on both sides; everything else must match, line by line.
 * - `<!-- recorded run: SOURCE -->`: the figures of a recorded run (a benchmark, CI's reliability figures);
 *   where SOURCE is a file of the repository, the block must be that file's lines.
 *
 * Every fence without a language, or in JSON, in the READMEs below is an output block and must carry one of them.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import pg from "pg"

const root = fileURLToPath(new URL("../../", import.meta.url))
const examples = path.join(root, "examples")
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

const readmes = [
  "README.md",
  ...fs.readdirSync(path.join(root, "packages")).map((name) => `packages/${name}/README.md`)
    .filter((file) => fs.existsSync(path.join(root, file))),
  "examples/README.md"
]

/** The keys of `<!-- output: KEY -->` blocks, each compared by a test: here, or in the admin package. */
const checkedHere = ["loader-end-to-end", "demo", "demo-admin-stats", "demo-unreachable"]
const checkedByAdmin = ["stats", "list", "inspect", "prune-dry-run", "verify", "rebuild"].flatMap((command) =>
  command === "inspect" ? [`admin-${command}-json`] : [`admin-${command}`, `admin-${command}-json`]
)

interface Block {
  readonly file: string
  readonly line: number
  readonly marker: string | undefined
  readonly language: string
  readonly text: string
}

/** The fenced blocks of a README, with the HTML comment on the line before each, if any. */
const blocksOf = (file: string): Array<Block> => {
  const lines = fs.readFileSync(path.join(root, file), "utf8").split("\n")
  const blocks: Array<Block> = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!)
    if (open === null) continue
    const end = lines.findIndex((line, j) => j > i && line.startsWith("```"))
    const before = i > 0 ? /^<!-- (.*) -->$/.exec(lines[i - 1]!) : null
    blocks.push({
      file,
      line: i + 1,
      marker: before?.[1],
      language: open[1]!,
      text: lines.slice(i + 1, end).join("\n")
    })
    i = end
  }
  return blocks
}

/** The output block marked `<!-- output: key -->`. */
const outputBlock = (key: string): Block => {
  const found = readmes.flatMap(blocksOf).filter((block) => block.marker === `output: ${key}`)
  assert.strictEqual(found.length, 1, `one block marked "output: ${key}"`)
  return found[0]!
}

/** What a run measures or generates, masked: the rest of a line must match as printed. */
const masked = (text: string): Array<string> =>
  text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<timestamp>")
    .replace(/\b\d[\d,]*(\.\d+)? ?(ms|s)\b/g, "<duration>")
    .replace(/\b\d[\d,]*(\.\d+)?x\b/g, "<ratio>")
    .replace(/order-[a-z0-9]{8}-[a-z0-9]{4}/g, "order-<id>")
    .split("\n")
    .map((line) => line.replace(/\s+/g, " ").trimEnd())

/**
 * Assert that `block` is what was `printed`: every line of the block, masked, in order and contiguous, from
 * the printed line its first line matches (an excerpt may leave out what comes before and after). A first
 * line `$ command` is the command that was run, not compared.
 */
const assertPrinted = (block: Block, printed: string, excerpt: boolean) => {
  const expected = masked(block.text.replace(/^\$ .*\n/, ""))
  const actual = masked(printed.trimEnd())
  const start = excerpt ? actual.indexOf(expected[0]!) : 0
  const where = `${block.file}:${block.line}, as printed:\n${printed}`
  assert.isAtLeast(start, 0, `"${expected[0]}" was not printed (${where})`)
  assert.deepStrictEqual(actual.slice(start, start + expected.length), expected, where)
  if (!excerpt) assert.strictEqual(actual.length, expected.length, where)
}

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** `node --import tsx script args` in examples/, as a newcomer runs it. */
const run = (script: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  new Promise<Ran>((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, script, ...args],
      { cwd: examples, env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    )
  })

describe("the READMEs' printed output", () => {
  it("every output block (a fence without a language, or JSON) is marked, and every marked block is checked", () => {
    const unmarked: Array<string> = []
    const keys: Array<string> = []
    for (const block of readmes.flatMap(blocksOf)) {
      if (block.language !== "" && block.language !== "json") continue
      const marker = block.marker ?? ""
      if (marker.startsWith("output: ")) keys.push(marker.slice("output: ".length))
      else if (!marker.startsWith("recorded run: ")) unmarked.push(`${block.file}:${block.line}`)
    }
    assert.deepStrictEqual(unmarked, [], "output blocks without a marker")
    assert.sameMembers(keys, [...checkedHere, ...checkedByAdmin])
  })

  it("a recorded run whose source is a file is that file's lines (less those the README leaves out)", () => {
    const recorded = readmes.flatMap(blocksOf).filter((block) => block.marker?.startsWith("recorded run: "))
    assert.isNotEmpty(recorded)
    for (const block of recorded) {
      const source = /^recorded run: (\S+\.txt)\b/.exec(block.marker!)?.[1]
      if (source === undefined) continue
      // docs/bench/bench.txt: the README leaves out the command, the seeding lines, the summary and targets.
      const lines = fs.readFileSync(path.join(root, source), "utf8").split("\n")
      const summary = lines.findIndex((line) => line.startsWith("== summary"))
      const kept = lines.slice(0, summary === -1 ? undefined : summary)
        .filter((line) => !line.startsWith("$ ") && !/^\s+seeded /.test(line))
      assert.deepStrictEqual(
        block.text.split("\n"),
        kept.join("\n").trimEnd().split("\n"),
        `${block.file}:${block.line}`
      )
    }
  })

  it("the loader README's end-to-end example prints its output block, on memory and on PostgreSQL", async () => {
    const readme = fs.readFileSync(path.join(root, "packages/loader/README.md"), "utf8")
    const section = readme.indexOf("## End to end")
    const start = readme.indexOf("```ts\n", section) + "```ts\n".length
    let code = readme.slice(start, readme.indexOf("```", start))
    const block = outputBlock("loader-end-to-end")
    const url = process.env.PG_URL
    const dir = fs.mkdtempSync(path.join(examples, ".docs-"))
    const database = `docs_end_to_end_${process.pid}`
    const admin = url === undefined ? undefined : new pg.Client({ connectionString: url })
    try {
      // The example runs on the memory layers, then on PostgreSQL at PG_URL (a scratch database of its own).
      if (admin === undefined) code = code.replace(/^await Effect\.runPromise\(program\.pipe\(.*Sql\)\)\)$/m, "")
      await admin?.connect()
      await admin?.query(`CREATE DATABASE ${database}`)
      const scratch = url === undefined ? undefined : Object.assign(new URL(url), { pathname: `/${database}` }).href
      fs.writeFileSync(path.join(dir, "endToEnd.ts"), code)
      const ran = await run(path.join(dir, "endToEnd.ts"), [], { PG_URL: scratch })
      assert.strictEqual(ran.code, 0, ran.stderr)
      const expected = url === undefined ? block.text.split("\n").slice(0, 3).join("\n") : block.text
      assertPrinted({ ...block, text: expected }, ran.stdout, false)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
      await admin?.query(`DROP DATABASE IF EXISTS ${database}`)
      await admin?.end()
    }
  }, 300_000)

  it(
    "the demo on the embedded Postgres prints examples/README's blocks, and `pnpm admin -- stats` then its own",
    async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "demo-data-"))
      const env = { PG_URL: undefined, DEMO_EVENTS: undefined, EFFECT_SNAPSHOTS_DATA: dataDir }
      // The README's run had EFFECT_SNAPSHOTS_DATA=/tmp/demo-data.
      const asDocumented = (text: string) => text.replaceAll(dataDir, "/tmp/demo-data")
      try {
        const demo = await run("src/demo.ts", [], env)
        assert.strictEqual(demo.code, 0, demo.stdout + demo.stderr)
        assertPrinted(outputBlock("demo"), asDocumented(demo.stdout), true)
        const stats = await run("src/admin.ts", ["--", "stats"], env)
        assert.strictEqual(stats.code, 0, stats.stdout + stats.stderr)
        // stderr says which database it uses, stdout has the table
        assertPrinted(outputBlock("demo-admin-stats"), asDocumented(stats.stderr + stats.stdout), false)
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true })
      }
    },
    600_000
  )

  it("the demo with an unreachable server prints examples/README's block", async () => {
    const demo = await run("src/demo.ts", [], { PG_URL: "postgres://postgres@127.0.0.1:1/test" })
    assert.strictEqual(demo.code, 1, demo.stdout + demo.stderr)
    // stdout says where it connects; stderr the one line of the error
    assertPrinted(outputBlock("demo-unreachable"), demo.stdout + demo.stderr, true)
  }, 120_000)
})
