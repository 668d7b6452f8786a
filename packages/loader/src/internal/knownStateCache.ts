/**
 * The known-state cache: the latest state this process saw per aggregate, bounded by the heap its states
 * hold (and, optionally, by a number of entries). An entry is a hint: the repository uses it only when the
 * stream proves it current (the event at its version has its position).
 *
 * An entry's size is the larger of the state's encoded length, when the repository knows it (the snapshot it
 * was read from or written as), and `estimateBytes` of the state: a sampled walk of its structure priced in
 * V8's heap layout. The walk runs when a state is first remembered and again every `resampleEvery` events;
 * in between an entry grows by the bytes per event the last two samples showed.
 *
 * Synchronous and unsynchronized: callers use it from inside `Effect.sync` (fibers never run JavaScript in
 * parallel).
 *
 * @internal
 */
import type * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"

/** What the repository knows of an aggregate's last snapshot, and how sure it is. @internal */
export interface LastSnapshot {
  readonly version: Option.Option<number>
  readonly at: Option.Option<DateTime.Utc>
  /**
   * `real`: read from the snapshot store by this operation (the load's probe, a list) or written by it;
   * `hint`: remembered from an earlier operation (another process may have written one since).
   */
  readonly source: "real" | "hint"
}

/** What the repository knows about an aggregate after a load or a save. @internal */
export interface Known<S> {
  readonly version: number
  readonly state: S
  /** Global position of the event at `version` (0 for a stream without events). */
  readonly position: number
  /** What is known of the last snapshot; undefined when nothing is (the store could not be asked). */
  readonly lastSnapshot: LastSnapshot | undefined
  /** The last load's replay count and duration, cleared once a snapshot has been written after it. */
  readonly replayed: Option.Option<number>
  readonly duration: Option.Option<Duration.Duration>
  /**
   * The encoded length of exactly this state (the snapshot it was read from or written as), when known; the
   * cache measures the state itself otherwise.
   */
  readonly encodedBytes: number | undefined
  /**
   * Built on a migrated snapshot the migration check skipped: never written as a snapshot as it is (once stored
   * at the current schema version, a wrong migration would not be checked again); the writer loads it checked.
   */
  readonly migrationUnchecked?: true | undefined
}

/** Bytes counted per entry on top of its state (the key, the entry object, the map slot). @internal */
export const entryOverhead = 128

/** An entry's state is sampled again after this many events folded since its last sample. @internal */
export const resampleEvery = 16

/** The gauges the cache keeps current, in the context (metric registry) of the repository that owns it. @internal */
export interface CacheGauges {
  readonly cacheBytes: Metric.Gauge<number>
  readonly cacheEntries: Metric.Gauge<number>
  readonly context: Context.Context<never>
}

/** The last sample of an aggregate's state: the version it was taken at, its estimate and the growth it showed. */
interface Sample {
  readonly version: number
  readonly bytes: number
  readonly perEvent: number
}

interface Entry<S> {
  readonly known: Known<S>
  /** The bytes counted for this entry: its state, its key and `entryOverhead`. */
  readonly size: number
  readonly sample: Sample
}

/** @internal */
export class KnownStateCache<S> {
  private readonly map = new Map<string, Entry<S>>()
  private total = 0

  /**
   * @param maxBytes the bound on the estimated heap of all entries (0 disables the cache)
   * @param maxEntries a bound on the number of entries (Infinity: none)
   * @param gauges updated by the change of every `set` and `delete` (a sum over the caches of one registry)
   */
  constructor(
    readonly maxBytes: number,
    readonly maxEntries: number = Number.POSITIVE_INFINITY,
    private readonly gauges?: CacheGauges
  ) {}

  get(id: string): Known<S> | undefined {
    const entry = this.map.get(id)
    if (entry !== undefined) {
      // Map iteration order is insertion order: re-insert to mark the key as most recently used.
      this.map.delete(id)
      this.map.set(id, entry)
    }
    return entry?.known
  }

