/**
 * The replay sections, each in a child process beside its bare-`pg` floor: a full replay of a long stream
 * with its peak RSS (`replay1M`), and Emmett loading the same stream as ours (`peer`).
 */
import { SqlEventStore } from "@effect-snapshots/sql"
import * as BigDecimal from "effect/BigDecimal"
import * as os from "node:os"
import * as Child from "../child.js"
import type { Context } from "../context.js"
import { expectedState } from "../history.js"
import { compare, round, SelfTimed } from "../measure.js"
import type { PeerRequest, PeerResponse } from "../peer-child.js"
import * as Raw from "../raw.js"
import type { ReplayRequest, ReplayResponse } from "../replay-child.js"
import * as Table from "../table.js"

// ------------------------------------------------------------------------------------------------------
// replay1M: a full replay in its own process, events/s and peak RSS
// ------------------------------------------------------------------------------------------------------
export const runReplay1M = async (ctx: Context) => {
  const { log, options, replayFloor, schema, section, seedSql, skipped, url, wants } = ctx
  let replay1M: Record<string, unknown> | null = null
  if (wants("replay1M") && url === undefined) {
    skipped.push({ part: "replay1M", reason: "runs in a child process, which cannot reach the embedded PGlite" })
  } else if (wants("replay1M") && url !== undefined) {
    section(`replay1M: full replay of ${Table.int(options.replayEvents)} events in a child process`)
    const id = `replay-${options.replayEvents}`
    await seedSql(id, options.replayEvents, options.replayEvents)
    // Ours and the bare-pg floor, each in its own process (each peak RSS is its own), alternating round by
    // round (rotating who goes first).
    const children = {
      library: Child.start<ReplayRequest, ReplayResponse>(new URL("../replay-child.ts", import.meta.url)),
      floor: Child.start<ReplayRequest, ReplayResponse>(new URL("../replay-child.ts", import.meta.url))
    }
    try {
      const ms = { library: [] as Array<number>, floor: [] as Array<number> }
      const cpuMs = { library: [] as Array<number>, floor: [] as Array<number> }
      const loadAverages: Array<number> = []
      const last: Partial<Record<"library" | "floor", Extract<ReplayResponse, { type: "replayed" }>>> = {}
      for (let round = 0; round < options.replayRounds; round++) {
        const order = round % 2 === 0 ? (["library", "floor"] as const) : (["floor", "library"] as const)
        for (const mode of order) {
          const response = await children[mode].request({
            type: "replay",
            mode,
            url,
            schema,
            table: SqlEventStore.defaultTable,
            id,
            rounds: 1
          })
          if (response.type !== "replayed") throw new Error("unexpected response")
          if (response.events !== options.replayEvents) {
            throw new Error(`${mode}: replayed ${response.events} events, expected ${options.replayEvents}`)
          }
          ms[mode].push(...response.ms)
          cpuMs[mode].push(...response.cpuMs)
          loadAverages.push(os.loadavg()[0]!)
          last[mode] = response
        }
      }
      const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      const medianMs = median(ms.library)
      const floorMs = median(ms.floor)
      const response = last.library!
      replay1M = {
        events: response.events,
        eventsPerSecond: Math.round(response.events / (medianMs / 1000)),
        peakRssMb: response.peakRssMb,
        ms: round(medianMs),
        startRssMb: response.startRssMb,
        rounds: ms.library.length,
        floorMs: round(floorMs),
        floorPeakRssMb: last.floor!.peakRssMb,
        floorStartRssMb: last.floor!.startRssMb,
        floorRatio: round(medianMs / floorMs),
        cpuMs: round(median(cpuMs.library)),
        floorCpuMs: round(median(cpuMs.floor)),
        loadAverage: { min: round(Math.min(...loadAverages)), max: round(Math.max(...loadAverages)) }
      }
      replayFloor.push({
        part: "replay1M",
        events: response.events,
        oursMs: round(medianMs),
        floorMs: round(floorMs),
        ratio: round(medianMs / floorMs),
        oursPeakRssMb: response.peakRssMb,
        floorPeakRssMb: last.floor!.peakRssMb,
        samples: ms.library.length
      })
      log(
        `  ours: ${Table.int(response.events)} events in ${Table.ms(medianMs)} ms (median of ${ms.library.length}): ` +
          `${Table.int(replay1M.eventsPerSecond as number)} events/s; peak RSS ${response.peakRssMb} MB ` +
          `(${response.startRssMb} MB before the first replay)`
      )
      log(
        `  bare pg floor (pages of 1,000, the next one read ahead, driver-parsed jsonb, Schema's decoder, same evolve): ${
          Table.ms(floorMs)
        } ms; peak RSS ${last.floor!.peakRssMb} MB (${last.floor!.startRssMb} MB before); ours / floor ${
          Table.times(medianMs / floorMs)
        }`
      )
      log(
        `  CPU time of each process (median): ours ${Table.ms(median(cpuMs.library))} ms, floor ${
          Table.ms(median(cpuMs.floor))
        } ms (${Table.times(median(cpuMs.library) / median(cpuMs.floor))}); load average ${
          Math.min(...loadAverages).toFixed(2)
        }..${Math.max(...loadAverages).toFixed(2)}`
      )
    } finally {
      await children.library.close()
      await children.floor.close()
    }
  }
  return replay1M
}

