/**
 * The admin CLI, built with `effect/cli`, mounted by an application in its own bin with its registry of
 * aggregates:
 *
 * ```ts
 * // bin/admin.ts
 * import { Cli } from "@effect-snapshots/admin"
 * Cli.runMain([Cli.register(Order, { strategy: SnapshotStrategy.everyNEvents(100) })])
 * ```
 *
 * Commands: `stats`, `list <type> <id>`, `inspect <type> <id> [--version]`,
 * `prune --keep-last N [--older-than D] [--type] [--dry-run]` (store-only: they need no aggregate
 * definitions), `verify [--type] [--repair] [--concurrency]` and
 * `rebuild [--type] [--per-second] [--only-stale] [--concurrency] [--resume-from]` (over the registry). `--json` on each,
 * and `--timeout D` (default 10 seconds): how long the database may take to answer, connecting or running a statement.
 * Exit codes: 0 ok, 1 inconsistencies found, 2 bad input, not found, cannot connect, or no answer within
 * `--timeout` (one line on stderr); `runMain`: 130 after SIGINT, 143 after SIGTERM.
 *
 * @since 0.1.0
 */
import type { BadArgument, SnapshotStrategy } from "@effect-snapshots/core"
import type { Aggregate, Aggregates, EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import type { SnapshotStore } from "@effect-snapshots/store"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import type * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as SqlClient from "effect/sql/SqlClient"
import type { AdminError, InconsistenciesFound } from "./AdminError.js"
import * as internal from "./internal/cli.js"

/**
 * One aggregate type the CLI knows: what `stats` compares the stored snapshots with, and how `verify` builds
 * its repository. Build it with `register`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registration {
  readonly aggregateType: string
  /** What the running code writes: `Aggregate.schemaVersion` and `Aggregate.fingerprint`. */
  readonly current: { readonly schemaVersion: number; readonly fingerprint: string }
  /** Other fingerprints the aggregate reads as current (`Aggregate.compatibleFingerprints`). */
  readonly compatibleFingerprints?: ReadonlyArray<string> | undefined
  /** The type's repository (inline snapshots, no cache), as `verify` uses it. */
  readonly repository: Effect.Effect<
    Pick<
      EventSourcedRepository.EventSourcedRepository<unknown, { readonly _tag: string }>,
      "verifyStream" | "rebuildStream"
    >,
    SnapshotStrategy.UnknownCustomStrategy | BadArgument.BadArgument,
    EventStore.EventStore | SnapshotStore.SnapshotStore | Scope.Scope
  >
}

/**
 * The application's aggregates: one `Registration` each, or the loader's `Aggregates` registry (then the
 * repositories' strategies come from Config, `SNAPSHOT_STRATEGY` and `SNAPSHOT_STRATEGY_<type>`, default never:
 * `verify --repair` and `rebuild` write whatever the strategy says).
 *
 * @since 0.1.0
 * @category models
 */
export type Registry = ReadonlyArray<Registration> | Aggregates.Registry

/**
 * Register an aggregate with the options the application builds its repository with (the strategy and its
 * predicates; `verify` forces inline snapshots and no cache).
 *
 * @since 0.1.0
 * @category constructors
 */
