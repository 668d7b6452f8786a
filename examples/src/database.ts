/**
 * The database the demo and the admin bin use: PostgreSQL on `PG_URL` when it is set, otherwise an embedded
 * Postgres (PGlite) kept in a data folder, so `pnpm demo` followed by `pnpm admin -- stats` shows what the demo
 * wrote. The folder is `.data/pglite` at the repository's root, or `EFFECT_SNAPSHOTS_DATA` when that is set.
 */
import { Postgres } from "@effect-snapshots/postgres"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Whether `PG_URL` names a server. */
export const hasServer = (): boolean => (process.env.PG_URL ?? "") !== ""

/** The embedded database's folder (absolute). */
export const dataDir = (): string =>
  path.resolve(process.env.EFFECT_SNAPSHOTS_DATA || fileURLToPath(new URL("../../.data/pglite", import.meta.url)))

/** Where the data goes, for one line of output. */
export const describe = (): string => {
  if (!hasServer()) return `the embedded Postgres (PGlite) in ${dataDir()}`
  try {
    const parsed = new URL(process.env.PG_URL!)
    return `PostgreSQL at ${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname} (PG_URL)`
  } catch {
    return "PostgreSQL: PG_URL is not a valid URL"
  }
}

/**
 * `Postgres.layer(options)` on `PG_URL`; without it the embedded Postgres in `dataDir()`, in its default schema
 * (the folder is this program's own, and the admin bin reads the tables there).
 */
export const layer = (options: Pick<Postgres.Options, "schema" | "maxConnections"> = {}) =>
  hasServer() ? Postgres.layer(options) : Postgres.layerEmbedded({ dataDir: dataDir() })
