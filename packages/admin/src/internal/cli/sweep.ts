/** What the sweeps (verify, rebuild) share: the report flags, one type at a time, the types' table, the verdict. */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { InconsistenciesFound } from "../../AdminError.js"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"
import { bad, print, printFailed } from "./environment.js"
import { json, maxReported, noProgress } from "./options.js"

/** How a sweep reports: `--max-reported` (its failures listed, described by `described`), `--no-progress`, `--json`. */
export const reportFlags = (described: string) => ({ maxReported: maxReported(described), noProgress, json })

/**
 * The summaries of a pass over each selected aggregate type, one type at a time: a type's summary starts as
 * `zero` and is filled by `pass`, which runs in a scope of its own (the type's repository is released after it).
 */
export const forEachType = <S extends { readonly aggregateType: string }, E, R>(
  selected: ReadonlyArray<Cli.Registration>,
  zero: Omit<S, "aggregateType">,
  pass: (summary: S, registration: Cli.Registration) => Effect.Effect<void, E, R>
): Effect.Effect<Array<S>, E, Exclude<R, Scope.Scope>> =>
  Effect.forEach(selected, (registration) => {
    const summary = { aggregateType: registration.aggregateType, ...zero } as S
    return Effect.as(Effect.scoped(pass(summary, registration)), summary)
  })

/** The type's repository; a registration that cannot build it is a bad input. */
export const repositoryOf = (registration: Cli.Registration) =>
  registration.repository.pipe(Effect.mapError((error) => bad(`${registration.aggregateType}: ${error.message}`)))

/** A column after the aggregate type: its header and the cell of one type's summary. */
export interface Column<S> extends format.Column {
  readonly cell: (summary: S) => string
}

/** A right-aligned count, the summary's `key` (headed `header`, the key by default). */
export const count = <S extends { readonly [K in Key]: number }, Key extends string>(
  key: Key,
  header: string = key
): Column<S> => ({ header, align: "right", cell: (summary) => String(summary[key]) })

/** One row per aggregate type: its name, then the columns. */
export const typeTable = <S extends { readonly aggregateType: string }>(
  columns: ReadonlyArray<Column<S>>,
  summaries: ReadonlyArray<S>
): string =>
  format.table(
    [{ header: "aggregate type" }, ...columns],
    summaries.map((summary) => [
      format.short(summary.aggregateType, 40),
      ...columns.map((column) => column.cell(summary))
    ])
  )

/**
 * A sweep's end: in text mode the aggregates it failed on and the verdict, `allGood` or the `problems` worded by
 * `found` ("3 aggregates failed."); with problems, the command fails with `InconsistenciesFound`.
 */
export const conclude = (options: {
  readonly json: boolean
  readonly failed: ReadonlyArray<
    { readonly aggregateType: string; readonly aggregateId: string; readonly message: string }
  >
  readonly problems: number
  readonly found: string
  readonly allGood: string
}) =>
  Effect.gen(function*() {
    const { found, problems } = options
    if (!options.json) {
      yield* printFailed(options.failed)
      yield* print(problems === 0 ? options.allGood : `${problems} ${found}.`)
    }
    if (problems > 0) return yield* new InconsistenciesFound({ message: `${problems} ${found}` })
  })
