/**
 * `replay1M` in its own process, so its peak RSS is the replay's and not the benchmark's: a full replay of
 * one long stream through `repo.load` (`SqlEventStore.read` pages it; the fold consumes page by page).
 *
 *   parent -> { type: "replay", schema, id, rounds }   child -> { type: "replayed", ... }
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, SqlEventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { PgClient } from "@effect/sql-pg"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { performance } from "node:perf_hooks"
import { Order } from "../Order.js"

export type ReplayRequest = {
  readonly type: "replay"
  readonly url: string
  readonly schema: string
  readonly id: string
  readonly rounds: number
}

export type ReplayResponse =
  | {
    readonly type: "replayed"
    readonly events: number
    readonly itemCount: number
    readonly ms: ReadonlyArray<number>
    /** RSS before the first replay (runtime, modules, connection). */
    readonly startRssMb: number
    /** Peak RSS of the whole process (`process.resourceUsage().maxRSS`). */
    readonly peakRssMb: number
  }
  | { readonly type: "error"; readonly message: string }

const withSearchPath = (url: string, schema: string) => {
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return parsed.toString()
}

const mb = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 10) / 10

const replay = (request: ReplayRequest) =>
  Effect.gen(function*() {
    const repo = yield* EventSourcedRepository.make(Order, { strategy: SnapshotStrategy.never })
    const startRssMb = mb(process.memoryUsage().rss)
    const ms: Array<number> = []
    let events = 0
    let itemCount = 0
    for (let round = 0; round < request.rounds; round++) {
      const t0 = performance.now()
      const loaded = yield* repo.load(request.id)
      ms.push(performance.now() - t0)
      events = loaded.replayed
      itemCount = loaded.state.itemCount
    }
    const response: ReplayResponse = {
      type: "replayed",
      events,
      itemCount,
      ms,
      startRssMb,
      peakRssMb: mb(process.resourceUsage().maxRSS * 1024)
    }
    return response
  }).pipe(
    Effect.scoped,
    Effect.provide(
      Layer.mergeAll(SqlEventStore.layer, SnapshotStore.layerMemory).pipe(
        // PgClient directly (not `Postgres.layer`): this runs only against a real server, and loading the
        // embedded Postgres's module would add ~40 MB to the RSS being measured.
        Layer.provide(
          PgClient.layer({ url: Redacted.make(withSearchPath(request.url, request.schema)), maxConnections: 2 })
        )
      )
    )
  )

if (process.send !== undefined) {
  process.once("message", (request: ReplayRequest) => {
    Effect.runPromise(replay(request)).then(
      (response) => process.send!(response, () => process.disconnect()),
      (error: unknown) => process.send!({ type: "error", message: String(error) }, () => process.disconnect())
    )
  })
}
