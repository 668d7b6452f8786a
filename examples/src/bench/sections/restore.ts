/**
 * The large-state sections: a state that grows with the stream (`largeState`), and a snapshot of a large state
 * against replaying its events, with the decode per line (`restore`).
 */
import type { EventSourcedRepository } from "@effect-snapshots/loader"
import { Aggregate } from "@effect-snapshots/loader"
import { SqlSnapshotStore } from "@effect-snapshots/sql"
import * as Effect from "effect/Effect"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import * as os from "node:os"
import { Order } from "../../Order.js"
import * as OrderDomain from "../../OrderDomain.js"
import type { Context } from "../context.js"
import { expectedState, historyEvent } from "../history.js"
import { compare, round, type Stats } from "../measure.js"
import { decodeOrderState } from "../restoreDecoders.js"
import * as Table from "../table.js"

// ------------------------------------------------------------------------------------------------------
// largeState: a state that grows with the stream (one line per event)
// ------------------------------------------------------------------------------------------------------
export const runLargeState = async (ctx: Context) => {
  const { checkLoaded, log, measureOptions, options, section, seedSql, sql, sqlRepo, sqlReplay, wants } = ctx
  let largeState: Record<string, unknown> | null = null
  if (wants("largeState")) {
    const skus = options.largeStateItems
    const events = skus + 1
    section(`largeState: ${Table.int(skus)} distinct items (the state grows with the stream), ${events} events`)
    const id = `large-${skus}`
    await seedSql(id, events, options.tail, skus)
    const sizes = await sql.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (client) =>
        client.unsafe<{ json_bytes: number; jsonb_bytes: number }>(
          // `jsonb_bytes` (the JSON's field name kept): what the state takes on disk, as text since migration 0003.
          `SELECT octet_length(state_text) AS json_bytes, pg_column_size(state_text) AS jsonb_bytes
FROM ${SqlSnapshotStore.defaultTable} WHERE aggregate_id = $1 ORDER BY version DESC LIMIT 1`,
          [id]
        ))
    )
    const stats = await compare(
      {
        withSnapshot: () => sql.runPromise(sqlRepo.load(id)),
        fullReplay: () => sql.runPromise(sqlReplay.load(id))
      },
      measureOptions,
      checkLoaded(events, skus)
    )
    // Where a with-snapshot load of a large state goes, in process: parse the stored JSON, decode it with
    // the state Schema, fold the tail onto it (the read itself is the rest).
    const stateText = (await sql.runPromise(Effect.flatMap(SqlClient.SqlClient, (client) =>
      client.unsafe<{ state: string }>(
        `SELECT state_text AS state FROM ${SqlSnapshotStore.defaultTable} WHERE aggregate_id = $1
ORDER BY version DESC LIMIT 1`,
        [id]
      ))))[0]!.state
    const decodeState = Schema.decodeUnknownSync(Schema.toCodecJson(OrderDomain.OrderState))
    const decoded = decodeState(JSON.parse(stateText))
    const tailEvents = Array.from({ length: options.tail }, (_, k) =>
      historyEvent(events - options.tail + 1 + k, skus))
    const steps = await compare(
      {
        parse: async () => JSON.parse(stateText),
        decode: async () => decodeState(JSON.parse(stateText)),
        foldTail: async () => tailEvents.reduce(OrderDomain.evolve, decoded)
      },
      measureOptions
    )
    largeState = {
      items: skus,
      events,
      stateJsonBytes: Number(sizes[0]?.json_bytes ?? 0),
      stateJsonbBytes: Number(sizes[0]?.jsonb_bytes ?? 0),
      withSnapshotMs: round(stats.withSnapshot.medianMs),
      fullReplayMs: round(stats.fullReplay.medianMs),
      speedUp: round(stats.fullReplay.medianMs / stats.withSnapshot.medianMs),
      parseMs: round(steps.parse.medianMs),
      parseAndDecodeMs: round(steps.decode.medianMs),
      foldTailMs: round(steps.foldTail.medianMs)
    }
    log(
      `  state ${Table.int(largeState.stateJsonBytes as number)} bytes of JSON (on disk ${
        Table.int(largeState.stateJsonbBytes as number)
      }): with snapshot ${Table.ms(stats.withSnapshot.medianMs)} ms, full replay ${
        Table.ms(stats.fullReplay.medianMs)
      } ms (${Table.times(largeState.speedUp as number)})`
    )
    log(
      `  in process: JSON.parse ${Table.ms(steps.parse.medianMs)} ms, parse + Schema decode ${
        Table.ms(steps.decode.medianMs)
      } ms, fold of the ${options.tail}-event tail ${Table.ms(steps.foldTail.medianMs)} ms`
    )
  }
  return largeState
}

