/**
 * Plain-text tables for the terminal.
 */

export type Cell = string | number | null | undefined

export const ms = (x: number | null | undefined): string =>
  x === null || x === undefined || !Number.isFinite(x)
    ? "-"
    : x >= 100
    ? x.toFixed(0)
    : x >= 10
    ? x.toFixed(1)
    : x >= 1
    ? x.toFixed(2)
    : x.toFixed(3)

export const times = (x: number | null | undefined): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(2)}x`

export const int = (x: number | null | undefined): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : Math.round(x).toLocaleString("en-US")

const show = (cell: Cell): string => cell === null || cell === undefined ? "-" : String(cell)

/** Render rows under a header; numbers-like cells are right-aligned. */
export const render = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string => {
  const cells = [header, ...rows.map((row) => row.map(show))]
  const widths = header.map((_, c) => Math.max(...cells.map((row) => (row[c] ?? "").length)))
  const numeric = (s: string) => /^[-+]?[\d.,]+\s*(x|ms|MB|%)?$/.test(s) || s === "-"
  const line = (row: ReadonlyArray<string>) =>
    row.map((
      cell,
      c
    ) => (numeric(cell) && cells.indexOf(row) > 0 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd()
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n")
}
