/** The flags and arguments several commands share, and the choice of the aggregate types a command runs over. */
import * as Argument from "effect/cli/Argument"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AdminError } from "../../AdminError.js"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"
import { bad } from "./environment.js"

/** A switch: false unless given (Effect 4's boolean flags are required unless they have a default). */
export const toggle = (name: string, description: string) =>
  Flag.Boolean(name).pipe(Flag.withDefault(false), Flag.withDescription(description))

export const json = toggle("json", "Print the report as JSON on stdout (stable field names; see the README).")
export const noProgress = toggle("no-progress", "Do not print progress on stderr.")
export const typeOption = Flag.String("type").pipe(
  Flag.withDescription("Only this aggregate type."),
  Flag.optional
)
export const typeArg = Argument.String("type").pipe(Argument.withDescription("The aggregate type."))
export const idArg = Argument.String("id").pipe(Argument.withDescription("The aggregate id."))

/** `--concurrency` of a sweep over every aggregate (verify, rebuild). */
export const concurrency = (description: string) =>
  Flag.Int("concurrency").pipe(Flag.withDescription(description), Flag.withDefault(4))

/** `--max-reported` of a sweep over every aggregate (verify, rebuild). */
export const maxReported = (description: string) =>
  Flag.Int("max-reported").pipe(Flag.withDescription(description), Flag.withDefault(100))

/** The checks of a sweep's `--concurrency` and `--max-reported`. */
export const checkSweep = (
  flags: { readonly concurrency: number; readonly maxReported: number }
): Effect.Effect<void, AdminError> => {
  if (flags.concurrency < 1) return Effect.fail(bad(`--concurrency must be >= 1, got ${flags.concurrency}`))
  if (flags.maxReported < 0) return Effect.fail(bad(`--max-reported must be >= 0, got ${flags.maxReported}`))
  return Effect.void
}

/** The registrations a command runs over: all, or the one `--type` names (bad input when it is not registered). */
export const selectTypes = Effect.fnUntraced(function*(
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
