/**
 * Where two JSON values differ, as paths (`$.items[3].qty`), for `verify`'s report. Not exported from the
 * package.
 */

import * as Result from "effect/Result"

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

/** One state at a version, encoded (a failure: it does not encode). */
export interface Encoded {
  readonly encoded: Result.Result<unknown, string>
  readonly version: number
}

/**
 * Where a state (from a snapshot + tail, or migrated) and the full replay differ: the version first when they
 * differ, then the encoded states' paths (a state that does not encode differs from any).
 */
export const states = (snapshot: Encoded, replay: Encoded): Array<Difference> => {
  const a = snapshot.encoded
  const b = replay.encoded
  const differences: Array<Difference> = Result.isSuccess(a) && Result.isSuccess(b)
    ? diff(a.success, b.success)
    : [{
      path: "$",
      snapshot: Result.isFailure(a) ? `(does not encode: ${a.failure})` : "(encodes)",
      replay: Result.isFailure(b) ? `(does not encode: ${b.failure})` : "(encodes)"
    }]
  if (snapshot.version !== replay.version) {
    differences.unshift({ path: "(version)", snapshot: String(snapshot.version), replay: String(replay.version) })
  }
  return differences
}
