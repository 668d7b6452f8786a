/**
 * Counting round trips: every time a `pg` connection sends Sync (end of an extended-protocol query), Flush
 * (a cursor asking for more rows) or a simple-protocol Query, it then waits for the server. `@effect/sql-pg`
 * and the bare baselines share this one `pg` module, so the count covers both.
 */
import pg from "pg"

let count = 0
let installed = false

const wrap = (name: "sync" | "flush" | "query") => {
  const proto = (pg as unknown as { Connection: { prototype: Record<string, (...args: Array<unknown>) => unknown> } })
    .Connection.prototype
  const original = proto[name]!
  proto[name] = function(this: unknown, ...args: Array<unknown>) {
    count++
    return original.apply(this, args)
  }
}

export const install = (): void => {
  if (installed) return
  installed = true
  wrap("sync")
  wrap("flush")
  wrap("query")
}

/** Round trips made while `f` ran (nothing else may use the database meanwhile). */
export const measure = async <A>(f: () => Promise<A>): Promise<{ readonly value: A; readonly roundTrips: number }> => {
  install()
  const before = count
  const value = await f()
  return { value, roundTrips: count - before }
}
