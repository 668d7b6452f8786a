import { Figures } from "@effect-snapshots/reliability"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    reliabilityFiguresDir: string
  }
}

/**
 * Creates the directory the test files write their figures into, and prints the summed figures block
 * when the project's run ends.
 */
export default function setup(project: TestProject) {
  const started = Date.now()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-snapshots-reliability-"))
  project.provide("reliabilityFiguresDir", dir)
  return () => {
    const backend = (process.env.PG_URL ?? "") !== ""
      ? "PostgreSQL server (PG_URL) + memory"
      : "memory + embedded PGlite (no PG_URL: real-server parts skipped)"
    const block = Figures.format(Figures.read(dir), { backend, wallMs: Date.now() - started })
    process.stdout.write(`\n${block}\n`)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
