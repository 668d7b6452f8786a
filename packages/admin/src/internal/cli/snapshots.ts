/** The read-only commands: `stats`, `list` and `inspect`. */
import { SnapshotStore } from "@effect-snapshots/store"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AdminError } from "../../AdminError.js"
import type * as Cli from "../../Cli.js"
import * as format from "../format.js"
import * as sqlStats from "../sqlStats.js"
import { bad, type Environment, iso, print, storeError } from "./environment.js"
import { idArg, json, typeArg } from "./options.js"

// ---------------------------------------------------------------------------------------------------------
// stats
// ---------------------------------------------------------------------------------------------------------

type StatsRow = Cli.StatsReport["types"][number]

export const stats = (registry: ReadonlyArray<Cli.Registration>, env: Environment) =>
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

export const list = (env: Environment) =>
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

export const inspect = (env: Environment) =>
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
