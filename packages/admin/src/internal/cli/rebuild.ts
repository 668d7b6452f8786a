/** The `rebuild` command: a fresh snapshot of every stream in the event store. */
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { AdminError } from "../../AdminError.js"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"
import * as progress from "../progress.js"
import { bad, type Environment, print } from "./environment.js"
import { checkSweep, concurrency, selectTypes, toggle, typeOption } from "./options.js"
import { conclude, count, forEachType, reportFlags, repositoryOf, typeTable } from "./sweep.js"

type TypeRebuilt = { -readonly [K in keyof Cli.RebuildReport["types"][number]]: Cli.RebuildReport["types"][number][K] }

export const rebuild = (registry: ReadonlyArray<Cli.Registration>, env: Environment) =>
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
      concurrency: concurrency("Aggregates rebuilt at once."),
      resumeFrom: Flag.String("resume-from").pipe(
        Flag.withDescription(
          "Start after this aggregate id (the checkpoint of an interrupted rebuild; needs --type)."
        ),
        Flag.optional
      ),
      ...reportFlags("List at most this many failed aggregates (all are counted).")
    },
    Effect.fnUntraced(function*(flags) {
      const selected = yield* selectTypes(registry, flags.type, "rebuild")
      yield* checkSweep(flags)
      if (Option.isSome(flags.perSecond) && !(flags.perSecond.value > 0)) {
        return yield* bad(`--per-second must be > 0, got ${flags.perSecond.value}`)
      }
      if (Option.isSome(flags.resumeFrom) && Option.isNone(flags.type)) {
        return yield* bad("--resume-from needs --type (a checkpoint is an id of one aggregate type)")
      }
      const failed: Array<Cli.RebuildReport["failed"][number]> = []
      const types = yield* forEachType(
        selected,
        { total: 0, done: 0, written: 0, skipped: 0, failed: 0, ratePerSecond: 0, checkpoint: null },
        Effect.fnUntraced(function*(summary: TypeRebuilt, registration) {
          const type = summary.aggregateType
          let bar: progress.Progress | undefined
          const repository = yield* repositoryOf(registration)
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
          if (bar !== undefined) yield* bar.done
        })
      )
      const problems = types.reduce((n, t) => n + t.failed, 0)
      if (flags.json) {
        const report: Cli.RebuildReport = {
          ok: problems === 0,
          onlyStale: flags.onlyStale,
          perSecond: Option.getOrNull(flags.perSecond),
          types,
          failed
        }
        yield* print(format.json(report))
      } else {
        yield* print(typeTable(
          [
            count("total", "streams"),
            count("written"),
            count("skipped"),
            count("failed"),
            { header: "per second", align: "right", cell: (t) => t.ratePerSecond.toFixed(1) },
            { header: "checkpoint", cell: (t) => t.checkpoint === null ? "-" : format.short(t.checkpoint, 40) }
          ],
          types
        ))
      }
      return yield* conclude({
        json: flags.json,
        failed,
        problems,
        found: "aggregates failed",
        allGood: "Every aggregate has a fresh snapshot."
      })
    }, Effect.provide(Layer.provideMerge(env.events, env.store)))
  ).pipe(
    Command.withDescription(
      "Write a fresh snapshot (current fingerprint and schema version) of every stream in the event store (needs the registry)."
    )
  )
