/**
 * The bench's targets: what each section's figures should meet, judged in the summary (on a real server).
 */
import type { LoadPoint } from "./context.js"
import * as Table from "./table.js"

export interface Target {
  readonly name: string
  readonly target: string
  readonly value: string
  readonly met: boolean
}

/** What the sections measured (`null` or empty when a section did not run). */
export interface Measured {
  readonly load: ReadonlyArray<LoadPoint>
  readonly vsRaw: Record<string, unknown> | null
  readonly loadHot: Record<string, unknown> | null
  readonly loadCold: Record<string, unknown> | null
  readonly replay1M: Record<string, unknown> | null
  readonly replayFloor: ReadonlyArray<Record<string, unknown>>
  readonly restore: ReadonlyArray<Record<string, unknown>>
  readonly seedScenario: ReadonlyArray<Record<string, unknown>>
  readonly save: Record<string, unknown> | null
  readonly peer: Record<string, unknown> | null
  readonly citus: Record<string, unknown> | null
}

/** The targets of what was measured, in the summary's order. */
export const targetsOf = (measured: Measured): Array<Target> => {
  const { citus, load, loadCold, loadHot, peer, replay1M, replayFloor, restore, save, seedScenario, vsRaw } = measured
  const targets: Array<Target> = []
  const at = (events: number) => load.find((p) => p.events === events)
  const at1k = at(1_000)
  const at100k = at(100_000)
  if (at1k !== undefined && at100k !== undefined) {
    const growth = at100k.withSnapshotMs / at1k.withSnapshotMs
    targets.push({
      name: "with-snapshot load at 100,000 events vs at 1,000",
      target: "<= 1.5x",
      value: Table.times(growth),
      met: growth <= 1.5
    })
    targets.push({
      name: "full replay / with snapshot at 100,000 events",
      target: ">= 100x",
      value: Table.times(at100k.speedUp),
      met: at100k.speedUp >= 100
    })
  }
  if (vsRaw !== null) {
    targets.push({
      name: "vsRaw.ratio (ours / bare pg, 1 query)",
      target: "<= 1.25",
      value: Table.times(vsRaw.ratio as number),
      met: (vsRaw.ratio as number) <= 1.25
    })
  }
  if (loadHot !== null) {
    targets.push({
      name: "loadHot.ratio (known aggregate / bare pg, 1 query for the tail)",
      target: "<= 1.15",
      value: Table.times(loadHot.ratio as number),
      met: (loadHot.ratio as number) <= 1.15
    })
  }
  if (loadCold !== null) {
    targets.push({
      name: "loadCold.ratio (no cache / bare pg, 1 query)",
      target: "<= 1.25",
      value: Table.times(loadCold.ratio as number),
      met: (loadCold.ratio as number) <= 1.25
    })
    targets.push({
      name: "loadCold.roundTrips",
      target: "1",
      value: String(loadCold.roundTrips),
      met: loadCold.roundTrips === 1
    })
  }
  if (replay1M !== null) {
    targets.push({
      name: `replay1M peak RSS (${Table.int(replay1M.events as number)} events)`,
      target: "<= 200 MB",
      value: `${replay1M.peakRssMb} MB`,
      met: (replay1M.peakRssMb as number) <= 200
    })
  }
  for (const row of replayFloor) {
    targets.push({
      name: `replayFloor ${row.part} (${Table.int(row.events as number)} events): ours / bare pg`,
      target: "<= 1.25",
      value: Table.times(row.ratio as number),
      met: (row.ratio as number) <= 1.25
    })
  }
  for (const row of restore) {
    const lines = row.lines as number
    const wanted = lines >= 10_000 ? 20 : lines >= 1_000 ? 5 : undefined
    if (wanted === undefined) continue
    targets.push({
      name: `restore ${row.backend}, ${Table.int(lines)} lines (${
        Math.round((row.stateJsonBytes as number) / 1000)
      } KB): replay / snapshot`,
      target: `>= ${wanted}x`,
      value: Table.times(row.speedUp as number),
      met: (row.speedUp as number) >= wanted
    })
  }
  for (const row of seedScenario) {
    targets.push({
      name: `seedScenario ${row.backend}: with / without snapshot`,
      target: "< 0.5",
      value: Table.times(row.ratio as number),
      met: (row.ratio as number) < 0.5
    })
  }
  if (save !== null) {
    targets.push({
      name: "save.ratio (repo.save / bare INSERT, medians)",
      target: "<= 1.3",
      value: Table.times(save.ratio as number),
      met: (save.ratio as number) <= 1.3
    })
  }
  if (peer !== null) {
    targets.push({
      name: "peer: our full replay vs Emmett",
      target: "no slower (<= 1x)",
      value: Table.times(peer.fullReplayRatio as number),
      met: (peer.fullReplayRatio as number) <= 1
    })
    targets.push({
      name: "peer: Emmett / ours with snapshot",
      target: ">= 50x",
      value: Table.times(peer.snapshotSpeedUp as number),
      met: (peer.snapshotSpeedUp as number) >= 50
    })
  }

  if (citus !== null) {
    const ratio = (key: string) => (citus![key] as { readonly ratio: number }).ratio
    targets.push({
      name: "citus: EventStore.append p50, Citus / plain",
      target: "<= 2x",
      value: Table.times(ratio("append")),
      met: ratio("append") <= 2
    })
    for (const key of ["loadCold", "loadHot"]) {
      targets.push({
        name: `citus: ${key} p50, Citus / plain`,
        target: "<= 1.5x",
        value: Table.times(ratio(key)),
        met: ratio(key) <= 1.5
      })
    }
  }
  return targets
}
