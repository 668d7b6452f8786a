import { createRequire } from "node:module"
import * as path from "node:path"

const major = (version: string): number => Number(version.replace(/^v/, "").split(".")[0])

/**
 * The Node binary the worker processes run on: Effect 4 needs Node >= 22. Under `pnpm exec vitest` (or
 * `pnpm test`) vitest itself runs on the `node@22` devDependency, so `process.execPath` is it; a vitest started
 * by an older system Node spawns the devDependency's binary instead.
 */
export const nodeBinary = (): string => {
  if (major(process.version) >= 22) return process.execPath
  const require = createRequire(import.meta.url)
  const binary = path.join(path.dirname(require.resolve("node/package.json")), "bin", "node")
  return binary
}
