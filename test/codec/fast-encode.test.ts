/**
 * encodeCanonicalFast must give exactly encodeCanonical's bytes on every value of its domain (and fall back
 * for the rest). Seeded property test; fast-check prints the seed and counterexample on failure.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encodeCanonical, encodeCanonicalFast, cidOfValue } from '../../src/codec/index.js'

const SEED = Number(process.env.FAST_ENCODE_SEED ?? 424242)
const key = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('v', 'kind', 'prev', 'sig', 'height', 'voters', 'outcome', 'é', 'aa', 'b'))
const leaf = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.maxSafeNat(), fc.integer({ min: 0, max: 300 }),
  fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 300 }), fc.double({ noNaN: true, noDefaultInfinity: true })
)
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(key, tie('node'), { maxKeys: 6 }))
})).node

describe('encodeCanonicalFast', () => {
  it('should produce the bytes of encodeCanonical for any value', () => {
    fc.assert(fc.property(value, (v) => {
      expect(Buffer.from(encodeCanonicalFast(v)).toString('hex')).toBe(Buffer.from(encodeCanonical(v)).toString('hex'))
    }), { seed: SEED, numRuns: 1000 })
  })

  it('should fall back for values outside its domain (CIDs) and reject undefined like encodeCanonical', () => {
    const cid = cidOfValue({ a: 1 })
    expect(encodeCanonicalFast({ link: cid })).toEqual(encodeCanonical({ link: cid }))
    expect(() => encodeCanonicalFast({ a: undefined })).toThrow(expect.objectContaining({ name: 'MalformedEncodingError' }))
  })
})
