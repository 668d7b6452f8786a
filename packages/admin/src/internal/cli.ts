import { BadArgument, SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregates, EventSourcedRepository, SqlEventStore } from "@effect-snapshots/loader"
import type { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore, SqlSnapshotStore } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import * as Cause from "effect/Cause"
import * as Argument from "effect/cli/Argument"
import * as CliError from "effect/cli/CliError"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { AdminError, InconsistenciesFound } from "../AdminError.js"
import type * as Cli from "../Cli.js"
import * as format from "./format.js"
import * as progress from "./progress.js"
import * as sqlStats from "./sqlStats.js"

// ---------------------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const register: typeof Cli.register = (aggregate, options) => ({
  aggregateType: aggregate.type,
  current: { schemaVersion: aggregate.schemaVersion, fingerprint: aggregate.fingerprint },
  compatibleFingerprints: aggregate.compatibleFingerprints,
  // A sweep over every aggregate: snapshots are written before verify answers, and no state is cached.
  repository: EventSourcedRepository.make(aggregate, { ...options, mode: "inline", cacheCapacity: 0 })
})

/** The registrations of an `Aggregates` registry: strategies from Config (default never), read when a command runs. */
const registrations = (registry: Cli.Registry): ReadonlyArray<Cli.Registration> => {
  if (!Aggregates.isRegistry(registry)) return registry
  const strategy = Aggregates.strategy(registry, { fallback: SnapshotStrategy.never }).pipe(
    Effect.mapError((error) =>
      BadArgument.isBadArgument(error)
        ? error
        : new BadArgument.BadArgument({ module: "Aggregates.strategy", message: String(error) })
    )
  )
  return registry.aggregates.map((aggregate): Cli.Registration => ({
    aggregateType: aggregate.type,
    current: { schemaVersion: aggregate.schemaVersion, fingerprint: aggregate.fingerprint },
    compatibleFingerprints: aggregate.compatibleFingerprints,
    repository: Effect.flatMap(
      strategy,
      (resolved) => EventSourcedRepository.make(aggregate, { strategy: resolved, mode: "inline", cacheCapacity: 0 })
    )
  }))
}

// ---------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------

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
const Timeout = GlobalFlag.Setting("timeout")({
  flag: Flag.String("timeout").pipe(
    Flag.withDescription(
      "Give up when the database does not answer within this, connecting or running a statement (default \"10 seconds\"; \"2 minutes\", \"Infinity\")."
    ),
    Flag.withDefault("10 seconds")
  )
})

interface Limit {
  readonly duration: Duration.Duration
  /** As the operator wrote it, for the messages ("within 10 seconds"). */
  readonly text: string
}