export const register: <S, SI, E extends { readonly _tag: string }, EI>(
  aggregate: Aggregate.Aggregate<S, SI, E, EI>,
  options: EventSourcedRepository.Options
) => Registration = internal.register

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /**
   * The program name in the help's usage line, the usage errors and `--version` (default: the bin's file name
   * without its extension, `process.argv[1]`; `admin` when there is none).
   */
  readonly name?: string | undefined
  readonly version?: string | undefined
  /**
   * The database. Default: `@effect/sql-pg`'s `PgClient` on `PG_URL` (a command exits 2 with one line when it
   * is unset), whose connects and statements (`statement_timeout`) `--timeout` bounds. Built only when a
   * command runs (not for `--help`) and checked with one `SELECT 1` within `--timeout`; only its `SqlClient`
   * reaches the commands.
   */
  readonly connection?: Layer.Layer<SqlClient.SqlClient, unknown> | undefined
  /** SqlSnapshotStore's table (default `effect_snapshots`). */
  readonly snapshotTable?: string | undefined
  /** SqlEventStore's table (default `effect_snapshots_events`), for `verify`. */
  readonly eventTable?: string | undefined
  /**
   * The `compressed` decorator's options for snapshots that `verify --repair` writes (default: never compress).
   * Compressed states are inflated on read whatever these are.
   */
  readonly compression?: SnapshotStore.CompressOptions | undefined
}

/**
 * How the process should exit: 0 ok, 1 inconsistencies found, 2 bad input, not found, or cannot connect.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitCode = 0 | 1 | 2

/**
 * The `admin` command with its subcommands, to nest in a larger `effect/cli` application. Its handlers fail
 * with `AdminError` (exit code 2) or `InconsistenciesFound` (exit code 1) after printing their report.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command: (
  registry: Registry,
  options?: RunOptions
) => Command.Command<"admin", Record<never, never>, Record<never, never>, AdminError | InconsistenciesFound> =
  internal.command

/**
 * The CLI as an Effect: give it `process.argv` (the node binary and the script first); it prints the report on
 * stdout, progress and errors on stderr (one line, no stack trace), and answers the exit code. It needs
 * `effect/cli`'s environment (`NodeServices.layer`).
 *
 * @since 0.1.0
 * @category running
 */
export const run: (
  registry: Registry,
  options?: RunOptions
) => (argv: ReadonlyArray<string>) => Effect.Effect<ExitCode, never, Command.Environment> = internal.run

/**
 * The bin: `run` on `process.argv` with `NodeServices`, exiting the process with its exit code. SIGINT and
 * SIGTERM interrupt the command (a `rebuild` says where to resume); what has not ended 1.5 seconds later (a
 * statement the database does not answer) is cut short, and so is everything at a second signal. The process
 * then exits with 130 (SIGINT) or 143 (SIGTERM).
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = (registry: Registry, options?: RunOptions): void => {
  let received: NodeJS.Signals | undefined
  const signalCode = (signal: NodeJS.Signals) => signal === "SIGINT" ? 130 : 143
  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== undefined) return process.exit(signalCode(received))
    received = signal
    setTimeout(() => {
      process.stderr.write(`error: interrupted (${signal})\n`)
      process.exit(signalCode(signal))
    }, 1_500).unref()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  run(registry, options)(process.argv).pipe(
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      teardown: (exit, onExit) => {
        if (received === undefined) {
          return onExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 2)
        }
        // Interrupted before the CLI could say so.
        if (Exit.isFailure(exit)) process.stderr.write(`error: interrupted (${received})\n`)
        onExit(signalCode(received))
      }
    })
  )
}

// ---------------------------------------------------------------------------------------------------------
// The JSON reports (`--json`): their field names are stable
// ---------------------------------------------------------------------------------------------------------

/**
 * `stats --json`. Types in the table and registered types, ordered by name.
 *
 * @since 0.1.0
 * @category reports
 */
export interface StatsReport {
  readonly table: string
  readonly types: ReadonlyArray<{
    readonly aggregateType: string
    /** Whether the type is in the registry (then the stale fields are numbers, else null). */
    readonly registered: boolean
    readonly aggregates: number
    readonly snapshots: number
    /** What Postgres stores for the states (`pg_column_size`, after TOAST compression). */
    readonly bytes: number
    /** ISO timestamps of the oldest and newest `createdAt`; null without snapshots. */
    readonly oldest: string | null
    readonly newest: string | null
    readonly current: { readonly schemaVersion: number; readonly fingerprint: string } | null
    /** Snapshots at another schemaVersion, or at the current one with another state fingerprint. */
    readonly staleSnapshots: number | null
    /** staleSnapshots / snapshots (0 without snapshots). */
    readonly staleShare: number | null
    /** Aggregates whose newest snapshot is stale. */
    readonly staleAggregates: number | null
  }>
  readonly total: { readonly aggregates: number; readonly snapshots: number; readonly bytes: number }
}