// ------------------------------------------------------------------------------------------------------
// restore: a snapshot of a large state against replaying its events; the decode per line
// ------------------------------------------------------------------------------------------------------
export const runRestore = async (ctx: Context) => {
  const {
    backend,
    checkLoaded,
    log,
    measureOptions,
    memory,
    memRepo,
    memReplay,
    options,
    raw,
    section,
    seedMemory,
    seedSql,
    sql,
    sqlRepo,
    sqlReplay,
    wants
  } = ctx
  const restore: Array<Record<string, unknown>> = []
  if (wants("restore")) {
    for (const lines of options.restoreLines) {
      const events = lines + 1
      const id = `restore-${lines}`
      section(`restore: a ${Table.int(lines)}-line state (${Table.int(events)} events, snapshot at the head)`)
      // In process: JSON.parse of the stored state, its decode by the library (`Aggregate.restoreState`: the
      // fingerprint check, the JSON decoder built once per aggregate) and by Schema's own decoder, built here.
      const text = JSON.stringify(
        Schema.encodeSync(Schema.toCodecJson(OrderDomain.OrderState))(expectedState(id, events, lines))
      )
      const parsed: unknown = JSON.parse(text)
      const schemaDecode = Schema.decodeUnknownResult(Schema.toCodecJson(OrderDomain.OrderState))
      const snapshot = { schemaVersion: Order.schemaVersion, state: parsed, metadata: {} }
      const steps = await compare(
        {
          parse: async () => JSON.parse(text),
          decode: async () => Aggregate.restoreState(Order, snapshot),
          schemaDecode: async () => schemaDecode(parsed),
          // What a decoder compiler could emit for this Schema at best (the bound of the hand-written decoders).
          byHand: async () => Result.succeed(decodeOrderState(parsed))
        },
        measureOptions,
        (name, result) => {
          if (name !== "parse" && !Result.isSuccess(result as Result.Result<unknown, unknown>)) {
            throw new Error(`${name}: the state does not decode`)
          }
        }
      )
      const perLine = (ms: number) => round((ms * 1000) / lines)
      const decodeFigures = {
        stateJsonBytes: Buffer.byteLength(text, "utf8"),
        parseMs: round(steps.parse.medianMs),
        decodeMs: round(steps.decode.medianMs),
        schemaDecodeMs: round(steps.schemaDecode.medianMs),
        parseUsPerLine: perLine(steps.parse.medianMs),
        decodeUsPerLine: perLine(steps.decode.medianMs),
        schemaDecodeUsPerLine: perLine(steps.schemaDecode.medianMs),
        byHandDecodeMs: round(steps.byHand.medianMs)
      }
      log(
        `  in process (${Table.int(decodeFigures.stateJsonBytes)} bytes of JSON): JSON.parse ${
          Table.ms(steps.parse.medianMs)
        } ms (${decodeFigures.parseUsPerLine} µs/line); decode ${
          Table.ms(steps.decode.medianMs)
        } ms (${decodeFigures.decodeUsPerLine} µs/line; Schema's own decoder ${
          Table.ms(steps.schemaDecode.medianMs)
        } ms, ${decodeFigures.schemaDecodeUsPerLine} µs/line; by hand for this Schema ${
          Table.ms(steps.byHand.medianMs)
        } ms)`
      )
      const backends = [
        {
          label: backend,
          runtime: sql as ManagedRuntime.ManagedRuntime<unknown, unknown>,
          repo: sqlRepo,
          replay: sqlReplay,
          seed: seedSql
        },
        {
          label: "memory",
          runtime: memory as ManagedRuntime.ManagedRuntime<unknown, unknown>,
          repo: memRepo,
          replay: memReplay,
          seed: seedMemory
        }
      ]
      for (const b of backends) {
        await b.seed(id, events, 0, lines)
        // On Postgres, the floor of a restore: bare `pg`, the snapshot row and the tail in one prepared statement,
        // JSON.parse, Schema's own decoder.
        const floor = b.label === "memory" ? undefined : raw
        const cases: Record<string, () => Promise<unknown>> = {
          snapshot: () => b.runtime.runPromise(b.repo.load(id)),
          replay: () => b.runtime.runPromise(b.replay.load(id))
        }
        if (floor !== undefined) cases.floor = () => floor.loadOneQuery(id)
        const stats: Record<string, Stats> = await compare(
          cases,
          measureOptions,
          (name, result) => {
            checkLoaded(events, lines)(name, result)
            const loaded = result as EventSourcedRepository.Loaded<OrderDomain.OrderState>
            if (name === "snapshot" && loaded.replayed !== 0) throw new Error(`snapshot: replayed ${loaded.replayed}`)
          }
        )
        const snapshotMs = stats.snapshot!.medianMs
        const replayMs = stats.replay!.medianMs
        const floorMs = stats.floor?.medianMs
        const row = {
          backend: b.label,
          lines,
          events,
          snapshotMs: round(snapshotMs),
          replayMs: round(replayMs),
          speedUp: round(replayMs / snapshotMs),
          samples: stats.snapshot!.samples,
          ...(floorMs === undefined ? {} : {
            floorMs: round(floorMs),
            floorRatio: round(snapshotMs / floorMs),
            floorSpeedUp: round(replayMs / floorMs)
          }),
          ...decodeFigures
        }
        restore.push(row)
        log(
          `  ${b.label}: from the snapshot ${Table.ms(row.snapshotMs)} ms, replay ${Table.ms(row.replayMs)} ms (${
            Table.times(row.speedUp)
          }, n=${row.samples})${
            floorMs === undefined ?
              "" :
              `; bare pg floor ${Table.ms(floorMs)} ms (ours / floor ${
                Table.times(snapshotMs / floorMs)
              }; replay / floor ${Table.times(replayMs / floorMs)})`
          }; load average ${os.loadavg()[0]!.toFixed(2)}`
        )
      }
    }
  }
  return restore
}
