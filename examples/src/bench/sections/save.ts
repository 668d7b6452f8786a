/**
 * The `save` section: one event, strategy evaluated, snapshot in background mode, vs a bare INSERT, with the
 * event store's append and the append statement alone beside them.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Order } from "../../Order.js"
import * as OrderDomain from "../../OrderDomain.js"
import * as Breakdown from "../breakdown.js"
import type { Context } from "../context.js"
import { historyEvent } from "../history.js"
import { compare, round } from "../measure.js"
import * as Raw from "../raw.js"
import * as RoundTrips from "../roundtrips.js"
import * as Table from "../table.js"

// ------------------------------------------------------------------------------------------------------
// save: one event, strategy evaluated, snapshot in background mode, vs a bare INSERT
// ------------------------------------------------------------------------------------------------------
export const runSave = async (ctx: Context) => {
  const { log, options, raw, repoOf, section, sql, strategy, wants } = ctx
  let save: Record<string, unknown> | null = null
  if (wants("save") && raw !== undefined) {
    section(`save: repo.save of one event (${SnapshotStrategy.format(strategy)}, background) vs bare INSERT`)
    const saveRepo = await repoOf(sql, { strategy, mode: "background" })
    const encode = Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderEvent))
    const libId = "save-library"
    const rawId = "save-raw"
    await sql.runPromise(saveRepo.save(libId, 0, [historyEvent(1)]))
    await raw.insert(rawId, 1, historyEvent(1), encode(historyEvent(1)))
    // A command loads before it saves: the repository then knows the state it folds the new event onto.
    await sql.runPromise(saveRepo.load(libId))
    let libVersion = 1
    let rawVersion = 1
    // Diagnostics, each on its own stream: the event store's append without the repository, and the
    // append statement sent with bare pg, plain and from a PL/pgSQL function.
    const versions = { store: 0, statement: 0, fn: 0, effect: 0 }
    await Breakdown.createAppendFunction(raw.pool)
    const eventStore = await sql.runPromise(EventStore.EventStore)
    const stats = await compare(
      {
        library: async () => {
          const event = historyEvent(libVersion + 1)
          const saved = await sql.runPromise(saveRepo.save(libId, libVersion, [event]))
          libVersion = saved.version
          return saved
        },
        raw: async () => {
          const event = historyEvent(rawVersion + 1)
          await raw.insert(rawId, rawVersion + 1, event, encode(event))
          rawVersion++
        },
        effectInsert: async () => {
          const event = historyEvent(versions.effect + 1)
          await sql.runPromise(Raw.effectInsert("save-effect", versions.effect + 1, event, encode(event)))
          versions.effect++
        },
        eventStoreAppend: async () => {
          const event = historyEvent(versions.store + 1)
          const appended = await sql.runPromise(
            eventStore.append(Order.type, "save-store", versions.store, [{ type: event._tag, payload: encode(event) }])
          )
          versions.store = appended.version
        },
        appendStatement: async () => {
          const event = historyEvent(versions.statement + 1)
          await Breakdown.appendWithStatement(raw.pool, "save-statement", versions.statement, event._tag, encode(event))
          versions.statement++
        },
        appendFunction: async () => {
          const event = historyEvent(versions.fn + 1)
          await Breakdown.appendWithFunction(raw.pool, "save-function", versions.fn, event._tag, encode(event))
          versions.fn++
        }
      },
      { warmup: 200, iterations: options.saveIterations, budgetMs: undefined }
    )
    await sql.runPromise(saveRepo.flush)
    const snapshots = await sql.runPromise(
      Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.list(Order.type, libId))
    )
    const saveTrips = await RoundTrips.measure(async () => {
      const saved = await sql.runPromise(saveRepo.save(libId, libVersion, [historyEvent(libVersion + 1)]))
      libVersion = saved.version
    })
    save = {
      libraryMs: round(stats.library.medianMs),
      rawMs: round(stats.raw.medianMs),
      ratio: round(stats.library.medianMs / stats.raw.medianMs),
      libraryP99Ms: round(stats.library.p99Ms),
      rawP99Ms: round(stats.raw.p99Ms),
      iterations: stats.library.samples,
      snapshotsWritten: snapshots.length,
      libraryRoundTrips: saveTrips.roundTrips,
      effectInsertMs: round(stats.effectInsert.medianMs),
      effectRatio: round(stats.effectInsert.medianMs / stats.raw.medianMs),
      eventStoreAppendMs: round(stats.eventStoreAppend.medianMs),
      appendStatementMs: round(stats.appendStatement.medianMs),
      appendFunctionMs: round(stats.appendFunction.medianMs)
    }
    log(
      Table.render(["", "median ms", "p99 ms"], [
        ["repo.save (ours)", Table.ms(stats.library.medianMs), Table.ms(stats.library.p99Ms)],
        ["bare INSERT", Table.ms(stats.raw.medianMs), Table.ms(stats.raw.p99Ms)],
        ["effect/sql, same INSERT", Table.ms(stats.effectInsert.medianMs), Table.ms(stats.effectInsert.p99Ms)],
        ["EventStore.append (ours)", Table.ms(stats.eventStoreAppend.medianMs), Table.ms(stats.eventStoreAppend.p99Ms)],
        [
          "bare pg, our append statement",
          Table.ms(stats.appendStatement.medianMs),
          Table.ms(stats.appendStatement.p99Ms)
        ],
        [
          "bare pg, batch statement in its fn",
          Table.ms(stats.appendFunction.medianMs),
          Table.ms(stats.appendFunction.p99Ms)
        ]
      ])
    )
    log(
      `  ratio ${Table.times(save.ratio as number)} (p99 ${
        Table.times(stats.library.p99Ms / stats.raw.p99Ms)
      }); ${stats.library.samples} saves, ${snapshots.length} snapshots written in the background; ` +
        `${saveTrips.roundTrips} round trip(s) per save without a snapshot; effect/sql alone / bare: ${
          Table.times(save.effectRatio as number)
        }`
    )
  }
  return save
}
