/**
 * Run a benchmark part in its own Node process (same loader flags as this one, so TypeScript runs there
 * too), talking request/response over IPC.
 */
import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"

export interface Child<Req, Res> {
  readonly request: (message: Req) => Promise<Res>
  readonly close: (closing?: Req) => Promise<void>
}

export const start = <Req, Res extends { readonly type: string }>(
  moduleUrl: URL,
  options: { readonly execArgv?: ReadonlyArray<string> } = {}
): Child<Req, Res> => {
  const child: ChildProcess = fork(fileURLToPath(moduleUrl), [], {
    execArgv: [...process.execArgv, ...(options.execArgv ?? [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  let pending: { resolve: (res: Res) => void; reject: (error: Error) => void } | undefined
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.on("message", (message: Res) => {
    const waiter = pending
    pending = undefined
    if (waiter === undefined) return
    if (message.type === "error") waiter.reject(new Error(String((message as { message?: unknown }).message)))
    else waiter.resolve(message)
  })
  child.once("exit", (code) => {
    pending?.reject(new Error(`benchmark child ${moduleUrl.pathname} exited with code ${code}`))
    pending = undefined
  })
  return {
    request: (message) =>
      new Promise<Res>((resolve, reject) => {
        if (pending !== undefined) return reject(new Error("one request at a time"))
        pending = { resolve, reject }
        child.send(message as object)
      }),
    close: async (closing) => {
      if (child.exitCode === null && child.connected) {
        if (closing !== undefined) child.send(closing as object)
        else child.disconnect()
      }
      const timer = setTimeout(() => child.kill(), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}
