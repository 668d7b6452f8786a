/** Run an admin bin as a subprocess (node + tsx), the way an operator runs it. */
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

export const runCli = (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", script, ...args],
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
