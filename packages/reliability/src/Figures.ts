/**
 * The figures the reliability suite reports. Test files run in parallel worker processes, so each one
 * writes its figures as small JSON files into a directory the project's global setup creates; the global
 * teardown sums them and prints one block.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * @since 0.1.0
 */
export interface Figures {
  /** Histories, loads, updates, crash runs... every case checked against its expected outcome. */
  readonly casesTried: number
  /** Faults injected: failed, hung or corrupted calls, corrupt snapshots planted. */
  readonly faultsInjected: number
  /** SIGKILLed worker processes after which every check passed. */
  readonly killsSurvived: number
  /** Concurrency conflicts that were retried (by `update`) and then committed. */
  readonly conflictsRetried: number
  /** Invalid inputs refused with a typed error and nothing written. */
  readonly badInputsRejected: number
  /** Loads whose state differed from a full replay. Must be 0. */
  readonly mismatches: number
  /** Acknowledged events missing afterwards, or rows changed by a refused input. Must be 0. */
  readonly rowsLost: number
  /** Events of rolled-back (or never committed) transactions found in a stream, a snapshot or a load. Must be 0. */
  readonly phantomEvents: number
  /** Snapshots written beyond what the strategies call for over the committed history (the application section). */
  readonly snapshotsOverIdeal: number
}

/**
 * @since 0.1.0
 */
export const keys: ReadonlyArray<keyof Figures> = [
  "casesTried",
  "faultsInjected",
  "killsSurvived",
  "conflictsRetried",
  "badInputsRejected",
  "mismatches",
  "rowsLost",
  "phantomEvents",
  "snapshotsOverIdeal"
]

/**
 * @since 0.1.0
 */
export const empty: Figures = {
  casesTried: 0,
  faultsInjected: 0,
  killsSurvived: 0,
  conflictsRetried: 0,
  badInputsRejected: 0,
  mismatches: 0,
  rowsLost: 0,
  phantomEvents: 0,
  snapshotsOverIdeal: 0
}

/**
 * @since 0.1.0
 */
export const sum = (a: Figures, b: Partial<Figures>): Figures => {
  const out: Record<keyof Figures, number> = { ...a }
  for (const key of keys) out[key] += b[key] ?? 0
  return out
}

let sequence = 0

/**
 * Write one section's figures into `dir` (synchronously; a file per call, so parallel writers never collide).
 *
 * @since 0.1.0
 */
export const write = (dir: string, section: string, figures: Partial<Figures>, durationMs?: number): void => {
  const file = path.join(dir, `${process.pid}-${Date.now()}-${sequence++}.json`)
  fs.writeFileSync(file, JSON.stringify({ section, figures, durationMs }))
}

/**
 * @since 0.1.0
 */
export interface Entry {
  readonly section: string
  readonly figures: Figures
  readonly durationMs: number
}

/**
 * Read every file in `dir`, summed per section (sections sorted by name).
 *
 * @since 0.1.0
 */
export const read = (dir: string): ReadonlyArray<Entry> => {
  const bySection = new Map<string, { figures: Figures; durationMs: number }>()
  if (!fs.existsSync(dir)) return []
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(".json")) continue
    const entry = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as {
      section: string
      figures: Partial<Figures>
      durationMs?: number
    }
    const current = bySection.get(entry.section) ?? { figures: empty, durationMs: 0 }
    bySection.set(entry.section, {
      figures: sum(current.figures, entry.figures),
      durationMs: current.durationMs + (entry.durationMs ?? 0)
    })
  }
  return [...bySection.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([section, { durationMs, figures }]) => ({ section, figures, durationMs }))
}

const labels: Record<keyof Figures, string> = {
  casesTried: "cases tried",
  faultsInjected: "faults injected",
  killsSurvived: "kills survived",
  conflictsRetried: "conflicts retried",
  badInputsRejected: "bad inputs rejected",
  mismatches: "mismatches (must be 0)",
  rowsLost: "rows lost (must be 0)",
  phantomEvents: "phantom events (must be 0)",
  snapshotsOverIdeal: "snapshots over ideal"
}

/**
 * The figures block: totals first, then one line per section.
 *
 * @since 0.1.0
 */
export const format = (entries: ReadonlyArray<Entry>, options: { backend: string; wallMs: number }): string => {
  const total = entries.reduce((acc, e) => sum(acc, e.figures), empty)
  // The section column is as wide as the longest name, so the columns stay aligned as sections are added.
  const width = Math.max(24, ...entries.map((e) => e.section.length))
  const lines = [
    "==================== reliability figures ====================",
    `backend: ${options.backend} · wall time ${(options.wallMs / 1000).toFixed(1)} s`,
    ...keys.map((key) => `${labels[key].padEnd(26)} ${String(total[key]).padStart(8)}`),
    "-------------------------------------------------------------",
    `${"section".padEnd(width)}    cases   faults  kills conflicts  bad  mism lost phan  over    s`,
    ...entries.map(({ durationMs, figures: f, section }) =>
      [
        section.padEnd(width),
        String(f.casesTried).padStart(8),
        String(f.faultsInjected).padStart(8),
        String(f.killsSurvived).padStart(6),
        String(f.conflictsRetried).padStart(9),
        String(f.badInputsRejected).padStart(4),
        String(f.mismatches).padStart(5),
        String(f.rowsLost).padStart(4),
        String(f.phantomEvents).padStart(4),
        String(f.snapshotsOverIdeal).padStart(5),
        (durationMs / 1000).toFixed(0).padStart(4)
      ].join(" ")
    ),
    "============================================================="
  ]
  return lines.join("\n")
}