const limit: Effect.Effect<Limit, AdminError, GlobalFlag.Setting.Identifier<"timeout">> = Effect.flatMap(
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

/** Postgres cancelled a statement that ran past `statement_timeout` (SQLSTATE 57014, `query_canceled`). */
const statementTimedOut = /(?:PgConnection: Query failed: )?canceling statement due to statement timeout/g

interface Environment {
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

const environment = (options: Cli.RunOptions): Environment => {
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

const storeError = (what: string) => (error: SnapshotStore.SnapshotStoreError) =>
  new AdminError({
    reason: error.reason === "InvalidInput" ? "BadInput" : "Unavailable",
    message: `${what}: ${error.message}`,
    cause: error
  })

const bad = (message: string) => new AdminError({ reason: "BadInput", message })

const print = (text: string) => Console.log(text)

const iso = (dateTime: DateTime.Utc): string => DateTime.formatIso(dateTime)

// ---------------------------------------------------------------------------------------------------------
// Options shared by the commands
// ---------------------------------------------------------------------------------------------------------

/** A switch: false unless given (Effect 4's boolean flags are required unless they have a default). */
const toggle = (name: string, description: string) =>
  Flag.Boolean(name).pipe(Flag.withDefault(false), Flag.withDescription(description))

const json = toggle("json", "Print the report as JSON on stdout (stable field names; see the README).")
const noProgress = toggle("no-progress", "Do not print progress on stderr.")
const typeOption = Flag.String("type").pipe(
  Flag.withDescription("Only this aggregate type."),
  Flag.optional
)
const typeArg = Argument.String("type").pipe(Argument.withDescription("The aggregate type."))
const idArg = Argument.String("id").pipe(Argument.withDescription("The aggregate id."))

// ---------------------------------------------------------------------------------------------------------
// stats
// ---------------------------------------------------------------------------------------------------------

type StatsRow = Cli.StatsReport["types"][number]

const stats = (registry: ReadonlyArray<Cli.Registration>, env: Environment) =>
  Command.make(
    "stats",
    { json },
    Effect.fnUntraced(function*(flags) {
      const options = { table: env.table }
      const found = yield* sqlStats.stats(options)
      const byType = new Map(found.map((row) => [row.aggregateType, row]))
      const types = [...new Set([...found.map((row) => row.aggregateType), ...registry.map((r) => r.aggregateType)])]
        .sort()
      const rows: Array<StatsRow> = []
      for (const aggregateType of types) {
        const row = byType.get(aggregateType)
        const registration = registry.find((r) => r.aggregateType === aggregateType)
        const stale = registration === undefined || row === undefined
          ? undefined
          : yield* sqlStats.stale(
            aggregateType,
            { ...registration.current, compatibleFingerprints: registration.compatibleFingerprints },
            options
          )
        const snapshots = row?.snapshots ?? 0
        rows.push({
          aggregateType,
          registered: registration !== undefined,
          aggregates: row?.aggregates ?? 0,
          snapshots,
          bytes: row?.bytes ?? 0,
          oldest: row === undefined ? null : iso(row.oldest),
          newest: row === undefined ? null : iso(row.newest),
          current: registration?.current ?? null,
          staleSnapshots: registration === undefined ? null : stale?.staleSnapshots ?? 0,
          staleShare: registration === undefined
            ? null
            : snapshots === 0
            ? 0
            : (stale?.staleSnapshots ?? 0) / snapshots,
          staleAggregates: registration === undefined ? null : stale?.staleAggregates ?? 0
        })
      }
      const total = {
        aggregates: rows.reduce((n, row) => n + row.aggregates, 0),
        snapshots: rows.reduce((n, row) => n + row.snapshots, 0),
        bytes: rows.reduce((n, row) => n + row.bytes, 0)
      }
      const report: Cli.StatsReport = { table: env.table, types: rows, total }
      if (flags.json) return yield* print(format.json(report))
      if (rows.length === 0) return yield* print(`No snapshots in ${env.table}.`)
      yield* print(format.table(
        [
          { header: "aggregate type" },
          { header: "aggregates", align: "right" },
          { header: "snapshots", align: "right" },
          { header: "bytes", align: "right" },
          { header: "oldest" },
          { header: "newest" },
          { header: "stale" }
        ],
        rows.map((row) => [
          format.short(row.aggregateType, 40),
          String(row.aggregates),
          String(row.snapshots),
          format.bytes(row.bytes),
          row.oldest ?? "-",
          row.newest ?? "-",
          row.staleSnapshots === null
            ? "- (not registered)"
            : row.snapshots === 0
            ? "-"
            : `${
              format.percent(row.staleSnapshots, row.snapshots)
            } (${row.staleSnapshots} of ${row.snapshots}; ${row.staleAggregates} aggregates load from a stale one)`
        ])
      ))
      yield* print(
        `total: ${total.aggregates} aggregates, ${total.snapshots} snapshots, ${
          format.bytes(total.bytes)
        } in ${env.table}`
      )
    }, Effect.provide(env.store))
  ).pipe(
    Command.withDescription(
      "Per aggregate type: aggregates, snapshots, bytes, oldest and newest; the stale share for registered types."
    )
  )

// ---------------------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------------------

const list = (env: Environment) =>
  Command.make(
    "list",
    { type: typeArg, id: idArg, json },
    Effect.fnUntraced(function*(flags) {
      const store = yield* SnapshotStore.SnapshotStore
      const history = yield* store.list(flags.type, flags.id).pipe(Effect.mapError(storeError("list")))
      const snapshots: Cli.ListReport["snapshots"] = history.map((info) => ({
        version: info.version,
        schemaVersion: info.schemaVersion,
        createdAt: iso(info.createdAt),
        metadata: info.metadata
      }))
      if (flags.json) {
        return yield* print(format.json({ aggregateType: flags.type, aggregateId: flags.id, snapshots }))
      }
      const who = `${format.short(flags.type, 40)} ${JSON.stringify(format.short(flags.id))}`
      if (snapshots.length === 0) return yield* print(`No snapshots of ${who}.`)
      yield* print(`${snapshots.length} snapshot${snapshots.length === 1 ? "" : "s"} of ${who}, oldest first:`)
      yield* print(format.table(
        [
          { header: "version", align: "right" },
          { header: "schema", align: "right" },
          { header: "created at" },
          { header: "metadata" }
        ],
        snapshots.map((s) => [
          String(s.version),
          String(s.schemaVersion),
          s.createdAt,
          format.short(JSON.stringify(s.metadata), 100)
        ])
      ))
    }, Effect.provide(env.store))
  ).pipe(
    Command.withDescription("The snapshot history of one aggregate (no states), oldest first.")
  )

// ---------------------------------------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------------------------------------

const inspect = (env: Environment) =>
  Command.make(
    "inspect",
    {
      type: typeArg,
      id: idArg,
      version: Flag.Int("at-version").pipe(
        Flag.withDescription("This version (default: the newest); `--version N` works too."),
        Flag.optional
      ),
      maxLines: Flag.Int("max-lines").pipe(
        Flag.withDescription("Show at most this many lines of the state, each cut at 200 characters; 0: all."),
        Flag.withDefault(60)
      ),
      json
    },
    Effect.fnUntraced(function*(flags) {
      if (Option.isSome(flags.version) && flags.version.value < 1) {
        return yield* bad(`--version must be >= 1, got ${flags.version.value}`)
      }
      if (flags.maxLines < 0) return yield* bad(`--max-lines must be >= 0, got ${flags.maxLines}`)
      const store = yield* SnapshotStore.SnapshotStore
      const loaded = yield* store.load(flags.type, flags.id, { maxVersion: Option.getOrUndefined(flags.version) })
        .pipe(Effect.mapError(storeError("inspect")))
      const who = `${format.short(flags.type, 40)} ${JSON.stringify(format.short(flags.id))}`
      const snapshot = Option.filter(
        loaded,
        (s) => Option.isNone(flags.version) || s.version === flags.version.value
      )
      if (Option.isNone(snapshot)) {
        return yield* new AdminError({
          reason: "NotFound",
          message: Option.isSome(flags.version)
            ? `no snapshot of ${who} at version ${flags.version.value}`
            : `no snapshot of ${who}`
        })
      }
      const s = snapshot.value
      const stateJson = JSON.stringify(s.state)
      const report: Cli.InspectReport = {
        aggregateType: s.aggregateType,
        aggregateId: s.aggregateId,
        version: s.version,
        schemaVersion: s.schemaVersion,
        createdAt: iso(s.createdAt),
        metadata: s.metadata,
        stateBytes: Buffer.byteLength(stateJson, "utf8"),
        state: s.state
      }
      if (flags.json) return yield* print(format.json(report))
      yield* print(`${who} at version ${s.version} (schema version ${s.schemaVersion})`)
      yield* print(`created at: ${report.createdAt}`)
      yield* print(`metadata:   ${format.short(JSON.stringify(s.metadata), 200)}`)
      yield* print(`state:      ${format.bytes(report.stateBytes)} of JSON`)
      const shown = format.truncate(format.json(s.state), flags.maxLines, 200)
      yield* print(shown.text)
      if (shown.shownLines < shown.totalLines || shown.cutLines > 0) {
        yield* print(
          `… showing ${shown.shownLines} of ${shown.totalLines} lines${
            shown.cutLines > 0 ? `, ${shown.cutLines} cut` : ""
          }; --max-lines 0 or --json for the whole state`
        )
      }
    }, Effect.provide(env.store))
  ).pipe(
    Command.withDescription("One snapshot (the newest, or --version) with its state pretty-printed.")
  )

// ---------------------------------------------------------------------------------------------------------
// prune
// ---------------------------------------------------------------------------------------------------------

const prune = (env: Environment) =>
  Command.make(
    "prune",
    {
      keepLast: Flag.Int("keep-last").pipe(
        Flag.withDescription("Keep this many newest snapshots of every aggregate (>= 1).")
      ),
      olderThan: Flag.String("older-than").pipe(
        Flag.withDescription("Delete an older snapshot only once it is older than this (\"30 days\", \"12 hours\")."),
        Flag.optional
      ),
      type: typeOption,
      dryRun: toggle("dry-run", "Report what would be deleted; delete nothing."),
      noProgress,
      json
    },
    Effect.fnUntraced(function*(flags) {
      if (flags.keepLast < 1) return yield* bad(`--keep-last must be >= 1, got ${flags.keepLast}`)
      const olderThan = Option.map(
        flags.olderThan,
        (text) => [text, Duration.fromInput(text as Duration.Input)] as const
      )
      if (Option.isSome(olderThan) && Option.isNone(olderThan.value[1])) {
        return yield* bad(
          `--older-than is not a duration: ${JSON.stringify(format.short(olderThan.value[0]))} (try "30 days")`
        )
      }
      const duration = Option.flatMap(olderThan, ([, d]) => d)
      // A negative age puts the cutoff in the future (everything but the N newest goes), zero at now.
      if (Option.isSome(olderThan) && Option.isSome(duration) && !Duration.isPositive(duration.value)) {
        return yield* bad(`--older-than must be > 0, got ${JSON.stringify(format.short(olderThan.value[0]))}`)
      }
      return yield* pruneWith(env, flags, Option.getOrUndefined(duration))
    })
  ).pipe(
    Command.withDescription(
      "Retention: keep the N newest snapshots of every aggregate, optionally only delete old ones."
    )
  )

/** prune once its flags are checked: nothing connects before. */
const pruneWith = (
  env: Environment,
  flags: {
    readonly keepLast: number
    readonly olderThan: Option.Option<string>
    readonly type: Option.Option<string>
    readonly dryRun: boolean
    readonly noProgress: boolean
    readonly json: boolean
  },
  olderThan: Duration.Duration | undefined
) =>
  Effect.gen(function*() {
    const aggregateType = Option.getOrUndefined(flags.type)
    const options = { table: env.table }
    const plan = { keepLast: flags.keepLast, olderThan, aggregateType }
    const header = {
      dryRun: flags.dryRun,
      keepLast: flags.keepLast,
      olderThan: Option.getOrNull(flags.olderThan),
      aggregateType: aggregateType ?? null
    }
    let types: ReadonlyArray<
      { readonly aggregateType: string; readonly deleted: number; readonly aggregates?: number }
    >
    if (flags.dryRun) {
      const planned = yield* sqlStats.prunePlan(plan, options)
      types = planned.map((p) => ({ aggregateType: p.aggregateType, deleted: p.snapshots, aggregates: p.aggregates }))
    } else {
      // One set-based prune per type, so the report (and the progress) is per type.
      const store = yield* SnapshotStore.SnapshotStore
      const present = (yield* sqlStats.stats(options)).map((row) => row.aggregateType)
      const selected = aggregateType === undefined ? present : present.filter((t) => t === aggregateType)
      const bar = yield* progress.make({ label: "prune", total: selected.length, enabled: !flags.noProgress })
      const done: Array<{ aggregateType: string; deleted: number }> = []
      for (const type of selected) {
        const result = yield* store.prune({ ...plan, aggregateType: type }).pipe(Effect.mapError(storeError("prune")))
        done.push({ aggregateType: type, deleted: result.deleted })
        yield* bar.advance(1)
      }
      yield* bar.done
      types = done
    }
    const deleted = types.reduce((n, t) => n + t.deleted, 0)
    const report: Cli.PruneReport = { ...header, types, deleted }
    if (flags.json) return yield* print(format.json(report))
    const rule = `keep the ${flags.keepLast} newest of every aggregate${
      Option.isSome(flags.olderThan) ? `, delete older ones only past ${flags.olderThan.value}` : ""
    }`
    if (types.length === 0 || deleted === 0) {
      return yield* print(`${flags.dryRun ? "Would delete" : "Deleted"} no snapshots (${rule}).`)
    }
    yield* print(`${flags.dryRun ? "Would delete (dry run, nothing deleted)" : "Deleted"}: ${rule}`)
    yield* print(format.table(
      flags.dryRun
        ? [{ header: "aggregate type" }, { header: "snapshots", align: "right" }, {
          header: "aggregates",
          align: "right"
        }]
        : [{ header: "aggregate type" }, { header: "snapshots", align: "right" }],
      types.map((t) =>
        flags.dryRun
          ? [format.short(t.aggregateType, 40), String(t.deleted), String(t.aggregates ?? 0)]
          : [format.short(t.aggregateType, 40), String(t.deleted)]
      )
    ))
    yield* print(`total: ${deleted} snapshot${deleted === 1 ? "" : "s"}`)
  }).pipe(Effect.provide(env.store))

// ---------------------------------------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------------------------------------

type TypeVerified = { -readonly [K in keyof Cli.VerifyReport["types"][number]]: Cli.VerifyReport["types"][number][K] }

const verify = (registry: ReadonlyArray<Cli.Registration>, env: Environment) =>
  Command.make(
    "verify",
    {
      type: typeOption,
      repair: toggle("repair", "Replace drifted snapshots by one of the full replay."),
      concurrency: Flag.Int("concurrency").pipe(
        Flag.withDescription("Aggregates verified at once."),
        Flag.withDefault(4)
      ),
      maxReported: Flag.Int("max-reported").pipe(
        Flag.withDescription("List at most this many inconsistent and failed aggregates (all are counted)."),
        Flag.withDefault(100)
      ),
      noProgress,
      json
    },
    Effect.fnUntraced(function*(flags) {
      const selected = yield* selectTypes(registry, flags.type, "verify")
      if (flags.concurrency < 1) return yield* bad(`--concurrency must be >= 1, got ${flags.concurrency}`)
      if (flags.maxReported < 0) return yield* bad(`--max-reported must be >= 0, got ${flags.maxReported}`)
      const counts = new Map((yield* sqlStats.stats({ table: env.table })).map((row) => [row.aggregateType, row]))
      const types: Array<TypeVerified> = []
      const inconsistent: Array<Cli.VerifyReport["inconsistent"][number]> = []
      const failed: Array<Cli.VerifyReport["failed"][number]> = []
      for (const registration of selected) {
        const type = registration.aggregateType
        const summary: TypeVerified = {
          aggregateType: type,
          checked: 0,
          consistent: 0,
          inconsistent: 0,
          failed: 0,
          repaired: 0
        }
        const bar = yield* progress.make({
          label: `verify ${format.short(type, 40)}`,
          total: counts.get(type)?.aggregates,
          enabled: !flags.noProgress
        })
        yield* Effect.scoped(Effect.gen(function*() {
          const repository = yield* registration.repository.pipe(
            Effect.mapError((error) => bad(`${type}: ${error.message}`))
          )
          yield* repository.verifyStream({ repair: flags.repair, concurrency: flags.concurrency }).pipe(
            Stream.runForEach(({ aggregateId, result }) => {
              summary.checked++
              if (Result.isFailure(result)) {
                summary.failed++
                if (failed.length < flags.maxReported) {
                  failed.push({
                    aggregateType: type,
                    aggregateId,
                    reason: result.failure._tag === "AggregateNotFound" ? "OrphanSnapshot" : result.failure._tag,
                    message: result.failure.message
                  })
                }
              } else if (result.success.consistent) {
                summary.consistent++
              } else {
                const verified = result.success
                summary.inconsistent++
                if (verified.repaired) summary.repaired++
                if (inconsistent.length < flags.maxReported) {
                  inconsistent.push({
                    aggregateType: type,
                    aggregateId,
                    version: verified.version,
                    snapshotVersion: Option.getOrNull(verified.snapshotVersion),
                    replayed: verified.replayed,
                    differences: verified.differences,
                    repaired: verified.repaired
                  })
                }
              }
              return bar.advance(1)
            }),
            Effect.mapError(storeError(`verify ${type}`))
          )
        }))
        yield* bar.done
        types.push(summary)
      }
      const problems = types.reduce((n, t) => n + t.inconsistent + t.failed, 0)
      const ok = problems === 0
      if (flags.json) {
        const report: Cli.VerifyReport = { ok, repair: flags.repair, types, inconsistent, failed }
        yield* print(format.json(report))
      } else {
        yield* print(format.table(
          [
            { header: "aggregate type" },
            { header: "checked", align: "right" },
            { header: "consistent", align: "right" },
            { header: "inconsistent", align: "right" },
            { header: "failed", align: "right" },
            { header: "repaired", align: "right" }
          ],
          types.map((t) => [
            format.short(t.aggregateType, 40),
            String(t.checked),
            String(t.consistent),
            String(t.inconsistent),
            String(t.failed),
            String(t.repaired)
          ])
        ))
        for (
          const item of inconsistent as Array<{
            aggregateType: string
            aggregateId: string
            version: number
            snapshotVersion: number | null
            differences: ReadonlyArray<{ path: string; snapshot: string; replay: string }>
            repaired: boolean
          }>
        ) {
          yield* print(
            `inconsistent: ${item.aggregateType} ${
              JSON.stringify(format.short(item.aggregateId))
            } at version ${item.version} (snapshot ${item.snapshotVersion ?? "-"})${item.repaired ? ", repaired" : ""}`
          )
          for (const d of item.differences) {
            yield* print(`  ${d.path}: snapshot ${format.short(d.snapshot, 80)}, replay ${format.short(d.replay, 80)}`)
          }
        }
        for (const item of failed) {
          yield* print(
            `failed: ${item.aggregateType} ${JSON.stringify(format.short(item.aggregateId))}: ${
              format.short(item.message, 200)
            }`
          )
        }
        yield* print(ok ? "All snapshots are consistent with their events." : `${problems} inconsistencies found.`)
      }
      if (!ok) return yield* new InconsistenciesFound({ message: `${problems} inconsistencies found` })
    }, Effect.provide(Layer.provideMerge(env.events, env.store)))
  ).pipe(
    Command.withDescription(
      "Compare each aggregate's snapshot + tail with a full replay of its events (needs the registry)."
    )
  )

// ---------------------------------------------------------------------------------------------------------
// rebuild
// ---------------------------------------------------------------------------------------------------------

type TypeRebuilt = { -readonly [K in keyof Cli.RebuildReport["types"][number]]: Cli.RebuildReport["types"][number][K] }

/** The registrations a command runs over: all, or the one `--type` names (bad input when it is not registered). */
const selectTypes = Effect.fnUntraced(function*(
  registry: ReadonlyArray<Cli.Registration>,
  type: Option.Option<string>,
  command: string
) {
  if (registry.length === 0) {
    return yield* bad(
      `${command} needs the application's aggregates: mount Cli.run(registry) in the application's bin`
    )
  }
  const selected = Option.match(type, {
    onNone: () => registry,
    onSome: (t) => registry.filter((r) => r.aggregateType === t)
  })
  if (selected.length === 0) {
    return yield* bad(
      `unknown aggregate type ${JSON.stringify(format.short(Option.getOrElse(type, () => "")))}; registered: ${
        registry.map((r) => r.aggregateType).join(", ")
      }`
    )
  }
  return selected
})

const rebuild = (registry: ReadonlyArray<Cli.Registration>, env: Environment) =>
  Command.make(
    "rebuild",
    {
      type: typeOption,
      perSecond: Flag.Finite("per-second").pipe(
        Flag.withDescription("Start at most this many aggregates per second (default: no limit)."),
        Flag.optional
      ),
      onlyStale: toggle(
        "only-stale",
        "Only aggregates without a usable snapshot at the current fingerprint and schema version."
      ),
      concurrency: Flag.Int("concurrency").pipe(
        Flag.withDescription("Aggregates rebuilt at once."),
        Flag.withDefault(4)
      ),
      resumeFrom: Flag.String("resume-from").pipe(
        Flag.withDescription(
          "Start after this aggregate id (the checkpoint of an interrupted rebuild; needs --type)."
        ),
        Flag.optional
      ),
      maxReported: Flag.Int("max-reported").pipe(
        Flag.withDescription("List at most this many failed aggregates (all are counted)."),
        Flag.withDefault(100)
      ),
      noProgress,
      json
    },
    Effect.fnUntraced(function*(flags) {
      const selected = yield* selectTypes(registry, flags.type, "rebuild")
      if (flags.concurrency < 1) return yield* bad(`--concurrency must be >= 1, got ${flags.concurrency}`)
      if (flags.maxReported < 0) return yield* bad(`--max-reported must be >= 0, got ${flags.maxReported}`)
      if (Option.isSome(flags.perSecond) && !(flags.perSecond.value > 0)) {
        return yield* bad(`--per-second must be > 0, got ${flags.perSecond.value}`)
      }
      if (Option.isSome(flags.resumeFrom) && Option.isNone(flags.type)) {
        return yield* bad("--resume-from needs --type (a checkpoint is an id of one aggregate type)")
      }
      const types: Array<TypeRebuilt> = []
      const failed: Array<Cli.RebuildReport["failed"][number]> = []
      for (const registration of selected) {
        const type = registration.aggregateType
        const summary: TypeRebuilt = {
          aggregateType: type,
          total: 0,
          done: 0,
          written: 0,
          skipped: 0,
          failed: 0,
          ratePerSecond: 0,
          checkpoint: null
        }
        types.push(summary)
        let bar: progress.Progress | undefined
        yield* Effect.scoped(Effect.gen(function*() {
          const repository = yield* registration.repository.pipe(
            Effect.mapError((error) => bad(`${type}: ${error.message}`))
          )
          yield* repository.rebuildStream({
            onlyStale: flags.onlyStale,
            concurrency: flags.concurrency,
            perSecond: Option.getOrUndefined(flags.perSecond),
            resumeFrom: Option.getOrUndefined(flags.resumeFrom)
          }).pipe(
            Stream.runForEach((p) =>
              Effect.gen(function*() {
                if (bar === undefined) {
                  bar = yield* progress.make({
                    label: `rebuild ${format.short(type, 40)}`,
                    total: p.total,
                    enabled: !flags.noProgress
                  })
                }
                summary.total = p.total
                summary.done = p.done
                summary.written = p.written + p.queued
                summary.skipped = p.skipped
                summary.failed = p.failed + p.dropped
                summary.ratePerSecond = p.ratePerSecond
                summary.checkpoint = p.checkpoint
                if ((p.outcome === "failed" || p.outcome === "dropped") && failed.length < flags.maxReported) {
                  failed.push({ aggregateType: type, aggregateId: p.aggregateId, message: p.message ?? p.outcome })
                }
                yield* bar.advance(1)
              })
            ),
            Effect.mapError((error) =>
              error._tag === "BadArgument"
                ? bad(error.message)
                : new AdminError({ reason: "Unavailable", message: `rebuild ${type}: ${error.message}`, cause: error })
            ),
            // Stopped (Ctrl-C): the aggregates in flight finish first; say where to resume.
            Effect.onInterrupt(() =>
              Console.error(
                `rebuild of ${type} interrupted after ${summary.done} aggregates${
                  summary.checkpoint === null ? "" : `; resume with --type ${type} --resume-from ${summary.checkpoint}`
                }`
              )
            )
          )
        }))
        if (bar !== undefined) yield* bar.done
      }
      const problems = types.reduce((n, t) => n + t.failed, 0)
      const ok = problems === 0
      if (flags.json) {
        const report: Cli.RebuildReport = {
          ok,
          onlyStale: flags.onlyStale,
          perSecond: Option.getOrNull(flags.perSecond),
          types,
          failed
        }
        yield* print(format.json(report))
      } else {
        yield* print(format.table(
          [
            { header: "aggregate type" },
            { header: "streams", align: "right" },
            { header: "written", align: "right" },
            { header: "skipped", align: "right" },
            { header: "failed", align: "right" },
            { header: "per second", align: "right" },
            { header: "checkpoint" }
          ],
          types.map((t) => [
            format.short(t.aggregateType, 40),
            String(t.total),
            String(t.written),
            String(t.skipped),
            String(t.failed),
            t.ratePerSecond.toFixed(1),
            t.checkpoint === null ? "-" : format.short(t.checkpoint, 40)
          ])
        ))
        for (const item of failed) {
          yield* print(
            `failed: ${item.aggregateType} ${JSON.stringify(format.short(item.aggregateId))}: ${
              format.short(item.message, 200)
            }`
          )
        }
        yield* print(ok ? "Every aggregate has a fresh snapshot." : `${problems} aggregates failed.`)
      }
      if (!ok) return yield* new InconsistenciesFound({ message: `${problems} aggregates failed` })
    }, Effect.provide(Layer.provideMerge(env.events, env.store)))
  ).pipe(
    Command.withDescription(
      "Write a fresh snapshot (current fingerprint and schema version) of every stream in the event store (needs the registry)."
    )
  )

// ---------------------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const command = (given: Cli.Registry, options: Cli.RunOptions = {}) => {
  const registry = registrations(given)
  const env = environment(options)
  return Command.make("admin").pipe(
    Command.withDescription("Snapshot administration: stats, list, inspect, prune, verify, rebuild."),
    Command.withSubcommands([
      stats(registry, env),
      list(env),
      inspect(env),
      prune(env),
      verify(registry, env),
      rebuild(registry, env)
    ]),
    Command.withGlobalFlags([Timeout])
  )
}

// `pnpm admin -- stats` hands the script a literal `--`. And the CLI reads `--version` as its built-in (print the
// program's version) before any command's own flags, so `inspect ... --version N` is passed on as inspect's
// `--at-version N`. The command line is `process.argv`: the node binary and the script come first.
const normalize = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const args = argv[2] === "--" ? argv.slice(3) : argv.slice(2)
  if (args[0] !== "inspect") return args
  return args.map((arg, i) =>
    i === 0 ? arg : arg === "--version" ? "--at-version" : arg.startsWith("--version=") ? `--at-${arg.slice(2)}` : arg
  )
}

/** The program's name: `RunOptions.name`, else the bin's file name (`shop-admin`, `admin.ts` -> `admin`). */
const programName = (options: Cli.RunOptions, argv: ReadonlyArray<string>): string => {
  if (options.name !== undefined && options.name !== "") return options.name
  const script = argv[1] ?? ""
  const base = script.split(/[\\/]/).pop() ?? ""
  const name = base.replace(/\.(?:[cm]?[jt]s|tsx?)$/, "")
  return name === "" ? "admin" : name
}

/**
 * Colors only where they are read on a terminal: for the stream the text goes to, unless `NO_COLOR` is set or
 * `TERM` is `dumb` (`FORCE_COLOR` forces them). `effect/cli` decides by stdout alone, also for stderr.
 */
const canColor = (stream: NodeJS.WriteStream): boolean => {
  const env = process.env
  if (env.TERM === "dumb" || (env.NO_COLOR ?? "") !== "") return false
  const force = env.FORCE_COLOR ?? ""
  if (force !== "" && force !== "0" && force.toLowerCase() !== "false") return true
  return stream.isTTY === true
}

// stdout carries the report (and the JSON) only: a usage error goes to stderr as the error and a hint, and so
// does the help printed because no subcommand was given. The program is `name` in the help and the errors.
const presenter = (name: string): CliOutput.Presenter => ({
  present: Effect.fnUntraced(function*(event) {
    const context = yield* Effect.context<never>()
    const given = Context.getOrUndefined(context, CliOutput.Formatter)
    const formatter = (stream: NodeJS.WriteStream) => given ?? CliOutput.defaultFormatter({ colors: canColor(stream) })
    const rename = (path: ReadonlyArray<string>): Array<string> =>
      path[0] === "admin" ? [name, ...path.slice(1)] : [...path]
    switch (event._tag) {
      case "Version":
        return yield* Console.log(formatter(process.stdout).formatVersion(name, event.version))
      case "Help": {
        const doc = event.helpDoc
        const requested = event.reason === "Requested"
        const text = formatter(requested ? process.stdout : process.stderr).formatHelpDoc({
          ...doc,
          usage: doc.usage.replace(/^admin\b/, name),
          ...(doc.commandPath === undefined ? {} : { commandPath: rename(doc.commandPath) }),
          ...(doc.globalFlagsScope === undefined ? {} : { globalFlagsScope: rename(doc.globalFlagsScope) })
        })
        return yield* requested ? Console.log(text) : Console.error(text)
      }
      case "InvalidInvocation": {
        const errors = event.errors.map((error) =>
          error._tag === "UnrecognizedOption" && error.command !== undefined
            ? new CliError.UnrecognizedOption({
              option: error.option,
              suggestions: error.suggestions,
              command: rename(error.command)
            })
            : error
        )
        yield* Console.error(formatter(process.stderr).formatErrors(errors).replace(/^\n/, ""))
        return yield* Console.error(`\nSee \`${rename(event.commandPath).join(" ")} --help\`.`)
      }
    }
  })
})

// Logs never go to stdout: every logger is replaced by one on stderr, at level Warn and above.
const logsToStderr = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provideService(Logger.CurrentLoggers, new Set([Logger.consolePretty()])),
    Effect.provideService(Logger.LogToStderr, true),
    Effect.provideService(References.MinimumLogLevel, "Warn")
  )