// ------------------------------------------------------------------------------------------------------
// peer: Emmett, in its own process, on the same stream
// ------------------------------------------------------------------------------------------------------
export const runPeer = async (ctx: Context) => {
  const {
    checkLoaded,
    log,
    measureOptions,
    options,
    raw,
    replayFloor,
    schema,
    section,
    seedSql,
    skipped,
    sql,
    sqlRepo,
    sqlReplay,
    url,
    wants
  } = ctx
  let peer: Record<string, unknown> | null = null
  if (wants("peer") && url === undefined) {
    skipped.push({ part: "peer", reason: "Emmett runs in a child process, which cannot reach the embedded PGlite" })
  } else if (wants("peer") && url !== undefined) {
    section(`peer: the same ${Table.int(options.peerEvents)}-event Order stream, Emmett 0.42 vs ours`)
    const events = options.peerEvents
    const id = `load-${events}`
    await seedSql(id, events, options.tail)
    const child = Child.start<PeerRequest, PeerResponse>(new URL("../peer-child.ts", import.meta.url))
    try {
      await child.request({ type: "setup", url, database: `${schema}_emmett`, events })
      const stats = await compare(
        {
          peer: async () => {
            const response = await child.request({ type: "load" })
            if (response.type !== "loaded") throw new Error("unexpected response")
            return new SelfTimed(response.ms, response)
          },
          oursFullReplay: () => sql.runPromise(sqlReplay.load(id)),
          oursWithSnapshot: () => sql.runPromise(sqlRepo.load(id)),
          // The floor of a full replay: bare pg, the same pages, Schema's decoder (and ours), the same evolve.
          floor: () => raw!.fullReplay(id),
          floorSameDecoders: () => raw!.fullReplay(id, Raw.aggregateDecoders)
        },
        measureOptions,
        (name, result) => {
          if (name === "peer") {
            const response = result as Extract<PeerResponse, { type: "loaded" }>
            const state = expectedState("x", events)
            const got = `${response.version}:${response.itemCount}/${response.total}`
            const want = `${events}:${state.itemCount}/${BigDecimal.format(state.total)}`
            if (got !== want) throw new Error(`peer: loaded ${got}, expected ${want}`)
          } else {
            checkLoaded(events)(name, result)
          }
        }
      )
      peer = {
        name: "@event-driven-io/emmett-postgresql 0.42.0",
        events,
        peerMs: round(stats.peer.medianMs),
        oursFullReplayMs: round(stats.oursFullReplay.medianMs),
        oursWithSnapshotMs: round(stats.oursWithSnapshot.medianMs),
        fullReplayRatio: round(stats.oursFullReplay.medianMs / stats.peer.medianMs),
        snapshotSpeedUp: round(stats.peer.medianMs / stats.oursWithSnapshot.medianMs),
        samples: stats.peer.samples,
        floorMs: round(stats.floor.medianMs),
        floorSameDecodersMs: round(stats.floorSameDecoders.medianMs)
      }
      replayFloor.push({
        part: "peer",
        events,
        oursMs: round(stats.oursFullReplay.medianMs),
        floorMs: round(stats.floor.medianMs),
        ratio: round(stats.oursFullReplay.medianMs / stats.floor.medianMs),
        floorSameDecodersMs: round(stats.floorSameDecoders.medianMs),
        ratioSameDecoders: round(stats.oursFullReplay.medianMs / stats.floorSameDecoders.medianMs),
        samples: stats.peer.samples
      })
      log(
        Table.render(["", "median ms", "p99 ms"], [
          ["Emmett aggregateStream", Table.ms(stats.peer.medianMs), Table.ms(stats.peer.p99Ms)],
          ["ours, full replay", Table.ms(stats.oursFullReplay.medianMs), Table.ms(stats.oursFullReplay.p99Ms)],
          ["ours, with snapshot", Table.ms(stats.oursWithSnapshot.medianMs), Table.ms(stats.oursWithSnapshot.p99Ms)],
          ["bare pg full replay (Schema's decoder)", Table.ms(stats.floor.medianMs), Table.ms(stats.floor.p99Ms)],
          [
            "bare pg full replay (our decoders)",
            Table.ms(stats.floorSameDecoders.medianMs),
            Table.ms(stats.floorSameDecoders.p99Ms)
          ]
        ])
      )
    } finally {
      await child.close({ type: "close" })
    }
  }
  return peer
}