/**
 * `list <type> <id> --json`: the history without states, oldest first (empty when there is none).
 *
 * @since 0.1.0
 * @category reports
 */
export interface ListReport {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly snapshots: ReadonlyArray<{
    readonly version: number
    readonly schemaVersion: number
    readonly createdAt: string
    readonly metadata: Readonly<Record<string, unknown>>
  }>
}

/**
 * `inspect <type> <id> --json`: one snapshot with its whole state (compressed states inflated).
 *
 * @since 0.1.0
 * @category reports
 */
export interface InspectReport {
  readonly aggregateType: string
  readonly aggregateId: string
  readonly version: number
  readonly schemaVersion: number
  readonly createdAt: string
  readonly metadata: Readonly<Record<string, unknown>>
  /** UTF-8 bytes of the state's JSON. */
  readonly stateBytes: number
  readonly state: unknown
}

/**
 * `prune --json`: per type, the snapshots deleted (with `--dry-run`: that would be deleted, and how many
 * aggregates would lose one).
 *
 * @since 0.1.0
 * @category reports
 */
export interface PruneReport {
  readonly dryRun: boolean
  readonly keepLast: number
  readonly olderThan: string | null
  readonly aggregateType: string | null
  readonly types: ReadonlyArray<{
    readonly aggregateType: string
    readonly deleted: number
    /** Only with `--dry-run`. */
    readonly aggregates?: number
  }>
  readonly deleted: number
}

/**
 * `verify --json`. `ok` is false (and the exit code 1) when any aggregate is inconsistent or failed; an orphan
 * snapshot (no events) is a failure with reason `OrphanSnapshot`.
 *
 * @since 0.1.0
 * @category reports
 */
export interface VerifyReport {
  readonly ok: boolean
  readonly repair: boolean
  readonly types: ReadonlyArray<{
    readonly aggregateType: string
    readonly checked: number
    readonly consistent: number
    readonly inconsistent: number
    readonly failed: number
    readonly repaired: number
  }>
  /** At most `--max-reported`. */
  readonly inconsistent: ReadonlyArray<{
    readonly aggregateType: string
    readonly aggregateId: string
    readonly version: number
    readonly snapshotVersion: number | null
    readonly replayed: number
    readonly differences: ReadonlyArray<{ readonly path: string; readonly snapshot: string; readonly replay: string }>
    readonly repaired: boolean
  }>
  /** At most `--max-reported`. `reason`: `OrphanSnapshot`, `EventDecodeError` or `EventStoreError`. */
  readonly failed: ReadonlyArray<{
    readonly aggregateType: string
    readonly aggregateId: string
    readonly reason: string
    readonly message: string
  }>
}

/**
 * `rebuild --json`. `ok` is false (and the exit code 1) when any aggregate failed. `checkpoint`: the last
 * aggregate finished of the last type rebuilt (with `--type`, resume there with `--resume-from`).
 *
 * @since 0.3.0
 * @category reports
 */
export interface RebuildReport {
  readonly ok: boolean
  readonly onlyStale: boolean
  readonly perSecond: number | null
  readonly types: ReadonlyArray<{
    readonly aggregateType: string
    readonly total: number
    readonly done: number
    readonly written: number
    readonly skipped: number
    readonly failed: number
    readonly ratePerSecond: number
    readonly checkpoint: string | null
  }>
  /** At most `--max-reported`. */
  readonly failed: ReadonlyArray<
    { readonly aggregateType: string; readonly aggregateId: string; readonly message: string }
  >
}
