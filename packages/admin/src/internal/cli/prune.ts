/** The `prune` command: retention over the whole snapshot table. */
import { SnapshotStore } from "@effect-snapshots/store"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"
import * as progress from "../progress.js"
import * as sqlStats from "../sqlStats.js"
import { bad, type Environment, print, storeError } from "./environment.js"
import { json, noProgress, toggle, typeOption } from "./options.js"

export const prune = (env: Environment) =>
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
