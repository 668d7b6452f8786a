/** The `verify` command: each aggregate's snapshot + tail against a full replay of its events. */
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"
import * as progress from "../progress.js"
import * as sqlStats from "../sqlStats.js"
import { type Environment, print, storeError } from "./environment.js"
import { checkSweep, concurrency, selectTypes, toggle, typeOption } from "./options.js"
import { conclude, count, forEachType, reportFlags, repositoryOf, typeTable } from "./sweep.js"

type TypeVerified = { -readonly [K in keyof Cli.VerifyReport["types"][number]]: Cli.VerifyReport["types"][number][K] }

export const verify = (registry: ReadonlyArray<Cli.Registration>, env: Environment) =>
  Command.make(
    "verify",
    {
      type: typeOption,
      repair: toggle("repair", "Replace drifted snapshots by one of the full replay."),
      concurrency: concurrency("Aggregates verified at once."),
      ...reportFlags("List at most this many inconsistent and failed aggregates (all are counted).")
    },
    Effect.fnUntraced(function*(flags) {
      const selected = yield* selectTypes(registry, flags.type, "verify")
      yield* checkSweep(flags)
      const counts = new Map((yield* sqlStats.stats({ table: env.table })).map((row) => [row.aggregateType, row]))
      const inconsistent: Array<Cli.VerifyReport["inconsistent"][number]> = []
      const failed: Array<Cli.VerifyReport["failed"][number]> = []
      const types = yield* forEachType(
        selected,
        { checked: 0, consistent: 0, inconsistent: 0, failed: 0, repaired: 0 },
        Effect.fnUntraced(function*(summary: TypeVerified, registration) {
          const type = summary.aggregateType
          const bar = yield* progress.make({
            label: `verify ${format.short(type, 40)}`,
            total: counts.get(type)?.aggregates,
            enabled: !flags.noProgress
          })
          const repository = yield* repositoryOf(registration)
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
          yield* bar.done
        })
      )
      const problems = types.reduce((n, t) => n + t.inconsistent + t.failed, 0)
      if (flags.json) {
        const report: Cli.VerifyReport = { ok: problems === 0, repair: flags.repair, types, inconsistent, failed }
        yield* print(format.json(report))
      } else {
        yield* print(typeTable(
          [count("checked"), count("consistent"), count("inconsistent"), count("failed"), count("repaired")],
          types
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
      }
      return yield* conclude({
        json: flags.json,
        failed,
        problems,
        found: "inconsistencies found",
        allGood: "All snapshots are consistent with their events."
      })
    }, Effect.provide(Layer.provideMerge(env.events, env.store)))
  ).pipe(
    Command.withDescription(
      "Compare each aggregate's snapshot + tail with a full replay of its events (needs the registry)."
    )
  )
