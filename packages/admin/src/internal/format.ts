/** Plain-text rendering of the commands' reports. */

export interface Column {
  readonly header: string
  readonly align?: "left" | "right" | undefined
}

/** A table with a header row, columns padded to their widest cell. */
export const table = (columns: ReadonlyArray<Column>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => columns[i]!.align === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join("\n")
}

export const bytes = (n: number): string => {
  if (n < 1024) return `${n} B`
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

export const percent = (part: number, whole: number): string =>
  whole === 0 ? "0%" : `${(Math.round((part / whole) * 1000) / 10).toFixed(1)}%`

/** Cut a user-supplied value for a one-line message (a 10 KB id must not become a 10 KB line). */
export const short = (text: string, max = 120): string => text.length > max ? `${text.slice(0, max)}…` : text

export interface Truncated {
  readonly text: string
  readonly totalLines: number
  readonly shownLines: number
  readonly cutLines: number
}

/**
 * Keep the first `maxLines` lines of a text, each cut at `maxLineChars` characters (0 keeps everything):
 * a 600 KB state must not flood a terminal.
 */
export const truncate = (text: string, maxLines: number, maxLineChars: number): Truncated => {
  const lines = text.split("\n")
  if (maxLines <= 0) return { text, totalLines: lines.length, shownLines: lines.length, cutLines: 0 }
  const shown = lines.slice(0, maxLines)
  let cutLines = 0
  const cut = shown.map((line) => {
    if (line.length <= maxLineChars) return line
    cutLines++
    return `${line.slice(0, maxLineChars)}… (${line.length - maxLineChars} more characters)`
  })
  return { text: cut.join("\n"), totalLines: lines.length, shownLines: shown.length, cutLines }
}

export const json = (value: unknown): string => JSON.stringify(value, null, 2)
