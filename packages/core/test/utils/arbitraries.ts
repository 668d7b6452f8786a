import { SnapshotStrategy as S } from "@effect-snapshots/core"
import { it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as fc from "fast-check"

// Effect 4 has its own Schema-derived `Arbitrary` (what `it.prop` takes) and no fast-check re-export. These
// hand-built generators (recursive trees with `letrec`, small ranges matched to the contexts) use fast-check,
// run by `prop` below.

/**
 * A property test over fast-check arbitraries, called like Effect 3's `it.prop(name, [arbs], ([a, b]) => ...)`.
 */
export const prop = <const Ts extends ReadonlyArray<unknown>>(
  name: string,
  arbitraries: { readonly [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (values: Ts) => void,
  options?: { readonly fastCheck?: fc.Parameters<[Ts]> }
): void => {
  it(name, () => {
    fc.assert(
      fc.property(fc.tuple(...(arbitraries as unknown as Array<fc.Arbitrary<unknown>>)), (values) => {
        predicate(values as unknown as Ts)
      }),
      options?.fastCheck as fc.Parameters<[Array<unknown>]> | undefined
    )
  })
}

export const EVENT_TYPES = ["Created", "ItemAdded", "Submitted", "Cancelled"] as const
export const AGGREGATE_TYPES = ["Order", "Invoice", "Cart"] as const
export const CUSTOM_NAMES = ["even", "isOrder", "bigBatch"] as const

/** The registry behind `custom(name)` in generated strategies: pure functions of the context. */
export const predicates: S.CustomPredicates = {
  even: (c) => c.currentVersion % 2 === 0,
  isOrder: (c) => c.aggregateType === "Order",
  bigBatch: (c) => c.currentVersion - c.previousVersion >= 10
}

export const NOW_MILLIS = Date.UTC(2025, 0, 1, 12)

export interface ContextInput {
  readonly aggregateType?: string
  readonly previousVersion?: number
  readonly currentVersion?: number
  readonly eventTypes?: ReadonlyArray<string>
  readonly lastSnapshotVersion?: number
  readonly lastSnapshotMillisAgo?: number
  readonly replayedEvents?: number
  readonly replayDuration?: Duration.Duration
}

/** A decision context; absent optional inputs are `Option.none()`. */
export const context = (input: ContextInput = {}): S.DecisionContext => ({
  aggregateType: input.aggregateType ?? "Order",
  aggregateId: "order-1",
  previousVersion: input.previousVersion ?? 0,
  currentVersion: input.currentVersion ?? 1,
  eventTypes: input.eventTypes ?? ["Created"],
  lastSnapshotVersion: Option.fromUndefinedOr(input.lastSnapshotVersion),
  lastSnapshotAt: Option.map(
    Option.fromUndefinedOr(input.lastSnapshotMillisAgo),
    (ago) => DateTime.makeUnsafe(NOW_MILLIS - ago)
  ),
  now: DateTime.makeUnsafe(NOW_MILLIS),
  replayedEvents: Option.fromUndefinedOr(input.replayedEvents),
  replayDuration: Option.fromUndefinedOr(input.replayDuration)
})

const optional = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> => fc.option(arb, { nil: undefined })

/** Contexts in the small ranges the generated strategies use, so that leaves fire about half the time. */
export const contextArb: fc.Arbitrary<S.DecisionContext> = fc
  .record({
    aggregateType: fc.constantFrom(...AGGREGATE_TYPES, "Other"),
    previousVersion: fc.integer({ min: 0, max: 200 }),
    batch: fc.integer({ min: 1, max: 30 }),
    eventTypes: fc.array(fc.constantFrom(...EVENT_TYPES, "Renamed"), { minLength: 1, maxLength: 4 }),
    snapshotBehind: optional(fc.integer({ min: 0, max: 60 })),
    lastSnapshotMillisAgo: optional(fc.integer({ min: 0, max: 3 * 3_600_000 })),
    replayedEvents: optional(fc.integer({ min: 0, max: 40 })),
    replayDuration: optional(fc.integer({ min: 0, max: 150 }).map(Duration.millis))
  })
  .map((r) =>
    context({
      aggregateType: r.aggregateType,
      previousVersion: r.previousVersion,
      currentVersion: r.previousVersion + r.batch,
      eventTypes: r.eventTypes,
      ...(r.snapshotBehind === undefined ?
        {} :
        { lastSnapshotVersion: Math.max(0, r.previousVersion - r.snapshotBehind) }),
      ...(r.lastSnapshotMillisAgo === undefined ? {} : { lastSnapshotMillisAgo: r.lastSnapshotMillisAgo }),
      ...(r.replayedEvents === undefined ? {} : { replayedEvents: r.replayedEvents }),
      ...(r.replayDuration === undefined ? {} : { replayDuration: r.replayDuration })
    })
  )

/** Leaves with small parameters, matched to `contextArb`. */
export const leafArb: fc.Arbitrary<S.SnapshotStrategy> = fc.oneof(
  fc.integer({ min: 1, max: 20 }).map(S.everyNEvents),
  fc.integer({ min: 1, max: 40 }).map(S.eventsSinceSnapshot),
  fc.integer({ min: 0, max: 180 }).map((minutes) => S.afterDuration(Duration.minutes(minutes))),
  fc.uniqueArray(fc.constantFrom(...EVENT_TYPES), { minLength: 1 }).map((types) => S.onEventTypes(...types)),
  fc.integer({ min: 1, max: 40 }).map(S.replayedAtLeast),
  fc.integer({ min: 0, max: 150 }).map((millis) => S.loadTimeAtLeast(Duration.millis(millis))),
  fc.constant(S.never),
  fc.constant(S.always),
  fc.constantFrom(...CUSTOM_NAMES).map(S.custom)
)

type Tree = {
  readonly strategy: S.SnapshotStrategy
  readonly any: S.SnapshotStrategy
  readonly all: S.SnapshotStrategy
  readonly not: S.SnapshotStrategy
  readonly perAggregateType: S.SnapshotStrategy
}

/** Random strategy trees over `leaf`, `not` included or not. */
export const treeArb = (
  leaf: fc.Arbitrary<S.SnapshotStrategy>,
  options: { readonly withNot: boolean; readonly typeArb?: fc.Arbitrary<string> }
): fc.Arbitrary<S.SnapshotStrategy> =>
  fc.letrec<Tree>((tie) => ({
    strategy: fc.oneof(
      { maxDepth: 4, depthIdentifier: "strategy" },
      leaf,
      tie("any"),
      tie("all"),
      ...(options.withNot ? [tie("not")] : []),
      tie("perAggregateType")
    ),
    any: fc.array(tie("strategy"), { minLength: 1, maxLength: 4 }).map((xs) => S.any(...xs)),
    all: fc.array(tie("strategy"), { minLength: 1, maxLength: 4 }).map((xs) => S.all(...xs)),
    not: tie("strategy").map(S.not),
    perAggregateType: fc
      .tuple(
        fc.dictionary(options.typeArb ?? fc.constantFrom(...AGGREGATE_TYPES), tie("strategy"), {
          maxKeys: 3,
          noNullPrototype: true
        }),
        tie("strategy")
      )
      .map(([strategies, fallback]) => S.perAggregateType(strategies, fallback))
  })).strategy

export const strategyArb = treeArb(leafArb, { withNot: true })

/** Finite durations of every representation: whole millis, sub-millisecond (nanos), huge, zero. */
export const durationArb: fc.Arbitrary<Duration.Duration> = fc.oneof(
  fc.constantFrom(0, 1, 1_000, 60_000, 90_000, 3_600_000, 86_400_000, 604_800_000).map(Duration.millis),
  fc.nat({ max: 30 * 86_400_000 }).map(Duration.millis),
  fc.maxSafeNat().map(Duration.millis),
  fc.double({ min: 0, max: 1e300, noNaN: true }).map(Duration.millis),
  fc.double({ min: 0, max: 1e6, noNaN: true }).map(Duration.millis),
  fc.bigInt({ min: 0n, max: 2n ** 90n }).map(Duration.nanos),
  fc.bigInt({ min: 0n, max: 10n ** 12n }).map((micros) => Duration.nanos(micros * 1_000n)),
  fc.bigInt({ min: 0n, max: 10n ** 15n }).map((millis) => Duration.nanos(millis * 1_000_000n))
)

const nameArb = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim().length > 0 && s !== "__proto__")

/** Leaves with arbitrary parameters, for round trips. */
export const wideLeafArb: fc.Arbitrary<S.SnapshotStrategy> = fc.oneof(
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map(S.everyNEvents),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map(S.eventsSinceSnapshot),
  durationArb.map(S.afterDuration),
  fc.array(nameArb, { minLength: 1, maxLength: 4 }).map((types) => S.onEventTypes(...types)),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map(S.replayedAtLeast),
  durationArb.map(S.loadTimeAtLeast),
  fc.constant(S.never),
  fc.constant(S.always),
  nameArb.map(S.custom)
)

export const wideStrategyArb = treeArb(wideLeafArb, { withNot: true, typeArb: nameArb })
