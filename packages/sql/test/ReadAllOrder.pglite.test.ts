/**
 * readAll in order across transaction-id digit boundaries on the embedded PGlite: its transaction ids start
 * near 750, so an ordinary test run crosses 1,000 and 10,000. The ids are moved to just below each boundary
 * by many empty transactions (one DO block that commits in a loop: about 1 s per 20,000 here).
 */
import { Postgres } from "@effect-snapshots/postgres"
import { describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import { readAllAcrossXidBoundary } from "./utils/xidBoundary.js"

/** Commits empty transactions until the next transaction id is `target`. */
const burnTransactionIdsTo = (target: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [{ next }] = yield* sql.unsafe<{ next: string }>(`SELECT pg_current_xact_id()::text AS next`)
    const count = target - Number(next) - 1
    if (count > 0) {
      yield* sql.unsafe(
        `DO $$ BEGIN FOR i IN 1..${count} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`
      )
    }
  })

describe("readAll across transaction-id digit boundaries on PGlite", () => {
  layer(Postgres.layerEmbedded(), { timeout: 120_000, excludeTestServices: true })((it) => {
    for (const boundary of [1_000, 10_000, 100_000]) {
      it.effect(
        `in order and resumable from every position across ${boundary.toLocaleString("en")}`,
        () =>
          Effect.andThen(
            burnTransactionIdsTo(boundary - 8),
            readAllAcrossXidBoundary(boundary, `xid_events_${boundary}`)
          ),
        120_000
      )
    }
  })
})
