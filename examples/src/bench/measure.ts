/**
 * Side-by-side measurement: every case of a comparison runs in the same loop, alternating (and rotating
 * which goes first each round, so neither always runs on a warmer cache), after a warm-up.
 */
import { performance } from "node:perf_hooks"

export interface Stats {
  readonly samples: number
  readonly medianMs: number
  readonly p99Ms: number
  readonly minMs: number
  readonly meanMs: number
}

export interface MeasureOptions {
  /** Rounds run before timing starts (JIT, connection, plan cache); at least one, whose results are checked. */
  readonly warmup: number
  /** Timed rounds; each round runs every case once. */
  readonly iterations: number
  /** Stop early once this much time was spent in timed rounds (ms); at least `minIterations` still run. */
  readonly budgetMs?: number | undefined
  readonly minIterations?: number | undefined
}

/**
 * A case that timed itself (e.g. in another process, so IPC does not count): its `ms` is the sample, and
 * `value` is what `check` sees.
 */
export class SelfTimed {
  constructor(readonly ms: number, readonly value: unknown) {}
}

const unwrap = (result: unknown): unknown => result instanceof SelfTimed ? result.value : result

const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  // Nearest-rank: the smallest sample at or above the q-th fraction of the samples.
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

export const stats = (samples: ReadonlyArray<number>): Stats => {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    samples: sorted.length,
    medianMs: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    minMs: sorted[0] ?? Number.NaN,
    meanMs: sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length)
  }
}

/**
 * Run every case `warmup + iterations` times, interleaved, and answer each case's timing statistics.
 * A case's result is checked with `check` (when given) after the warm-up, so a benchmark cannot silently
 * time a broken path.
 */
export const compare = async <K extends string>(
  cases: Record<K, () => Promise<unknown>>,
  options: MeasureOptions,
  check?: (name: K, result: unknown) => void
): Promise<Record<K, Stats>> => {
  const names = Object.keys(cases) as Array<K>
  const samples = Object.fromEntries(names.map((name) => [name, [] as Array<number>])) as Record<K, Array<number>>
  // Warm-up: `warmup` rounds, cut short after a quarter of the budget (at least one round); the last
  // round's results are checked.
  const warmupStarted = performance.now()
  for (let round = 0; round < Math.max(1, options.warmup); round++) {
    const last = round === Math.max(1, options.warmup) - 1 ||
      (options.budgetMs !== undefined && performance.now() - warmupStarted > options.budgetMs / 4)
    for (const name of names) {
      const result = await cases[name]()
      if (last) check?.(name, unwrap(result))
    }
    if (last) break
  }
  const started = performance.now()
  const minIterations = options.minIterations ?? Math.min(options.iterations, 5)
  for (let round = 0; round < options.iterations; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!
      const t0 = performance.now()
      const result = await cases[name]()
      const elapsed = performance.now() - t0
      samples[name].push(result instanceof SelfTimed ? result.ms : elapsed)
    }
    if (
      options.budgetMs !== undefined && round + 1 >= minIterations && performance.now() - started > options.budgetMs
    ) break
  }
  return Object.fromEntries(names.map((name) => [name, stats(samples[name])])) as Record<K, Stats>
}

/** Round to a few significant digits for printing and JSON. */
export const round = (x: number, digits = 3): number => {
  if (!Number.isFinite(x) || x === 0) return x
  const magnitude = Math.floor(Math.log10(Math.abs(x)))
  const factor = 10 ** Math.max(0, digits - 1 - magnitude)
  return Math.round(x * factor) / factor
}
