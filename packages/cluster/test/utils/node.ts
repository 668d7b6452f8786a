import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

const require = createRequire(import.meta.url)

const major = (version: string): number => Number(version.replace(/^v/, "").split(".")[0])

/** The Node the runner processes run on (Effect 4 needs Node >= 22), as the reliability suite spawns it. */
export const nodeBinary = (): string => {
  if (major(process.version) >= 22) return process.execPath
  return path.join(path.dirname(require.resolve("node/package.json")), "bin", "node")
}

/** Run a TypeScript `script` in a child Node with tsx's loader given by absolute URL. */
export const tsxArgs = (script: string): Array<string> => [
  "--import",
  pathToFileURL(require.resolve("tsx")).href,
  script
]
