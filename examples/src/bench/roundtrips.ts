/**
 * Counting round trips and statements. Round trips: every time a `pg` connection sends Sync (end of an
 * extended-protocol query), Flush (a cursor asking for more rows) or a simple-protocol Query, it then waits
 * for the server. Statements: every `Client.query` call (a `Pool.query` is one), whatever it sends. `@effect/sql-pg`
 * and the bare baselines share this one `pg` module, so the counts cover both.
 */
import pg from "pg"

let roundTrips = 0
let statements = 0
let installed = false

type Methods = { prototype: Record<string, (...args: Array<unknown>) => unknown> }

const wrap = (target: Methods, name: string, count: () => void) => {
  const proto = target.prototype
  const original = proto[name]!
  proto[name] = function(this: unknown, ...args: Array<unknown>) {
    count()
    return original.apply(this, args)
  }
}

export const install = (): void => {
  if (installed) return
  installed = true
  const connection = (pg as unknown as { Connection: Methods }).Connection
  for (const name of ["sync", "flush", "query"]) wrap(connection, name, () => roundTrips++)
  wrap(pg.Client as unknown as Methods, "query", () => statements++)
}

/** Round trips and statements made while `f` ran (nothing else may use the database meanwhile). */
export const measure = async <A>(
  f: () => Promise<A>
): Promise<{ readonly value: A; readonly roundTrips: number; readonly statements: number }> => {
  install()
  const before = { roundTrips, statements }
  const value = await f()
  return { value, roundTrips: roundTrips - before.roundTrips, statements: statements - before.statements }
}
