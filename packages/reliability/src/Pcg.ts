/**
 * A small seeded generator (PCG-XSH-RR, 64-bit state, 32-bit output) for the suite's reproducible random
 * choices: fault plans, batch contents, kill delays. Effect 4 has no public seeded generator class (its
 * `Random.withSeed` is a service, not a value a plain callback can draw from), so the suite keeps its own.
 *
 * @since 0.1.0
 */

const MULTIPLIER = 6364136223846793005n
const MASK64 = (1n << 64n) - 1n
const TWO_POW_27 = 2 ** 27
const TWO_POW_53 = 2 ** 53

/**
 * A seeded generator: the same seed gives the same sequence.
 *
 * @since 0.1.0
 * @category models
 */
export class Pcg {
  private state = 0n
  private readonly increment: bigint

  /**
   * @param seed - any number; its integer part (taken modulo 2^32) is the seed.
   * @param stream - selects one of 2^63 independent sequences (default 0x5851f42d).
   */
  constructor(seed: number, stream = 0x5851f42d) {
    this.increment = ((BigInt(stream >>> 0) << 1n) | 1n) & MASK64
    this.step()
    this.state = (this.state + BigInt(Math.trunc(seed) >>> 0)) & MASK64
    this.step()
  }

  private step(): void {
    this.state = (this.state * MULTIPLIER + this.increment) & MASK64
  }

  /** A uniform 32-bit unsigned integer. */
  next32(): number {
    const old = this.state
    this.step()
    const xorshifted = Number((((old >> 18n) ^ old) >> 27n) & 0xffffffffn)
    const rotation = Number(old >> 59n)
    return ((xorshifted >>> rotation) | (xorshifted << ((32 - rotation) & 31))) >>> 0
  }

  /** A uniform number in [0, 1) with 53 random bits. */
  number(): number {
    const hi = this.next32() >>> 6
    const lo = this.next32() >>> 5
    return (hi * TWO_POW_27 + lo) / TWO_POW_53
  }

  /** A uniform integer in [0, max) for 1 <= max <= 2^32 (without bias). */
  integer(max: number): number {
    const bound = Math.floor(max)
    if (!(bound >= 1 && bound <= 2 ** 32)) throw new RangeError(`Pcg.integer: max must be within [1, 2^32], got ${max}`)
    const limit = 2 ** 32 - (2 ** 32 % bound)
    let value = this.next32()
    while (value >= limit) value = this.next32()
    return value % bound
  }
}

/**
 * A generator seeded with `seed`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (seed: number): Pcg => new Pcg(seed)
