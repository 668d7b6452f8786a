/**
 * Cache memory (issue 22 item 4): a repository's known-state cache holds at most 1.25x its `cacheMaxBytes` of
 * heap, for states built by replay and loaded from snapshots, and every state it serves is the fold of its
 * events. Each case runs the loader's heap fixture in a child Node with `--expose-gc`: 40 orders of ~1.3 MB
 * under a 16 MiB bound, heap used (after a full GC) before and after filling the cache, and after its scope
 * closed.
 */
import { nodeBinary, tsxArgs } from "@effect-snapshots/reliability/NodeProcess"
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { record } from "./utils/figures.js"

const fixture = fileURLToPath(new URL("../../sql/test/fixtures/cacheHeap.ts", import.meta.url))
const MiB = 1024 * 1024
const bound = 16 * MiB
const orders = 40

interface HeapReport {
  readonly held: number
  readonly after: number
  readonly entries: number
  readonly loads: number
  readonly mismatches: number
}

describe("cache memory", () => {
  for (const mode of ["replay", "snapshot"] as const) {
    it(
      `states built by ${mode}: heap held within 1.25x cacheMaxBytes, every state the fold of its events`,
      async () => {
        const started = Date.now()
        const [tsx, loader, script] = tsxArgs(fixture)
        const { stdout } = await promisify(execFile)(
          nodeBinary(),
          ["--expose-gc", tsx!, loader!, script!, mode, `${orders}`, `${bound}`],
          { maxBuffer: 1024 * 1024 }
        )
        const report = JSON.parse(stdout.trim().split("\n").at(-1)!) as HeapReport
        record("cache memory", { casesTried: report.loads, mismatches: report.mismatches }, Date.now() - started)
        assert.strictEqual(report.mismatches, 0)
        assert.isAtMost(report.held, 1.25 * bound, `held ${(report.held / MiB).toFixed(1)} MiB`)
        assert.isAbove(report.entries, 0)
        assert.isBelow(report.after, 0.1 * bound)
      },
      120_000
    )
  }
})
