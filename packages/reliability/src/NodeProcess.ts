/**
 * A TypeScript script in a child Node process, for the tests that spawn workers or runners and kill them (the
 * reliability suite's crash and application tests, the cluster's runner processes).
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

const require = createRequire(import.meta.url)

const major = (version: string): number => Number(version.replace(/^v/, "").split(".")[0])

/**
 * The Node binary the child processes run on: Effect 4 needs Node >= 22. Under `pnpm exec vitest` (or
 * `pnpm test`) vitest itself runs on the `node@22` devDependency, so `process.execPath` is it; a vitest started
 * by an older system Node spawns the devDependency's binary instead.
 *
 * @since 0.1.0
 * @category processes
 */
export const nodeBinary = (): string => {
  if (major(process.version) >= 22) return process.execPath
  return path.join(path.dirname(require.resolve("node/package.json")), "bin", "node")
}

/**
 * The arguments that run a TypeScript `script` in a child Node: tsx's loader by absolute URL (the child's
 * `--import` resolves a bare "tsx" from its working directory, which need not see the workspace root).
 *
 * @since 0.1.0
 * @category processes
 */
export const tsxArgs = (script: string): Array<string> => [
  "--import",
  pathToFileURL(require.resolve("tsx")).href,
  script
]
