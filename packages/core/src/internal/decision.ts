/**
 * @internal
 * Strategies compiled into pure decision functions.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { CustomPredicates, Decider, Decision, DecisionContext, SnapshotStrategy } from "../SnapshotStrategy.js"
import { UnknownCustomStrategy } from "../SnapshotStrategyError.js"
import { format } from "./strategy.js"

/** The reasons when the strategy holds, `undefined` when it does not. */
type Node = (context: DecisionContext) => ReadonlyArray<string> | undefined

const NOT_TAKEN: Decision = Object.freeze({ take: false, reasons: Object.freeze([]) })

const holds = (self: SnapshotStrategy): ReadonlyArray<string> => Object.freeze([format(self)])

/** `a` followed by the entries of `b` not already in it; allocates only when something is added. */
const merge = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): ReadonlyArray<string> => {
  let out: Array<string> | undefined
  for (let i = 0; i < b.length; i++) {
    const reason = b[i]!
    if (!(out ?? a).includes(reason)) {
      out ??= a.slice()
      out.push(reason)
    }
  }
  return out ?? a
}

const compileNode = (self: SnapshotStrategy, predicates: CustomPredicates): Node => {
  switch (self._tag) {
    case "EveryNEvents": {
      const n = self.n
      const reasons = holds(self)
      // The highest multiple of n at or below the new version lies above the old one.
      return (c) => c.currentVersion - (c.currentVersion % n) > c.previousVersion ? reasons : undefined
    }
    case "EventsSinceSnapshot": {
      const n = self.n
      const reasons = holds(self)
      return (c) =>
        c.currentVersion - (Option.isSome(c.lastSnapshotVersion) ? c.lastSnapshotVersion.value : 0) >= n ?
          reasons :
          undefined
    }
    case "AfterDuration": {
      const millis = Duration.toMillis(self.duration)
      const reasons = holds(self)
      // The distance either way: a last snapshot stamped in this instance's future (another instance's clock
      // ran fast, or this one stepped back) counts as that far away, so a skew of at least the duration makes it
      // due at once instead of suppressing snapshots until this clock catches up; a smaller skew delays by at
      // most the skew. After the snapshot this instance then takes, its own stamp is the last one again.
      return (c) =>
        Option.isNone(c.lastSnapshotAt) ||
          Math.abs(c.now.epochMilliseconds - c.lastSnapshotAt.value.epochMilliseconds) >= millis ?
          reasons :
          undefined
    }
    case "OnEventTypes": {
      const types = new Set(self.types)
      const reasons = holds(self)
      return (c) => {
        const batch = c.eventTypes
        for (let i = 0; i < batch.length; i++) {
          if (types.has(batch[i]!)) return reasons
        }
        return undefined
      }
    }
    case "ReplayedAtLeast": {
      const n = self.n
      const reasons = holds(self)
      return (c) => Option.isSome(c.replayedEvents) && c.replayedEvents.value >= n ? reasons : undefined
    }
    case "LoadTimeAtLeast": {
      const duration = self.duration
      const reasons = holds(self)
      return (c) =>
        Option.isSome(c.replayDuration) && Duration.isGreaterThanOrEqualTo(c.replayDuration.value, duration) ?
          reasons :
          undefined
    }
    case "Any":
    case "All": {
      const children = self.strategies.map((s) => compileNode(s, predicates))
      const every = self._tag === "All"
      // Any asks every child, so that the reasons name every condition that held; All stops at the first that
      // does not hold.
      return (c) => {
        let reasons: ReadonlyArray<string> | undefined
        for (let i = 0; i < children.length; i++) {
          const r = children[i]!(c)
          if (r !== undefined) reasons = reasons === undefined ? r : merge(reasons, r)
          else if (every) return undefined
        }
        return reasons
      }
    }
    case "Not": {
      const inner = compileNode(self.strategy, predicates)
      const reasons = holds(self)
      return (c) => inner(c) === undefined ? reasons : undefined
    }
    case "Never":
      return () => undefined
    case "Always": {
      const reasons = holds(self)
      return () => reasons
    }
    case "PerAggregateType": {
      const table = new Map(
        Object.entries(self.strategies).map(([type, strategy]) => [type, compileNode(strategy, predicates)] as const)
      )
      const fallback = compileNode(self.fallback, predicates)
      return (c) => (table.get(c.aggregateType) ?? fallback)(c)
    }
    case "Custom": {
      const predicate = predicates[self.name]!
      const reasons = holds(self)
      return (c) => predicate(c) ? reasons : undefined
    }
  }
}

const collectCustomNames = (self: SnapshotStrategy, into: Set<string>): Set<string> => {
  switch (self._tag) {
    case "Custom":
      into.add(self.name)
      break
    case "Any":
    case "All":
      for (const s of self.strategies) collectCustomNames(s, into)
      break
    case "Not":
      collectCustomNames(self.strategy, into)
      break
    case "PerAggregateType":
      for (const s of Object.values(self.strategies)) collectCustomNames(s, into)
      collectCustomNames(self.fallback, into)
      break
  }
  return into
}

/**
 * The custom predicate names a strategy uses, in order of first appearance.
 */
export const customNames = (self: SnapshotStrategy): ReadonlyArray<string> =>
  Array.from(collectCustomNames(self, new Set()))

/**
 * Turns a strategy into a decision function. Every `custom(name)` is checked against `predicates` here,
 * once: an unknown name is an `UnknownCustomStrategy` listing all of them. Compile once (e.g. when a
 * repository is built) and call the decider on every commit: it does no allocation when nothing fires.
 */
export const compile = (
  self: SnapshotStrategy,
  predicates: CustomPredicates = {}
): Result.Result<Decider, UnknownCustomStrategy> => {
  const unknown = customNames(self).filter((name) => !Object.hasOwn(predicates, name))
  if (unknown.length > 0) {
    return Result.fail(new UnknownCustomStrategy({ names: unknown, known: Object.keys(predicates) }))
  }
  const node = compileNode(self, predicates)
  return Result.succeed((context) => {
    const reasons = node(context)
    return reasons === undefined ? NOT_TAKEN : { take: true, reasons }
  })
}

/**
 * Decides one context. For repeated decisions, `compile` once instead.
 */
export const decide = (
  self: SnapshotStrategy,
  context: DecisionContext,
  predicates?: CustomPredicates
): Result.Result<Decision, UnknownCustomStrategy> =>
  Result.map(compile(self, predicates), (decider) => decider(context))

/**
 * Whether to snapshot: `decide(...).take`.
 */
export const shouldSnapshot = (
  self: SnapshotStrategy,
  context: DecisionContext,
  predicates?: CustomPredicates
): Result.Result<boolean, UnknownCustomStrategy> => Result.map(decide(self, context, predicates), (d) => d.take)
