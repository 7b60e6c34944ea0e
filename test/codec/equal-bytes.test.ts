import { describe, expect, it } from 'vitest'
import { equalBytes } from '../../src/codec/index.js'

// equalBytes compares through Buffer views of the arrays' own memory: views at an offset inside a larger
// buffer must compare their bytes only, not their neighbours'.
describe('equalBytes', () => {
  it('compares the bytes of views at any offset, and only those', () => {
    const big = Uint8Array.from([9, 1, 2, 3, 9, 1, 2, 4])
    expect(equalBytes(big.subarray(1, 4), Uint8Array.of(1, 2, 3))).toBe(true)
    expect(equalBytes(big.subarray(5, 8), Uint8Array.of(1, 2, 3))).toBe(false)
    expect(equalBytes(big.subarray(1, 3), big.subarray(5, 7))).toBe(true)
    expect(equalBytes(big.subarray(1, 4), big.subarray(1, 3))).toBe(false)
    expect(equalBytes(new Uint8Array(0), big.subarray(4, 4))).toBe(true)
    expect(equalBytes(Buffer.from('abc'), new TextEncoder().encode('abc'))).toBe(true)
  })
})
