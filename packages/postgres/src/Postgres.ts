/**
 * One place that yields a `SqlClient` for tests, examples and the benchmark: `PgClient` on `PG_URL` when
 * it is set, otherwise an embedded Postgres (PGlite served in-process by pglite-socket) reached through
 * the same `@effect/sql-pg` driver.
 *
 * @since 0.1.0
 */
import { PgClient } from "@effect/sql-pg"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { SqlClient } from "effect/sql/SqlClient"
import { ConnectionError, SqlError } from "effect/sql/SqlError"

/**
 * Which Postgres the layer reached: a real server (`PG_URL`) or the embedded PGlite.
 *
 * @since 0.1.0
 */
export class Backend extends Context.Service<Backend, {
  readonly kind: "postgres" | "pglite"
  /** A description safe to print (no password). */
  readonly description: string
  /** Whether several real connections are available (false on PGlite, which has exactly one). */
  readonly multiConnection: boolean
}>()("@effect-snapshots/postgres/Backend") {}

/**
 * The embedded server could not start.
 *
 * @since 0.1.0
 */
export class EmbeddedStartError extends Data.TaggedError("EmbeddedStartError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/**
 * @since 0.1.0
 */
export interface Options {
  /** Pool size on a real server (default 10). The embedded server always uses exactly one connection. */
  readonly maxConnections?: number | undefined
  /**
   * Put every table in this schema (created if missing; `search_path` of each connection points at it).
   * Test files use it to isolate themselves on a shared server.
   */
  readonly schema?: string | undefined
  /**
   * Keep the embedded database in this folder (created if missing) instead of in memory, so a later run finds
   * what an earlier one wrote. Ignored on a real server. One process at a time may open a folder.
   */
  readonly dataDir?: string | undefined
}

type Services = PgClient.PgClient | SqlClient | Backend

const withSearchPath = (url: string, schema: string | undefined): string => {
  if (schema === undefined) return url
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return parsed.toString()
}

const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `PostgreSQL at ${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`
  } catch {
    return "PostgreSQL (unparsable PG_URL)"
  }
}

const createSchema = (schema: string | undefined) =>
  schema === undefined ? Effect.void : Effect.flatMap(
    PgClient.PgClient,
    (sql) => sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema.replaceAll("\"", "\"\"")}"`)
  )

/**
 * `PgClient` on a server URL.
 *
 * @since 0.1.0
 */
export const layerUrl = (url: string, options: Options = {}): Layer.Layer<Services, SqlError> => {
  // The schema must exist before a connection whose search_path names it runs a query that needs it,
  // so it is created through a short-lived client first.
  const create = options.schema === undefined ? Layer.empty : Layer.effectDiscard(
    createSchema(options.schema).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
      Effect.scoped
    )
  )
  const client = PgClient.layer({
    url: Redacted.make(withSearchPath(url, options.schema)),
    maxConnections: options.maxConnections ?? 10
  })
  const backend = Layer.succeed(Backend, { kind: "postgres", description: describeUrl(url), multiConnection: true })
  return Layer.mergeAll(client, backend).pipe(Layer.provide(create))
}

/**
 * An embedded Postgres: PGlite in this process, served by pglite-socket on a free loopback port, reached by
 * `PgClient` over exactly ONE connection. pglite-socket multiplexes every socket into one Postgres session,
 * so a second connection would interleave queries and return wrong rows without any error.
 *
 * @since 0.1.0
 */
export const layerEmbedded = (options: Pick<Options, "schema" | "dataDir"> = {}): Layer.Layer<Services, SqlError> => {
  const server = Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const db = options.dataDir === undefined ? await PGlite.create() : await PGlite.create(options.dataDir)
        const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1", maxConnections: 1 })
        await server.start()
        const [host, port] = server.getServerConn().split(":")
        return { db, server, host: host!, port: Number(port) }
      },
      catch: (cause) =>
        new SqlError({
          reason: new ConnectionError({ cause, message: "Could not start the embedded Postgres (PGlite)" })
        })
    }),
    ({ db, server }) => Effect.promise(() => server.stop().then(() => db.close())).pipe(Effect.ignore)
  )
  return Layer.unwrap(Effect.map(server, ({ host, port }) => {
    const client = PgClient.layer({ host, port, database: "postgres", username: "postgres", maxConnections: 1 })
    const setup = options.schema === undefined ? Layer.empty : Layer.effectDiscard(Effect.flatMap(
      PgClient.PgClient,
      (sql) =>
        Effect.andThen(
          createSchema(options.schema),
          sql.unsafe(`SET search_path TO "${options.schema!.replaceAll("\"", "\"\"")}"`)
        )
    ))
    const backend = Layer.succeed(Backend, {
      kind: "pglite",
      description: options.dataDir === undefined
        ? "embedded PGlite (one connection)"
        : `embedded PGlite in ${options.dataDir} (one connection)`,
      multiConnection: false
    })
    return Layer.mergeAll(client, backend, Layer.provide(setup, client))
  }))
}

/**
 * `PgClient` on `PG_URL` when it is set, otherwise the embedded Postgres.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Services, SqlError | Config.ConfigError> =>
  Layer.unwrap(
    Effect.map(
      Config.option(Config.NonEmptyString("PG_URL")),
      Option.match({
        onNone: () => layerEmbedded(options),
        onSome: (url) => layerUrl(url, options)
      })
    )
  )

/**
 * A fresh schema named after `prefix` (and a random suffix) on the server at `url`, dropped when the layer is
 * released: the isolation `layerTest` gives on `PG_URL`, for a test file on another server (the Citus suites
 * on `CITUS_URL`). Nothing is read or connected before the layer is built, so a suite may define it with an
 * empty URL and skip.
 *
 * @since 0.3.0
 */
export const layerUrlTest = (
  url: string,
  prefix: string,
  options: Pick<Options, "maxConnections"> = {}
): Layer.Layer<Services, SqlError> =>
  Layer.suspend(() => {
    const schema = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_")}_${Date.now().toString(36)}_${
      Math.random().toString(36).slice(2, 8)
    }`
    const drop = Layer.effectDiscard(Effect.addFinalizer(() =>
      Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
        Effect.scoped,
        Effect.ignore
      )
    ))
    return Layer.merge(layerUrl(url, { ...options, schema }), drop)
  })

/**
 * An isolated database for one test file: on a real server (`PG_URL`) a fresh schema named after
 * `prefix`, dropped when the layer is released (`layerUrlTest`); without one, a fresh embedded instance.
 *
 * @since 0.1.0
 */
export const layerTest = (
  prefix: string,
  options: Pick<Options, "maxConnections"> = {}
): Layer.Layer<Services, SqlError | Config.ConfigError> =>
  Layer.unwrap(
    Effect.map(
      Config.option(Config.NonEmptyString("PG_URL")),
      Option.match({
        onNone: () => layerEmbedded(),
        onSome: (url) => layerUrlTest(url, prefix, options)
      })
    )
  )

/**
 * Whether `PG_URL` is set: tests that need several real connections run only then.
 *
 * @since 0.1.0
 */
export const hasServer: boolean = (process.env.PG_URL ?? "") !== ""
