/**
 * The known-state cache: the latest state this process saw per aggregate, bounded by the estimated encoded
 * size of the states it holds (and, optionally, by a number of entries). An entry is a hint: the repository
 * uses it only when the stream proves it current (the event at its version has its position).
 *
 * Synchronous and unsynchronized: callers use it from inside `Effect.sync` (fibers never run JavaScript in
 * parallel).
 *
 * @internal
 */
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
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
  /** Estimated encoded size of the state, in bytes (UTF-16 code units of its JSON, roughly). */
  readonly bytes: number
}

/** Bytes counted per entry on top of its state (the key, the entry object, the map slot). @internal */
export const entryOverhead = 128

/** Estimated bytes of one folded event when its encoded size is not known. @internal */
export const eventBytesEstimate = 256

/** @internal */
export class KnownStateCache<S> {
  private readonly map = new Map<string, Known<S>>()
  private total = 0

  /**
   * @param maxBytes the bound on the estimated size of all entries (0 disables the cache)
   * @param maxEntries a bound on the number of entries (Infinity: none)
   */
  constructor(readonly maxBytes: number, readonly maxEntries: number = Number.POSITIVE_INFINITY) {}

  get(id: string): Known<S> | undefined {
    const known = this.map.get(id)
    if (known !== undefined) {
      // Map iteration order is insertion order: re-insert to mark the key as most recently used.
      this.map.delete(id)
      this.map.set(id, known)
    }
    return known
  }

  /** Remember `known`, unless a newer version is already remembered. */
  set(id: string, known: Known<S>): void {
    const current = this.map.get(id)
    if (current !== undefined && current.version > known.version) return
    this.delete(id)
    const size = known.bytes + id.length * 2 + entryOverhead
    if (this.maxEntries <= 0 || size > this.maxBytes) return
    this.map.set(id, known)
    this.total += size
    while (this.total > this.maxBytes || this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next()
      if (oldest.done) break
      this.delete(oldest.value)
    }
  }

  /** Change a remembered entry (it becomes the most recently used; its size is accounted again). */
  modify(id: string, f: (known: Known<S>) => Known<S>): void {
    const known = this.map.get(id)
    if (known === undefined) return
    this.delete(id)
    this.set(id, f(known))
  }

  delete(id: string): void {
    const known = this.map.get(id)
    if (known !== undefined) {
      this.map.delete(id)
      this.total -= known.bytes + id.length * 2 + entryOverhead
    }
  }

  get size(): number {
    return this.map.size
  }

  /** The estimated bytes held. */
  get bytes(): number {
    return this.total
  }
}
