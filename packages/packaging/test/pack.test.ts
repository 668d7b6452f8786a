/**
 * The public packages as a user installs them: built, packed with `pnpm pack`, installed with npm into a fresh
 * project outside the workspace beside `effect` and `@effect/sql-pg` from the registry, then README's Quick
 * Start typechecked and run there (on the memory layers, and on Postgres when `PG_URL` is set).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../../..")
const published = ["core", "store", "loader", "sql", "cluster", "admin"] as const
const registry = { effect: "4.1.5", "@effect/sql-pg": "4.1.5", typescript: "5.9.3", "@types/node": "22.20.7" }

const run = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

/** The pnpm running this test (a script of it, or its standalone executable), else pnpm 12.4.2 through npx. */
const pnpm = (args: ReadonlyArray<string>, cwd: string) => {
  const execPath = process.env.npm_execpath ?? ""
  if (!/pnpm/.test(path.basename(execPath))) return run("npx", ["--yes", "pnpm@12.4.2", ...args], cwd)
  return /\.[cm]?js$/.test(execPath) ? run(process.execPath, [execPath, ...args], cwd) : run(execPath, args, cwd)
}

/** The first ```ts block under README's "## Quick start" heading. */
export const quickStart = (readme: string): string => {
  const section = readme.split(/^## Quick start$/m)[1] ?? ""
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  if (code === undefined) throw new Error("README.md has no ```ts block under \"## Quick start\"")
  return code
}

const effectCopies = (dir: string): Array<string> => {
  const found: Array<string> = []
  const visit = (modules: string) => {
    if (!fs.existsSync(modules)) return
    for (const entry of fs.readdirSync(modules)) {
      if (entry.startsWith(".")) continue
      const scoped = entry.startsWith("@")
      const names = scoped ? fs.readdirSync(path.join(modules, entry)).map((n) => path.join(entry, n)) : [entry]
      for (const name of names) {
        const pkg = path.join(modules, name)
        if (name === "effect") found.push(pkg)
        visit(path.join(pkg, "node_modules"))
      }
    }
  }
  visit(path.join(dir, "node_modules"))
  return found
}

describe("the packed packages in a fresh npm project", () => {
  let project = ""

  beforeAll(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), "effect-snapshots-user-"))
    run(process.execPath, [
      path.join(root, "node_modules/typescript/bin/tsc"),
      "-b",
      ...published.map((p) => `packages/${p}`)
    ], root)
    const tarballs = published.map((name) => {
      const out = pnpm(["pack", "--pack-destination", project], path.join(root, "packages", name))
      const tarball = out.trim().split("\n").reverse().find((line) => line.endsWith(".tgz"))
      if (tarball === undefined) throw new Error(`pnpm pack printed no tarball for ${name}:\n${out}`)
      return [`@effect-snapshots/${name}`, `file:${tarball.trim()}`] as const
    })
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify(
        {
          name: "user-app",
          private: true,
          type: "module",
          dependencies: { ...Object.fromEntries(tarballs), ...registry }
        },
        null,
        2
      )
    )
    run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], project)
  }, 600_000)

  afterAll(() => {
    if (project !== "") fs.rmSync(project, { recursive: true, force: true })
  })

  it("installs exactly one copy of effect", () => {
    expect(effectCopies(project)).toEqual([path.join(project, "node_modules", "effect")])
  })

  it("README's Quick Start typechecks and runs against the installed packages", () => {
    fs.writeFileSync(
      path.join(project, "quickstart.ts"),
      quickStart(fs.readFileSync(path.join(root, "README.md"), "utf8"))
    )
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"]
        },
        files: ["quickstart.ts"]
      })
    )
    run(process.execPath, [path.join(project, "node_modules/typescript/bin/tsc"), "-p", "."], project)
    // Node >= 22.18 runs a .ts file with erasable syntax directly.
    const memory = run(process.execPath, ["quickstart.ts"], project, { ...process.env, PG_URL: "" })
    expect(memory).toBe("version 1, balance 9.99\n")
    const url = process.env.PG_URL ?? ""
    if (url !== "") {
      // In a schema of its own (the connection's search_path), dropped afterwards.
      const schema = `packaging_${Date.now().toString(36)}`
      run("psql", [url, "-qc", `CREATE SCHEMA ${schema}`], project)
      try {
        const inSchema = new URL(url)
        inSchema.searchParams.set("options", `-c search_path=${schema}`)
        const env = { ...process.env, PG_URL: inSchema.toString() }
        expect(run(process.execPath, ["quickstart.ts"], project, env)).toBe("version 1, balance 9.99\n")
        expect(run(process.execPath, ["quickstart.ts"], project, env)).toBe("version 2, balance 19.98\n")
      } finally {
        run("psql", [url, "-qc", `DROP SCHEMA ${schema} CASCADE`], project)
      }
    }
  }, 300_000)
})
