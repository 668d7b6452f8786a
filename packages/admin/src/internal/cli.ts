import { BadArgument, SnapshotStrategy } from "@effect-snapshots/core"
import { Aggregates, EventSourcedRepository } from "@effect-snapshots/loader"
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { InconsistenciesFound } from "../AdminError.js"
import type * as Cli from "../Cli.js"
import { environment, Timeout } from "./cli/environment.js"
import { logsToStderr, normalize, presenter, programName, statementTimedOut, timeoutText } from "./cli/output.js"
import { prune } from "./cli/prune.js"
import { rebuild } from "./cli/rebuild.js"
import { inspect, list, stats } from "./cli/snapshots.js"
import { verify } from "./cli/verify.js"
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
