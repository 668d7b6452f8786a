/** Run an admin bin as a subprocess (node + tsx), the way an operator runs it. */
import * as Effect from "effect/Effect"
import { execFile, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
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
  env: Readonly<Record<string, string | undefined>>,
  options?: { readonly killAfterMillis?: number | undefined }
): Effect.Effect<Ran> =>
  Effect.callback<Ran>((resume) => {
    const child = execFile(
      node(),
      ["--import", tsx, script, ...args],
      {
        env: { ...process.env, NO_COLOR: "1", ...env },
        timeout: options?.killAfterMillis ?? 400_000,
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

/** A started admin bin: the child process (to signal it) and what it printed once it ends. */
export interface Started {
  readonly child: ChildProcess
  /** Its exit code, or the signal that ended it, with its output. */
  readonly ended: Promise<Ran & { readonly signal: NodeJS.Signals | null; readonly endedAt: number }>
}

/** Start an admin bin as a subprocess, without waiting for it (the test signals it). */
export const startCli = (
  script: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Started => {
  const child = spawn(node(), ["--import", tsx, script, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => void (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk))
  const ended = new Promise<Ran & { signal: NodeJS.Signals | null; endedAt: number }>((resolve) => {
    child.on("close", (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr, endedAt: Date.now() }))
  })
  return { child, ended }
}

/**
 * A server that accepts TCP connections on a loopback port and never writes a byte: a database that hangs.
 * `connected` resolves at its first connection; the server and its sockets close with the scope.
 */
export const silentServer = Effect.acquireRelease(
  Effect.callback<{
    readonly port: number
    readonly connected: Promise<void>
    readonly server: net.Server
    readonly sockets: Set<net.Socket>
  }>(
    (resume) => {
      const sockets = new Set<net.Socket>()
      let onConnection: () => void = () => {}
      const connected = new Promise<void>((resolve) => {
        onConnection = resolve
      })
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        onConnection()
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo
        resume(Effect.succeed({ port: address.port, connected, server, sockets }))
      })
    }
  ),
  ({ server, sockets }) =>
    Effect.callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)
