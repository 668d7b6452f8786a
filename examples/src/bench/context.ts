/**
 * What the bench's sections share, built once by `main.ts`: the options, the output, the runtimes and their
 * repositories, the seeding helpers, and the accumulators the summary reads.
 */
import type { SnapshotStrategy } from "@effect-snapshots/core"
import type { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import type { Postgres } from "@effect-snapshots/postgres"
import type { SnapshotStore } from "@effect-snapshots/store"
import type * as Layer from "effect/Layer"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import type * as SqlClient from "effect/sql/SqlClient"
import type * as OrderDomain from "../OrderDomain.js"
import type { MeasureOptions } from "./measure.js"
import type * as Cli from "./options.js"
import type * as Raw from "./raw.js"

export type Repo = EventSourcedRepository.EventSourcedRepository<OrderDomain.OrderState, OrderDomain.OrderEvent>

/** The stores on PostgreSQL (or the embedded PGlite), in the bench's schema. */
export type SqlRuntime = ManagedRuntime.ManagedRuntime<
  EventStore.EventStore | SnapshotStore.SnapshotStore | SqlClient.SqlClient | Postgres.Backend,
  unknown
>

/** The memory layers. */
export type MemoryRuntime = ManagedRuntime.ManagedRuntime<EventStore.EventStore | SnapshotStore.SnapshotStore, never>

export interface LoadPoint {
  readonly events: number
  readonly snapshotEvery: number
  readonly withSnapshotMs: number
  readonly fullReplayMs: number
  readonly withSnapshotP99Ms: number
  readonly fullReplayP99Ms: number
  readonly snapshotVersion: number | null
  readonly replayedWithSnapshot: number
  readonly speedUp: number
  readonly samples: number
}

export interface Skipped {
  readonly part: string
  readonly reason: string
}

/** Seeds a stream whose newest snapshot is `tail` events before its head (once per id on the server). */
export type Seed = (id: string, events: number, tail: number, skus?: number) => Promise<void>

/** What every section may use, the `load` series too (it runs before the bare-`pg` baseline is made). */
export interface Common {
  readonly options: Cli.Options
  readonly log: (line?: string) => void
  readonly section: (title: string) => void
  readonly wants: (part: Cli.Part) => boolean
  readonly measureOptions: MeasureOptions
  /** Throws unless a load returned the state of `events` events (of `skus` distinct items). */
  readonly checkLoaded: (events: number, skus?: number) => (name: string, result: unknown) => void
}

export interface Context extends Common {
  readonly backend: "postgres" | "pglite"
  readonly url: string | undefined
  readonly schema: string
  /** The bare-`pg` baseline; only on a real server (it needs its own connection). */
  readonly raw: Raw.Raw | undefined
  readonly sql: SqlRuntime
  readonly memory: MemoryRuntime
  readonly repoOf: <E, R>(
    runtime: ManagedRuntime.ManagedRuntime<R, E>,
    options: EventSourcedRepository.Options,
    snapshots?: Layer.Layer<SnapshotStore.SnapshotStore, never, never>
  ) => Promise<Repo>
  readonly strategy: SnapshotStrategy.SnapshotStrategy
  /** Cold loads (no cache), and the full-replay side (an empty snapshot store). */
  readonly sqlRepo: Repo
  readonly sqlReplay: Repo
  readonly memRepo: Repo
  readonly memReplay: Repo
  /** Hot loads: the repository's cache holds what it loaded before. */
  readonly sqlHot: Repo
  readonly seedSql: Seed
  readonly seedMemory: Seed
  /** Parts that did not run and why, in the order found. */
  readonly skipped: Array<Skipped>
  /** Our full replay against its bare-`pg` floor: a row from `replay1M`, one from `peer`. */
  readonly replayFloor: Array<Record<string, unknown>>
}
