/**
 * @module test/consensus/sim/random
 * The simulator's seeded random source (splitmix32-style mixing over a 32-bit counter). One instance per
 * run, created from the seed, decides every option and every fault, so a seed replays exactly.
 */
import { assert } from '../../../src/util/assert.js'

export class SimRandom {
  private state: number

  constructor (seed: number) {
    assert(Number.isInteger(seed), 'seed must be an integer')
    this.state = seed >>> 0
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32 (): number {
    this.state = (this.state + 0x9e3779b9) >>> 0
    let z = this.state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }

  /** A uniform integer in [0, maxExclusive). */
  nextInt (maxExclusive: number): number {
    assert(maxExclusive > 0, () => `nextInt bound must be positive, got ${maxExclusive}`)
    return this.nextUint32() % maxExclusive
  }

  /** A uniform integer in [min, max]. */
  between (min: number, max: number): number {
    assert(max >= min, 'between: max < min')
    return min + this.nextInt(max - min + 1)
  }

  /** True with probability `p`. */
  chance (p: number): boolean {
    return this.nextUint32() / 4294967296 < p
  }

  pick<T> (items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list')
    return items[this.nextInt(items.length)] as T
  }

  shuffle<T> (items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1)
      const tmp = out[i] as T
      out[i] = out[j] as T
      out[j] = tmp
    }
    return out
  }

  /** A new independent source (for the Raft nodes' own randomness), derived deterministically. */
  fork (): SimRandom {
    return new SimRandom(this.nextUint32())
  }
}
