/**
 * A small bounded map that forgets the least recently used key. Synchronous and unsynchronized: callers use
 * it from inside `Effect.sync` (fibers never run JavaScript in parallel). Capacity 0 disables it.
 *
 * @internal
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>()
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      // Map iteration order is insertion order: re-insert to mark the key as most recently used.
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next()
      if (!oldest.done) this.map.delete(oldest.value)
    }
  }

  delete(key: K): void {
    this.map.delete(key)
  }

  get size(): number {
    return this.map.size
  }
}
