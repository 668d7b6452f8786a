/**
 * What the server and the driver cost per column of a long replay's pages: the 1,000,000-event stream of
 * `replayProbe.ts` (run it first: it seeds) read page by page through `effect/sql` with different column
 * lists, no decoding, alternating, medians.
 *
 *   PG_URL=... tsx examples/src/bench/replayColumnsProbe.ts
 */
import { PgClient } from "@effect/sql-pg"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import * as os from "node:os"
import { performance } from "node:perf_hooks"

const url = new URL(process.env.PG_URL!)
url.searchParams.set("options", "-c search_path=effect_snapshots_replay_probe")
const id = "replay-1000000"
const cols = {
  extract:
    `version, position, type, payload, NULLIF(metadata, '{}'::jsonb) AS metadata, floor(extract(epoch FROM created_at) * 1000)::float8 AS created_at_ms`,
  datePart:
    `version, position, type, payload, NULLIF(metadata, '{}'::jsonb) AS metadata, floor(round(date_part('epoch', created_at) * 1000000) / 1000) AS created_at_ms`,
  raw: `version, position, type, payload, NULLIF(metadata, '{}'::jsonb) AS metadata, created_at`,
  floor: `version, payload`
}
const page = (c: string) =>
  `SELECT ${c} FROM effect_snapshots_events WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 AND version <= $4 ORDER BY version LIMIT $5`
const run = (c: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.gen(function*() {
      let after = 0
      let n = 0
      for (;;) {
        const rows = yield* sql.unsafe(page(c), ["Order", id, after, 2147483647, 2000]).values
        n += rows.length
        if (rows.length < 2000) return n
        after = rows[rows.length - 1]![0] as number
      }
    }))
const program = Effect.gen(function*() {
  const ms: Record<string, Array<number>> = {}
  const names = Object.keys(cols) as Array<keyof typeof cols>
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!
      const t0 = performance.now()
      const n = yield* run(cols[name])
      if (n !== 1000000) throw new Error(String(n))
      if (round > 0) (ms[name] ??= []).push(performance.now() - t0)
    }
  }
  for (const [k, v] of Object.entries(ms)) {
    v.sort((a, b) => a - b)
    console.log(
      `${k.padEnd(10)} median ${v[Math.floor(v.length / 2)]!.toFixed(0)} ms  ${v.map((x) => x.toFixed(0)).join(" ")}`
    )
  }
  console.log("load", os.loadavg())
})
await Effect.runPromise(
  Effect.scoped(Effect.provide(program, PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 1 })))
)
