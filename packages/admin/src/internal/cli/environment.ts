/** The database the commands talk to (PG_URL or RunOptions.connection, within --timeout), the stores on it, and the helpers every command shares. */
import type { EventStore } from "@effect-snapshots/loader"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { SnapshotStore } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Console from "effect/Console"
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { AdminError } from "../../AdminError.js"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"
import * as sqlStats from "../sqlStats.js"

const target = (): string => {
  const url = process.env.PG_URL ?? ""
  try {
    const parsed = new URL(url)
    return `PostgreSQL at ${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname} (PG_URL)`
  } catch {
    return "PostgreSQL (PG_URL is not a URL)"
  }
}

/**
 * The default connection: `PgClient` on `PG_URL`; without it there is no database to talk to. A new connection
 * gives up after the timeout (a little later than the first `SELECT 1` does, so that one says "within"), and
 * the server cancels a statement running longer (`statement_timeout`, unless the URL's options set it).
 */
const fromUrl = (limit: Duration.Duration): Layer.Layer<SqlClient.SqlClient, unknown> =>
  Layer.unwrap(
    Effect.sync((): Layer.Layer<SqlClient.SqlClient, unknown> => {
      const url = process.env.PG_URL ?? ""
      if (url === "") {
        return Layer.effectContext(Effect.fail(
          new AdminError({
            reason: "BadInput",
            message: "no database: set PG_URL (or mount the CLI with RunOptions.connection)"
          })
        ))
      }
      const finite = Duration.isFinite(limit)
      let options = ""
      try {
        options = new URL(url).searchParams.get("options") ?? ""
      } catch {
        // PgClient reports a URL it cannot read.
      }
      return PgClient.layer({
        url: Redacted.make(url),
        maxConnections: 4,
        ...(finite ? { connectTimeout: Duration.sum(limit, Duration.seconds(1)) } : {}),
        ...(finite && !options.includes("statement_timeout")
          ? { startupParameters: { statement_timeout: String(Math.max(1, Math.ceil(Duration.toMillis(limit)))) } }
          : {})
      })
    })
  )

// ---------------------------------------------------------------------------------------------------------
// --timeout
// ---------------------------------------------------------------------------------------------------------

/**
 * `--timeout` (every command, before or after its name): how long the CLI waits for the database to answer,
 * connecting or running a statement.
 */
export const Timeout = GlobalFlag.Setting("timeout")({
  flag: Flag.String("timeout").pipe(
    Flag.withDescription(
      "Give up when the database does not answer within this, connecting or running a statement (default \"10 seconds\"; \"2 minutes\", \"Infinity\")."
    ),
    Flag.withDefault("10 seconds")
  )
})

export interface Limit {
  readonly duration: Duration.Duration
  /** As the operator wrote it, for the messages ("within 10 seconds"). */
  readonly text: string
}

export const limit: Effect.Effect<Limit, AdminError, GlobalFlag.Setting.Identifier<"timeout">> = Effect.flatMap(
  Effect.service(Timeout),
  (text) => {
    const shown = JSON.stringify(format.short(text, 40))
    const duration = Duration.fromInput(text as Duration.Input)
    if (Option.isNone(duration)) {
      return Effect.fail(bad(`--timeout is not a duration: ${shown} (try "30 seconds")`))
    }
    if (!Duration.isPositive(duration.value)) return Effect.fail(bad(`--timeout must be > 0, got ${shown}`))
    return Effect.succeed({ duration: duration.value, text: format.short(text, 40) })
  }
)

export interface Environment {
  readonly database: Layer.Layer<SqlClient.SqlClient, AdminError, GlobalFlag.Setting.Identifier<"timeout">>
  readonly store: Layer.Layer<
    SnapshotStore.SnapshotStore | SqlClient.SqlClient,
    AdminError,
    GlobalFlag.Setting.Identifier<"timeout">
  >
  readonly events: Layer.Layer<EventStore.EventStore, AdminError, SqlClient.SqlClient>
  readonly table: string
}

