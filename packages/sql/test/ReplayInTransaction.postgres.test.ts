/**
 * A load that fails part-way through a long replay, inside the application's transaction (PG_URL; skipped
 * without it). The application catches the load's error and goes on: its transaction must still be usable and
 * commit. A replay reads the next page while it folds this one; if the fold fails, that read is still on the
 * server, and interrupting it has the driver cancel the statement, which aborts the whole transaction.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as SqlClient from "effect/sql/SqlClient"
import { Ledger } from "../../loader/test/utils/Ledger.js"
import { deposits, freshId } from "../../loader/test/utils/repositorySuite.js"

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(
  Layer.provideMerge(Postgres.layerTest("sql_replay_in_tx", { maxConnections: 4 })),
  Layer.merge(Layer.succeed(References.MinimumLogLevel, "Error"))
)

/** Events, pages of 1,000 on the SQL store after a first read of 2,000: the fold fails on the third read. */
const streamLength = 5_000
const brokenVersion = 3_002
/** A note this long makes each page megabytes, so the read that is in flight when the fold fails takes a while. */
const noteLength = 20_000

describe.skipIf(!Postgres.hasServer)("a failing replay inside the application's transaction", () => {
  layer(TestLayer, { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("the load's error leaves the transaction usable: the application's own write commits", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.never })
        const id = freshId("replay-tx")
        yield* repo.save(id, 0, deposits(1))
        // The rest of the stream: copies of the first event with a long note, one of them undecodable.
        yield* sql.unsafe(
          `INSERT INTO effect_snapshots_events (aggregate_type, aggregate_id, version, type, payload, metadata, order_xid)
           SELECT e.aggregate_type, e.aggregate_id, v, e.type,
                  CASE WHEN v = $2 THEN '{"_tag":"Deposited"}'::jsonb
                       ELSE jsonb_set(e.payload, '{note}', to_jsonb(repeat('x', $3))) END,
                  e.metadata, pg_current_xact_id()
           FROM effect_snapshots_events e, generate_series(2, $4) v
           WHERE e.aggregate_type = 'Ledger' AND e.aggregate_id = $1 AND e.version = 1`,
          [id, brokenVersion, noteLength, streamLength]
        )
        yield* sql`CREATE TABLE IF NOT EXISTS replay_tx_marks (id text PRIMARY KEY)`

        const failed = yield* sql.withTransaction(
          Effect.gen(function*() {
            const failure = yield* Effect.flip(repo.load(id))
            yield* sql`INSERT INTO replay_tx_marks (id) VALUES (${id})`
            return failure
          })
        )
        assert.strictEqual(failed._tag, "EventDecodeError")
        const marks = yield* sql<
          { readonly n: number }
        >`SELECT count(*)::int AS n FROM replay_tx_marks WHERE id = ${id}`
        assert.strictEqual(marks[0]!.n, 1)
      }))
  })
})
