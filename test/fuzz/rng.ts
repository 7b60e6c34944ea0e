/**
 * @module test/fuzz/rng
 * The fuzzer's seeded randomness: one 32-bit seed per run drives every choice, so a failing input is
 * reproduced from (target, seed, run index) as well as from its saved bytes. xorshift128+ on 32-bit
 * halves, seeded through splitmix32; not cryptographic.
 */

function splitmix32 (state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0
  let z = state.s
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

export class FuzzRng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    const init = { s: seed | 0 }
    this.a = splitmix32(init); this.b = splitmix32(init); this.c = splitmix32(init); this.d = splitmix32(init) | 1
  }

  /** A uniform 32-bit unsigned integer (xoshiro128**). */
  next (): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d
    this.c ^= t; this.d = rotl(this.d, 11)
    return result
  }

  /** An integer in [0, maxExclusive); maxExclusive ≤ 2^32. */
  int (maxExclusive: number): number {
    return maxExclusive <= 1 ? 0 : this.next() % maxExclusive
  }

  /** True with probability `p`. */
  chance (p: number): boolean {
    return this.next() / 0x1_0000_0000 < p
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  bytes (length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff
    return out
  }

  /** A length skewed towards small values (most bugs need few bytes; some need many). */
  length (max: number): number {
    const roll = this.int(8)
    if (roll < 5) return this.int(Math.min(max, 16) + 1)
    if (roll < 7) return this.int(Math.min(max, 256) + 1)
    return this.int(max + 1)
  }
}

function rotl (x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

/** A seeded stream of uniform floats in [0, 1), for property tests that print their seed on failure. */
export function seededUniform (seed: number): () => number {
  const rng = new FuzzRng(seed)
  return () => rng.next() / 0x1_0000_0000
}
