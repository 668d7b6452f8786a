/**
 * Where two JSON values differ, as paths (`$.items[3].qty`), for `verify`'s report. Not exported from the
 * package.
 */

/** One difference: the path, and each side as (truncated) JSON text; "(absent)" for a missing key. */
export interface Difference {
  readonly path: string
  readonly snapshot: string
  readonly replay: string
}

const show = (value: unknown, maxChars: number): string => {
  if (value === undefined) return "(absent)"
  const text = JSON.stringify(value) ?? String(value)
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text
}

const key = (path: string, name: string): string =>
  /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** At most `limit` differences between `snapshot` and `replay`, depth first, in key order. */
export const diff = (snapshot: unknown, replay: unknown, limit = 10, maxChars = 120): Array<Difference> => {
  const out: Array<Difference> = []
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (out.length >= limit) return
    if (Array.isArray(a) && Array.isArray(b)) {
      const n = Math.max(a.length, b.length)
      for (let i = 0; i < n && out.length < limit; i++) walk(a[i], b[i], `${path}[${i}]`)
      return
    }
    if (isObject(a) && isObject(b)) {
      const names = Array.from(new Set([...Object.keys(a), ...Object.keys(b)])).sort()
      for (const name of names) {
        if (out.length >= limit) return
        walk(a[name], b[name], key(path, name))
      }
      return
    }
    if (a !== b) out.push({ path, snapshot: show(a, maxChars), replay: show(b, maxChars) })
  }
  walk(snapshot, replay, "$")
  return out
}
