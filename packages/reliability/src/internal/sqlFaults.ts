/** A SqlClient whose connection fails, hangs or corrupts a share of its statements. @internal */
import { makeCompiler } from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import type { SqlConnection } from "effect/sql"
import { ConnectionError, SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import type { Decision, Injector } from "./injector.js"
import { apply } from "./injector.js"

/**
 * @since 0.1.0
 */
export interface SqlClientOptions {
  /** Only statements whose SQL text matches are subject to faults (default: all). */
  readonly match?: RegExp | undefined
}

const corruptValue = (value: unknown, rng: () => number): unknown => {
  if (typeof value === "string") return value.slice(0, Math.floor(value.length / 2))
  if (value instanceof Uint8Array) {
    if (value.length === 0) return value
    const copy = Uint8Array.from(value.subarray(0, Math.max(1, Math.floor(value.length / 2))))
    for (let i = 0; i < copy.length; i += 7) copy[i] = Math.floor(rng() * 256)
    return copy
  }
  if (typeof value === "number") return value + 1_000_000
  if (value !== null && typeof value === "object") return { corrupt: true }
  return value
}

const corruptRows = (rows: ReadonlyArray<unknown>, rng: () => number): ReadonlyArray<unknown> =>
  rows.map((row) => {
    if (row === null || typeof row !== "object") return row
    const keys = Object.keys(row)
    if (keys.length === 0) return row
    const key = keys[Math.floor(rng() * keys.length)]!
    return { ...row, [key]: corruptValue((row as Record<string, unknown>)[key], rng) }
  })

/**
 * Wrap one connection: statements that match may fail with a `SqlError` (reason `ConnectionError`, the
 * retryable "unavailable" kind), hang, be delayed, or (SELECTs) answer rows with one column corrupted
 * (strings truncated, bytes truncated and flipped, numbers shifted, JSON replaced).
 *
 * @since 0.1.0
 */
export const connection = (
  inner: SqlConnection.Connection,
  injector: Injector,
  options: SqlClientOptions = {}
): SqlConnection.Connection => {
  const decideFor = (sql: string): Decision =>
    options.match === undefined || options.match.test(sql)
      ? injector.decide(/^\s*(select|with)\b/i.test(sql))
      : { _tag: "Pass", delay: Duration.zero }
  const fail = (sql: string) => () =>
    new SqlError({
      reason: new ConnectionError({
        message: `injected fault: ${sql.slice(0, 60)}`,
        cause: new Error("injected fault")
      })
    })
  const rows = <A>(a: A): A => corruptRows(a as ReadonlyArray<unknown>, injector.random) as A
  return {
    execute: (sql, params, transform) =>
      Effect.suspend(() => apply(decideFor(sql), inner.execute(sql, params, transform), fail(sql), rows)),
    executeRaw: (sql, params) => Effect.suspend(() => apply(decideFor(sql), inner.executeRaw(sql, params), fail(sql))),
    executeValues: (sql, params) =>
      Effect.suspend(() => apply(decideFor(sql), inner.executeValues(sql, params), fail(sql))),
    executeValuesUnprepared: (sql, params) =>
      Effect.suspend(() => apply(decideFor(sql), inner.executeValuesUnprepared(sql, params), fail(sql))),
    executeUnprepared: (sql, params, transform) =>
      Effect.suspend(() => apply(decideFor(sql), inner.executeUnprepared(sql, params, transform), fail(sql), rows)),
    executeStream: (sql, params, transform) =>
      Stream.unwrap(Effect.suspend(() =>
        Effect.map(
          apply(decideFor(sql), Effect.void, fail(sql)),
          () => inner.executeStream(sql, params, transform)
        )
      ))
  }
}

/**
 * The inner client's own (non-transaction) statements, as a connection: each one runs as the inner client
 * runs a statement outside a transaction (with `PgClient`, on a connection borrowed from its pool for that
 * statement only).
 */
const plainConnection = (inner: SqlClient.SqlClient): SqlConnection.Connection => ({
  execute: (sql, params) => inner.unsafe(sql, params),
  executeRaw: (sql, params) => inner.unsafe(sql, params).raw,
  executeValues: (sql, params) => inner.unsafe(sql, params).values,
  executeValuesUnprepared: (sql, params) => inner.unsafe(sql, params).valuesUnprepared,
  executeUnprepared: (sql, params) => inner.unsafe(sql, params).unprepared,
  executeStream: (sql, params) => inner.unsafe(sql, params).stream
})

/**
 * A Postgres `SqlClient` whose statements go through `connection(...)`. Plain statements run as the inner
 * client's own; a transaction reserves one of its pooled connections (the wrapper has its own transaction
 * service, so a transaction of the wrapper never joins one of the inner client, and the other way round).
 * Provide it only to the store under test:
 * `SqlSnapshotStore.layer.pipe(Layer.provide(Faults.layerSqlClient(injector)))`.
 *
 * Beware: interrupting a transaction's statement (a timeout around it) leaves that transaction to the
 * driver's cleanup; a fault-injected store should not use transactions under timeouts.
 *
 * @since 0.1.0
 */
export const layerSqlClient = (
  injector: Injector,
  options: SqlClientOptions = {}
): Layer.Layer<SqlClient.SqlClient, never, SqlClient.SqlClient> =>
  Layer.effect(
    SqlClient.SqlClient,
    Effect.gen(function*() {
      const inner = (yield* SqlClient.SqlClient).withoutTransforms()
      const plain = connection(plainConnection(inner), injector, options)
      return yield* SqlClient.make({
        driver: inner.driver,
        acquirer: Effect.succeed(plain),
        transactionAcquirer: Effect.map(inner.reserve, (conn) => connection(conn, injector, options)),
        compiler: makeCompiler(),
        spanAttributes: [["reliability.faults", true]]
      })
    })
  ).pipe(Layer.provide(Reactivity.layer))
