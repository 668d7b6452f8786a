/** What the CLI prints besides the reports: the command line it reads, help and usage errors, logs. */
import * as CliError from "effect/cli/CliError"
import * as CliOutput from "effect/cli/CliOutput"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"

/** Postgres cancelled a statement that ran past `statement_timeout` (SQLSTATE 57014, `query_canceled`). */
export const statementTimedOut = /(?:PgConnection: Query failed: )?canceling statement due to statement timeout/g

// `pnpm admin -- stats` hands the script a literal `--`. And the CLI reads `--version` as its built-in (print the
// program's version) before any command's own flags, so `inspect ... --version N` is passed on as inspect's
// `--at-version N`. The command line is `process.argv`: the node binary and the script come first.
export const normalize = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const args = argv[2] === "--" ? argv.slice(3) : argv.slice(2)
  if (args[0] !== "inspect") return args
  return args.map((arg, i) =>
    i === 0 ? arg : arg === "--version" ? "--at-version" : arg.startsWith("--version=") ? `--at-${arg.slice(2)}` : arg
  )
}

/** The program's name: `RunOptions.name`, else the bin's file name (`shop-admin`, `admin.ts` -> `admin`). */
export const programName = (options: Cli.RunOptions, argv: ReadonlyArray<string>): string => {
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
export const presenter = (name: string): CliOutput.Presenter => ({
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
export const logsToStderr = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provideService(Logger.CurrentLoggers, new Set([Logger.consolePretty()])),
    Effect.provideService(Logger.LogToStderr, true),
    Effect.provideService(References.MinimumLogLevel, "Warn")
  )

/** The `--timeout` an argument list gives (for the message of a statement Postgres cancelled). */
export const timeoutText = (args: ReadonlyArray<string>): string => {
  for (let i = args.length - 1; i >= 0; i--) {
    const arg = args[i]!
    if (arg === "--timeout" && i + 1 < args.length) return format.short(args[i + 1]!, 40)
    if (arg.startsWith("--timeout=")) return format.short(arg.slice("--timeout=".length), 40)
  }
  return "10 seconds"
}
