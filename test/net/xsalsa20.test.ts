/**
 * The pnet keystream (src/net/xsalsa20.ts): the native cipher (libsodium through `sodium-native`) must give
 * exactly the bytes of the WASM one (`xsalsa20`, which `@libp2p/pnet` and our fallback use), whatever the
 * split of the stream into calls: pnet cuts it wherever the socket and the layers above cut their buffers,
 * so a cipher that lost its place inside a 64-byte block would corrupt the connection from there on.
 * Seeded (XSALSA20_TEST_SEED=<n> replays a run); the seed is printed on failure.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createXSalsa20, DEFAULT_XSALSA20, XSALSA20_KEY_BYTES, XSALSA20_NONCE_BYTES } from '../../src/net/xsalsa20.js'
import type { XorCipher } from '../../src/net/xsalsa20.js'
import { FuzzRng } from '../fuzz/rng.js'

const SEED = Number(process.env.XSALSA20_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** Bytes of `rng`, `length` of them (deterministic for the seed). */
function bytesOf (rng: FuzzRng, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = rng.int(256)
  return out
}

/** `input` through `cipher` in pieces of random lengths (0–`maxPiece` bytes), in place or into a new buffer. */
function xorInPieces (cipher: XorCipher, input: Uint8Array, rng: FuzzRng, maxPiece: number, inPlace: boolean): Uint8Array {
  const output = inPlace ? input : new Uint8Array(input.length)
  let offset = 0
  while (offset < input.length) {
    const end = Math.min(input.length, offset + rng.int(maxPiece + 1))
    cipher.update(input.subarray(offset, end), output.subarray(offset, end))
    offset = end
  }
  return output
}

describe('XSalsa20 keystream (pnet)', () => {
  it('should use the native cipher on this platform (the prebuilt binary loads)', () => {
    expect(DEFAULT_XSALSA20).toBe('native')
  })

  it('should give the same bytes natively as the WASM cipher, for random splits, offsets and in-place calls', () => {
    const rng = new FuzzRng(SEED)
    for (let round = 0; round < 40; round++) {
      const nonce = bytesOf(rng, XSALSA20_NONCE_BYTES)
      const key = bytesOf(rng, XSALSA20_KEY_BYTES)
      // Up to 200 KiB: several WASM calls (32 KiB each) and many partial 64-byte blocks on both sides.
      const plain = bytesOf(rng, rng.int(200 * 1024))
      const maxPiece = [1, 63, 65, 1000, 70_000][round % 5] as number
      const native = createXSalsa20(nonce, key, 'native')
      const wasm = createXSalsa20(nonce, key, 'wasm')
      const a = xorInPieces(native, new Uint8Array(plain), rng, maxPiece, round % 2 === 0)
      const b = xorInPieces(wasm, new Uint8Array(plain), rng, 70_000, round % 2 === 1)
      native.finalize(); wasm.finalize()
      const firstDiff = a.findIndex((byte, i) => byte !== b[i])
      expect(firstDiff, `seed ${SEED} round ${round}: first differing byte of ${plain.length}`).toBe(-1)
      if (plain.length > 64) expect(Buffer.from(a).equals(Buffer.from(plain)), `seed ${SEED}: the keystream is not zero`).toBe(false)
    }
  })

  it('should give back the plaintext when XORed again, and another keystream for another nonce', () => {
    const key = randomBytes(XSALSA20_KEY_BYTES)
    const nonce = randomBytes(XSALSA20_NONCE_BYTES)
    const plain = randomBytes(100_000)
    const once = new Uint8Array(plain.length)
    createXSalsa20(nonce, key).update(plain, once)
    const twice = new Uint8Array(plain.length)
    createXSalsa20(nonce, key).update(once, twice)
    expect(Buffer.from(twice).equals(plain)).toBe(true)
    const other = new Uint8Array(plain.length)
    createXSalsa20(randomBytes(XSALSA20_NONCE_BYTES), key).update(plain, other)
    expect(Buffer.from(other).equals(Buffer.from(once))).toBe(false)
  })

  it('should refuse bad sizes and use after finalize with a typed error, not a crash of the binding', () => {
    expect(() => createXSalsa20(new Uint8Array(23), new Uint8Array(32))).toThrow(RangeError)
    expect(() => createXSalsa20(new Uint8Array(24), new Uint8Array(31))).toThrow(RangeError)
    for (const implementation of ['native', 'wasm'] as const) {
      const cipher = createXSalsa20(new Uint8Array(24), new Uint8Array(32), implementation)
      expect(() => { cipher.update(new Uint8Array(10), new Uint8Array(9)) }).toThrow(RangeError)
      cipher.finalize()
      expect(() => { cipher.update(new Uint8Array(10), new Uint8Array(10)) }).toThrow(/after finalize/)
    }
  })
})
