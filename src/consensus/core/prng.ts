/**
 * @module consensus/core/prng
 * A small seeded PRNG (splitmix32 seeding a xoshiro128** state) so that election timeouts are
 * reproducible from a seed (STYLE §6). Not cryptographic: it only spreads election timeouts.
 */
import { assert } from '../../util/assert.js'

/** The injected randomness source of the core. */
export interface Prng {
  /** Returns an integer uniformly in [0, maxExclusive). */
  nextInt(maxExclusive: number): number
}

function splitmix32 (state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0
  let z = state.s
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/**
 * Creates a deterministic PRNG from a 32-bit seed.
 * @example const prng = createPrng(42); prng.nextInt(10)
 */
export function createPrng (seed: number): Prng {
  assert(Number.isInteger(seed), () => `seed must be an integer, got ${seed}`)
  const init = { s: seed | 0 }
  const s = [splitmix32(init), splitmix32(init), splitmix32(init), splitmix32(init)]
  const next = (): number => {
    const s0 = s[0] ?? 0; const s1 = s[1] ?? 0; const s2 = s[2] ?? 0; const s3 = s[3] ?? 0
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    const n2 = s2 ^ s0; const n3 = s3 ^ s1
    s[1] = s1 ^ n2; s[0] = s0 ^ n3; s[2] = n2 ^ t; s[3] = rotl(n3, 11)
    return result
  }
  return {
    nextInt (maxExclusive: number): number {
      assert(Number.isInteger(maxExclusive) && maxExclusive > 0, () => `bad bound ${maxExclusive}`)
      // NB: modulo bias is irrelevant for election timeouts (bounds are tiny next to 2^32).
      return next() % maxExclusive
    }
  }
}

function rotl (x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}