/** The `--timeout` an argument list gives (for the message of a statement Postgres cancelled). */
const timeoutText = (args: ReadonlyArray<string>): string => {
  for (let i = args.length - 1; i >= 0; i--) {
    const arg = args[i]!
    if (arg === "--timeout" && i + 1 < args.length) return format.short(args[i + 1]!, 40)
    if (arg.startsWith("--timeout=")) return format.short(arg.slice("--timeout=".length), 40)
  }
  return "10 seconds"
}

/** @internal */
export const run = (registry: Cli.Registry, options: Cli.RunOptions = {}) => {
  const cli = Command.runWith(command(registry, options), { version: options.version ?? "0.1.0" })
  return (argv: ReadonlyArray<string>): Effect.Effect<Cli.ExitCode, never, Command.Environment> => {
    const args = normalize(argv)
    return cli(args).pipe(
      Effect.provideService(CliOutput.Presenter, presenter(programName(options, argv))),
      Effect.exit,
      Effect.flatMap((exit): Effect.Effect<Cli.ExitCode> => {
        if (Exit.isSuccess(exit)) return Effect.succeed(0)
        const failure = Cause.findErrorOption(exit.cause)
        if (Option.isSome(failure)) {
          const error = failure.value
          if (error instanceof InconsistenciesFound) return Effect.succeed(1)
          // The CLI has printed the usage error (or the help) already.
          if (CliError.isCliError(error)) return Effect.succeed(2)
          const message = error.message.replace(
            statementTimedOut,
            `statement did not answer within ${timeoutText(args)} (--timeout)`
          )
          return Effect.as(Console.error(`error: ${message}`), 2)
        }
        if (Cause.hasInterruptsOnly(exit.cause)) return Effect.as(Console.error("error: interrupted"), 2)
        const defect = Cause.squash(exit.cause)
        return Effect.as(Console.error(`error: unexpected failure: ${sqlStats.describe(defect)}`), 2)
      }),
      logsToStderr
    )
  }
}