  /** Remember `known`, unless a newer version is already remembered. */
  set(id: string, known: Known<S>): void {
    const current = this.map.get(id)
    if (current !== undefined && current.known.version > known.version) return
    this.delete(id)
    if (this.maxEntries <= 0 || this.maxBytes <= 0) return
    const sample = current !== undefined && current.known.state === known.state
      ? current.sample
      : sampleOf(current?.sample, known)
    const stateBytes = Math.max(
      known.encodedBytes ?? 0,
      sample.bytes + Math.max(0, known.version - sample.version) * sample.perEvent
    )
    const size = Math.ceil(stateBytes) + id.length * 2 + entryOverhead
    if (size > this.maxBytes) return
    this.map.set(id, { known, size, sample })
    this.account(size, 1)
    while (this.total > this.maxBytes || this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next()
      if (oldest.done) break
      this.delete(oldest.value)
    }
  }

  /** Change a remembered entry (it becomes the most recently used; its size is accounted again). */
  modify(id: string, f: (known: Known<S>) => Known<S>): void {
    const entry = this.map.get(id)
    if (entry !== undefined) this.set(id, f(entry.known))
  }

  delete(id: string): void {
    const entry = this.map.get(id)
    if (entry !== undefined) {
      this.map.delete(id)
      this.account(-entry.size, -1)
    }
  }

  /** Forget every entry (the repository's scope closed): the gauges go back down by what this cache held. */
  clear(): void {
    for (const id of [...this.map.keys()]) this.delete(id)
  }

  get size(): number {
    return this.map.size
  }

  /** The estimated bytes held. */
  get bytes(): number {
    return this.total
  }

  private account(bytes: number, entries: number): void {
    this.total += bytes
    if (this.gauges !== undefined) {
      this.gauges.cacheBytes.modifyUnsafe(bytes, this.gauges.context)
      this.gauges.cacheEntries.modifyUnsafe(entries, this.gauges.context)
    }
  }
}

/**
 * The sample to size `known` with: the previous one while fewer than `resampleEvery` events were folded since
 * it; otherwise a new estimate, with the growth per event since the previous sample (or the average per event
 * of the whole stream, for a first sample).
 */
const sampleOf = (previous: Sample | undefined, known: Known<unknown>): Sample => {
  if (previous !== undefined && known.version > previous.version && known.version - previous.version < resampleEvery) {
    return previous
  }
  const bytes = estimateBytes(known.state)
  const perEvent = previous !== undefined && known.version > previous.version
    ? Math.max(0, (bytes - previous.bytes) / (known.version - previous.version))
    : known.version > 0
    ? bytes / known.version
    : 0
  return { version: known.version, bytes, perEvent }
}

// -------------------------------------------------------------------------------------------------------------
// estimateBytes
// -------------------------------------------------------------------------------------------------------------

/** Children measured per array, object, Map or Set; the others are counted as their average. */
const samplesPerCollection = 16
/** Values measured per estimate, about: what bounds its cost whatever the size of the state. */
const estimateBudget = 1024
/** Deeper values are not measured (a cycle ends here). */
const maxDepth = 64
/** Plain objects with more keys than this are priced as V8's dictionary-mode objects (key and value each). */
const dictionaryKeys = 128

/** A pointer-sized slot (Node's V8 runs without pointer compression). */
const slot = 8
const objectHeader = 24
const arrayHeader = 48
const heapNumber = 16
const collectionHeader = 64

/**
 * The heap a value holds, estimated by a sampled walk: at most `samplesPerCollection` children of each
 * collection are measured (evenly spaced) and their average counts for all of them. Priced as V8 lays values
 * out on 64-bit Node: an object's header and a slot per property, an array's header and a slot per element,
 * a string's header and one byte per character (two when it holds a character above U+00FF), a heap number
 * for a number that is not a small integer. Values shared with other objects count as the entry's own.
 *
 * Cost: about `estimateBudget` values visited, plus listing the keys of each plain object it measures (a
 * record of 20,000 keys takes milliseconds; an array of any length costs its sampled elements).
 *
 * @internal
 */