/** A layer whose failure is mapped (Effect 4's Layer has `catch`, no `mapError`). */
const mapLayerError = <ROut, E, RIn>(
  layer: Layer.Layer<ROut, E, RIn>,
  f: (error: E) => AdminError
): Layer.Layer<ROut, AdminError, RIn> =>
  Layer.catch(
    layer,
    (error) => Layer.effectContext(Effect.fail(f(error)) as Effect.Effect<Context.Context<ROut>, AdminError>)
  )

export const environment = (options: Cli.RunOptions): Environment => {
  const table = options.snapshotTable ?? SqlSnapshotStore.defaultTable
  const where = options.connection === undefined ? target() : "the database"
  // Only the connection's SqlClient reaches the commands: a layer built from a whole context (a test's
  // `Layer.succeedContext`) would otherwise also replace their Console, logger or clock. One `SELECT 1` first,
  // within --timeout: Effect 4's PgClient connects on its first query, and an unreachable (or silent) database
  // is "cannot connect", not a failed migration of the first store built.
  const database: Layer.Layer<SqlClient.SqlClient, AdminError, GlobalFlag.Setting.Identifier<"timeout">> = Layer
    .unwrap(Effect.map(limit, (bound) =>
      mapLayerError(
        Layer.effect(
          SqlClient.SqlClient,
          Effect.tap(Effect.service(SqlClient.SqlClient), (sql) =>
            sql`SELECT 1`.pipe(
              Effect.timeoutOrElse({
                duration: bound.duration,
                orElse: () =>
                  Effect.fail(
                    new AdminError({
                      reason: "Unavailable",
                      message: `cannot connect to ${where} within ${bound.text}`
                    })
                  )
              })
            ))
        ).pipe(Layer.provide(options.connection ?? fromUrl(bound.duration))),
        (error: unknown) =>
          error instanceof AdminError ? error : new AdminError({
            reason: "Unavailable",
            message: `cannot connect to ${where}: ${sqlStats.describe(error)}`,
            cause: error
          })
      )))
  const store = mapLayerError(
    SqlSnapshotStore.layerWith({ table }).pipe(
      // Inflates compressed states on load whatever the threshold; with the default threshold it never compresses.
      SnapshotStore.compressed(options.compression ?? { thresholdBytes: Number.POSITIVE_INFINITY })
    ),
    (error) =>
      new AdminError({
        reason: error._tag === "BadArgument" || error.reason === "InvalidInput" ? "BadInput" : "Unavailable",
        message: sqlStats.describe(error),
        cause: error
      })
  ).pipe(Layer.provideMerge(database))
  const events = mapLayerError(
    options.eventTable === undefined ? SqlEventStore.layer : SqlEventStore.layerWith({ table: options.eventTable }),
    (error) => new AdminError({ reason: "Unavailable", message: sqlStats.describe(error), cause: error })
  )
  return { database, store, events, table }
}

export const storeError = (what: string) => (error: SnapshotStore.SnapshotStoreError) =>
  new AdminError({
    reason: error.reason === "InvalidInput" ? "BadInput" : "Unavailable",
    message: `${what}: ${error.message}`,
    cause: error
  })

export const bad = (message: string) => new AdminError({ reason: "BadInput", message })

export const print = (text: string) => Console.log(text)

/** One line per aggregate a sweep (verify, rebuild) failed on. */
export const printFailed = (
  failed: ReadonlyArray<{ readonly aggregateType: string; readonly aggregateId: string; readonly message: string }>
) =>
  Effect.forEach(
    failed,
    (item) =>
      print(
        `failed: ${item.aggregateType} ${JSON.stringify(format.short(item.aggregateId))}: ${
          format.short(item.message, 200)
        }`
      ),
    { discard: true }
  )

export const iso = (dateTime: DateTime.Utc): string => DateTime.formatIso(dateTime)
