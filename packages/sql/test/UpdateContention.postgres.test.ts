/**
 * `update` under contention inside units (issue 22, item 9), on a real PostgreSQL server (PG_URL): 16 writers,
 * each running 25 commands on ONE aggregate, every command `repo.update` inside its own
 * `UnitOfWork.transaction`, with the repository's DEFAULT retry policy. No command may give up with a
 * `ConcurrencyConflict` at that load, and every committed event is in the stream. Skipped without PG_URL.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { SqlEventStore, SqlSnapshotStore, SqlUnitOfWork } from "@effect-snapshots/sql"
import { UnitOfWork } from "@effect-snapshots/store"
import { assert, describe, layer } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Result from "effect/Result"
import { Deposited, Ledger } from "../../loader/test/utils/Ledger.js"
import { freshId } from "../../loader/test/utils/repositorySuite.js"

const writers = 16
const commandsPerWriter = 25

const TestLayer = Layer.mergeAll(SqlEventStore.layer, SqlSnapshotStore.layer, SqlUnitOfWork.layer).pipe(
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error")),
  Layer.provideMerge(Postgres.layerTest("loader_contention_pg", { maxConnections: writers + 4 }))
)

describe.skipIf(!Postgres.hasServer)("update under contention inside units, on PostgreSQL", () => {
  layer(TestLayer, { timeout: 300_000, excludeTestServices: true })((it) => {
    it.effect(`${writers} writers x ${commandsPerWriter} updates of one aggregate, each in a unit: none gives up with the default retry`, () =>
      Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.everyNEvents(50) })
        const id = freshId("hot")
        /** How many times each command's decision ran (1 = no conflict). */
        const attempts: Array<number> = []
        const results = yield* Effect.forEach(
          Array.from({ length: writers }, (_, w) => w),
          (w) =>
            Effect.forEach(
              Array.from({ length: commandsPerWriter }, (_, i) => i),
              (i) => {
                let tries = 0
                return Effect.result(
                  UnitOfWork.transaction(repo.update(id, () =>
                    Effect.sync(() => {
                      tries++
                      return [Deposited.make({ amount: BigDecimal.fromBigInt(1n), note: `w${w}c${i}` })]
                    })))
                ).pipe(Effect.tap(() => Effect.sync(() => attempts.push(tries))))
              }
            ),
          { concurrency: "unbounded" }
        )
        const flat = results.flat()
        const failures = flat.filter(Result.isFailure).map((r) => r.failure)
        const conflicts = failures.filter((e) => e._tag === "ConcurrencyConflict").length
        const histogram = new Map<number, number>()
        for (const n of attempts) histogram.set(n, (histogram.get(n) ?? 0) + 1)
        const shown = JSON.stringify([...histogram].sort(([a], [b]) => a - b))
        const loaded = yield* repo.load(id)
        // Every command that reported success is in the stream, and nothing else is.
        assert.strictEqual(loaded.version, flat.length - failures.length, shown)
        assert.strictEqual(loaded.state.entries, loaded.version)
        assert.deepStrictEqual(
          failures.filter((e) => e._tag !== "ConcurrencyConflict").map((e) => e.message),
          [],
          "only conflicts may fail"
        )
        assert.strictEqual(
          conflicts,
          0,
          `${conflicts} of ${flat.length} commands gave up with ConcurrencyConflict; attempts per command: ${shown}`
        )
        console.log(`attempts per command (attempts, commands): ${shown}`)
      }))
  })
})