export const estimateBytes = (value: unknown): number => measure(value, estimateBudget, 0)

const measure = (value: unknown, budget: number, depth: number): number => {
  switch (typeof value) {
    case "string":
      return stringBytes(value)
    case "number":
      return Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 ? 0 : heapNumber
    case "bigint":
      return heapNumber + slot * Math.ceil(value.toString(16).length / 16)
    case "object":
      return value === null || depth >= maxDepth ? 0 : objectBytes(value, budget, depth + 1)
    default:
      // booleans, undefined and symbols live in their slot; functions are shared code.
      return 0
  }
}

const objectBytes = (value: object, budget: number, depth: number): number => {
  if (Array.isArray(value)) {
    const items: ReadonlyArray<unknown> = value
    return arrayHeader + slot * items.length + sampled(items.length, budget, (i, b) => measure(items[i], b, depth))
  }
  if (value instanceof Map) {
    const map: ReadonlyMap<unknown, unknown> = value
    return collectionHeader + 4 * slot * map.size +
      sampledIterable(map.size, map, budget, ([key, item], b) => measure(key, b, depth) + measure(item, b, depth))
  }
  if (value instanceof Set) {
    const set: ReadonlySet<unknown> = value
    return collectionHeader + 3 * slot * set.size +
      sampledIterable(set.size, set, budget, (item, b) => measure(item, b, depth))
  }
  if (ArrayBuffer.isView(value)) return collectionHeader + value.byteLength
  if (value instanceof ArrayBuffer) return collectionHeader + value.byteLength
  if (value instanceof Date) return collectionHeader
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  const dictionary = keys.length > dictionaryKeys
  return objectHeader + (dictionary ? 3 : 1) * slot * keys.length +
    sampled(keys.length, budget, (i, b) => {
      const key = keys[i]!
      return measure(record[key], b, depth) + (dictionary ? stringBytes(key) : 0)
    })
}

/** The children `sampled` measures of `n`: at most `samplesPerCollection`, evenly spaced, and the budget of each. */
const sampling = (n: number, budget: number) => {
  const k = Math.min(n, samplesPerCollection, Math.max(1, budget))
  return {
    k,
    share: Math.max(1, Math.floor((budget - k) / k)),
    at: (j: number) => Math.floor(((2 * j + 1) * n) / (2 * k))
  }
}

/** The sum of `measure` over `n` children, from at most `samplesPerCollection` of them, sharing `budget`. */
const sampled = (n: number, budget: number, measureAt: (index: number, budget: number) => number): number => {
  if (n === 0) return 0
  const { at, k, share } = sampling(n, budget)
  let sum = 0
  for (let j = 0; j < k; j++) sum += measureAt(at(j), share)
  return (sum * n) / k
}

/** `sampled` over a Map's or a Set's iteration (it walks up to the last sampled child, without copying). */
const sampledIterable = <A>(
  n: number,
  items: Iterable<A>,
  budget: number,
  measureItem: (item: A, budget: number) => number
): number => {
  if (n === 0) return 0
  const { at, k, share } = sampling(n, budget)
  let sum = 0
  let index = 0
  let j = 0
  for (const item of items) {
    if (index === at(j)) {
      sum += measureItem(item, share)
      if (++j === k) break
    }
    index++
  }
  return (sum * n) / k
}

/** A sequential string: a 16-byte header and its characters, one byte each or two, rounded up to 8 bytes. */
const stringBytes = (s: string): number => {
  const step = Math.max(1, Math.floor(s.length / samplesPerCollection))
  let width = 1
  for (let i = 0; i < s.length && width === 1; i += step) if (s.charCodeAt(i) > 0xff) width = 2
  return 16 + Math.ceil((width * s.length) / 8) * 8
}
