/**
 * readAll in order across transaction-id digit boundaries on a real PostgreSQL 15: a throwaway server
 * (initdb in a temporary directory, a free loopback port) whose next transaction id is set just below
 * 100,000 and then 1,000,000 with `pg_resetwal -x`. Runs where the server binaries are installed
 * (`PG_BIN`, default /usr/lib/postgresql/15/bin); as root, the server runs as the user `postgres`.
 *
 * `pg_resetwal -x` needs the commit log (pg_xact) to hold the page of the new id: a fresh cluster has one
 * 8 KB page of segment 0000 (ids below 32,768), so the segment is extended with zeros to its full 256 KB
 * (ids below 1,048,576; zero is "never committed", which is right for ids never used).
 */
import { Postgres } from "@effect-snapshots/postgres"
import { afterAll, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, rmSync, truncateSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { readAllAcrossXidBoundary } from "./utils/xidBoundary.js"

const bin = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin"
const available = existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_resetwal"))
const asRoot = process.getuid?.() === 0

/** Runs a server binary, as `postgres` when this process is root (initdb and the server refuse root). */
const run = (program: string, args: ReadonlyArray<string>): string => {
  const command = [join(bin, program), ...args]
  return asRoot
    ? execFileSync("su", ["postgres", "-c", command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ")], {
      encoding: "utf8"
    })
    : execFileSync(command[0]!, command.slice(1), { encoding: "utf8" })
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

describe.skipIf(!available)("readAll across transaction-id digit boundaries on a throwaway PostgreSQL", () => {
  let dir = ""
  let data = ""
  let port = 0
  let running = false

  const stop = () => {
    if (running) run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"])
    running = false
  }

  /** Stops the server, sets its next transaction id, starts it again. */
  const restartAt = (nextXid: number) => {
    stop()
    run("pg_resetwal", ["-x", String(nextXid), "-D", data])
    run("pg_ctl", [
      "-D",
      data,
      "-w",
      "-l",
      join(dir, "server.log"),
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c autovacuum=off`,
      "start"
    ])
    running = true
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "readall-xid-"))
    data = join(dir, "data")
    if (asRoot) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }))
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }))
      chownSync(dir, uid, gid)
    }
    run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
    truncateSync(join(data, "pg_xact", "0000"), 256 * 1024)
    port = await freePort()
  }, 120_000)

  afterAll(() => {
    try {
      stop()
    } finally {
      if (dir !== "") rmSync(dir, { recursive: true, force: true })
    }
  })

  for (const boundary of [100_000, 1_000_000]) {
    it.live(
      `in order and resumable from every position across ${boundary.toLocaleString("en")}`,
      () =>
        Effect.gen(function*() {
          restartAt(boundary - 8)
          yield* readAllAcrossXidBoundary(boundary, `xid_events_${boundary}`).pipe(
            Effect.provide(Postgres.layerUrl(`postgres://postgres@127.0.0.1:${port}/postgres`, { maxConnections: 2 }))
          )
        }),
      120_000
    )
  }
})
