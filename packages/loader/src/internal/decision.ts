/**
 * The snapshot decision: build the strategy's context and decide, always against the REAL last snapshot.
 * What this process remembers of it is a hint (another process may have written one since): a positive
 * decision that rests on a hint, or on nothing, is taken again after a cheap read of the real last snapshot
 * (`SnapshotStore.list`, no state). Positive decisions are rare, so that read stays off the hot path.
 *
 * @internal
 */
import type { SnapshotStrategy } from "@effect-snapshots/core"
import type { SnapshotStore } from "@effect-snapshots/store"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { LastSnapshot } from "./knownStateCache.js"

/** What a decision is taken on, besides the last snapshot. @internal */
export interface Input {
  readonly id: string
  readonly previousVersion: number
  readonly currentVersion: number
  readonly eventTypes: ReadonlyArray<string>
  readonly now: DateTime.Utc
  readonly replayed: Option.Option<number>
  readonly duration: Option.Option<Duration.Duration>
  /** What is known of the last snapshot; undefined when nothing is. */
  readonly last: LastSnapshot | undefined
}

/** @internal */
export interface Decided {
  readonly decision: SnapshotStrategy.Decision
  /** The last snapshot the decision was taken on (`real` when this decision read it). */
  readonly last: LastSnapshot | undefined
}

/** @internal */
export type Decide = (input: Input) => Effect.Effect<Decided>

/**
 * Whether the strategy can only say yes less often the newer the last snapshot is: true unless a `not` (which
 * inverts) or a `custom` predicate (which may look at anything) is in it. Then a negative decision without
 * knowing the last snapshot ("none") is final, a positive one that holds even for a snapshot taken at this
 * version right now is final too, and the store is read only to confirm the positive ones in between.
 *
 * @internal
 */
export const isMonotone = (strategy: SnapshotStrategy.SnapshotStrategy): boolean => {
  switch (strategy._tag) {
    case "Not":
    case "Custom":
      return false
    case "Any":
    case "All":
      return strategy.strategies.every(isMonotone)
    case "PerAggregateType":
      return Object.values(strategy.strategies).every(isMonotone) && isMonotone(strategy.fallback)
    default:
      return true
  }
}

/**
 * Whether the strategy can look at the time of the decision (`afterDuration`, or a `custom` predicate, which may
 * look at anything). A strategy that cannot is decided without reading the clock.
 *
 * @internal
 */
export const readsClock = (strategy: SnapshotStrategy.SnapshotStrategy): boolean => {
  switch (strategy._tag) {
    case "AfterDuration":
    case "Custom":
      return true
    case "Not":
      return readsClock(strategy.strategy)
    case "Any":
    case "All":
      return strategy.strategies.some(readsClock)
    case "PerAggregateType":
      return Object.values(strategy.strategies).some(readsClock) || readsClock(strategy.fallback)
    default:
      return false
  }
}

/** The real last snapshot from the store's history (no state read); undefined when the store failed. @internal */
export const readLast = (
  snapshots: SnapshotStore.SnapshotStoreService,
  type: string
) =>
(id: string): Effect.Effect<LastSnapshot | undefined> =>
  Effect.match(snapshots.list(type, id), {
    onFailure: () => undefined,
    onSuccess: (history): LastSnapshot => {
      const newest = history[history.length - 1]
      return newest === undefined
        ? { version: Option.none(), at: Option.none(), source: "real" }
        : { version: Option.some(newest.version), at: Option.some(newest.createdAt), source: "real" }
    }
  })

const none: Option.Option<never> = Option.none()

const justTaken = (input: Input): LastSnapshot => ({
  version: Option.some(input.currentVersion),
  at: Option.some(input.now),
  source: "hint"
})

/** @internal */
export const make = (options: {
  readonly type: string
  readonly decider: SnapshotStrategy.Decider
  readonly monotone: boolean
  readonly readLast: (id: string) => Effect.Effect<LastSnapshot | undefined>
}): Decide => {
  const { decider, monotone, type } = options
  const decideOn = (input: Input, last: LastSnapshot | undefined) =>
    decider({
      aggregateType: type,
      aggregateId: input.id,
      previousVersion: input.previousVersion,
      currentVersion: input.currentVersion,
      eventTypes: input.eventTypes,
      lastSnapshotVersion: last === undefined ? none : last.version,
      lastSnapshotAt: last === undefined ? none : last.at,
      now: input.now,
      replayedEvents: input.replayed,
      replayDuration: input.duration
    })
  const confirm = (input: Input): Effect.Effect<Decided> =>
    Effect.map(options.readLast(input.id), (real) =>
      real === undefined
        // The store cannot tell: decide on what is known (the write will most likely fail too, and say so).
        ? { decision: decideOn(input, input.last), last: input.last }
        : { decision: decideOn(input, real), last: real })
  return (input) => {
    if (input.last?.source === "real") {
      return Effect.succeed({ decision: decideOn(input, input.last), last: input.last })
    }
    if (input.last === undefined && !monotone) return confirm(input)
    const first = decideOn(input, input.last)
    if (!first.take) return Effect.succeed({ decision: first, last: input.last })
    // A monotone strategy that says yes even if a snapshot had just been taken (at this version, now) says yes
    // whatever the real last snapshot is (never above the stream; one stamped in the future makes
    // `afterDuration` more due, not less): no read needed.
    if (monotone && decideOn(input, justTaken(input)).take) return Effect.succeed({ decision: first, last: input.last })
    return confirm(input)
  }
}
