/** Run an admin bin as a subprocess (node + tsx), the way an operator runs it. */
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

const major = (version: string): number => Number(version.replace(/^v/, "").split(".")[0])

/**
 * The node binary of the subprocess: this process's own when it is Node >= 22 (pnpm runs the scripts on the
 * repository's node@22 devDependency, and vitest's workers run on the node that started it), otherwise that
 * devDependency's binary. Effect 4 needs Node >= 22.
 */
const node = (): string => {
  if (major(process.versions.node) >= 22) return process.execPath
  const local = fileURLToPath(new URL("../../../../node_modules/.bin/node", import.meta.url))
  if (existsSync(local)) return local
  throw new Error(`the CLI tests need Node >= 22 (this is ${process.version}); run them through pnpm`)
}

/** tsx's loader, by absolute URL: the subprocess must not depend on its working directory to find it. */
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

export const runCli = (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<Ran> =>
  Effect.callback<Ran>((resume) => {
    const child = execFile(
      node(),
      ["--import", tsx, script, ...args],
      {
        env: { ...process.env, NO_COLOR: "1", ...env },
        timeout: 400_000,
        maxBuffer: 16 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resume(Effect.succeed({ code, stdout, stderr }))
      }
    )
    return Effect.sync(() => child.kill())
  })

/** The JSON a command printed on stdout. */
export const parsed = <A>(ran: Ran): A => {
  try {
    return JSON.parse(ran.stdout) as A
  } catch {
    throw new Error(`stdout is not JSON (exit ${ran.code}):\n${ran.stdout}\nstderr:\n${ran.stderr}`)
  }
}
