/**
 * @module net/xsalsa20
 * The XSalsa20 keystream of the cluster's pnet layer (src/net/pnet.ts): every byte of every connection is
 * XORed with it once each way, so its speed is a floor under content transfers (docs/bench/content.md).
 *
 * Two implementations, the same keystream:
 * - `native`: libsodium through `sodium-native` (prebuilt binary inside the npm package, no install script):
 *   its streaming XSalsa20 keeps the position inside a 64-byte block between calls. About 3–5× the WASM
 *   cipher's speed on this machine (docs/bench/content.md) and no shared memory to grow.
 * - `wasm`: the `xsalsa20` package, the fallback where the prebuilt binary does not load (a platform the
 *   package has no prebuild for, e.g. musl): at most XOR_CHUNK_BYTES per call, so its shared WASM memory never
 *   grows (why: src/net/pnet.ts).
 * test/net/xsalsa20.test.ts compares both on random lengths and offsets, in place and not.
 */
import { createRequire } from 'node:module'
import { loadSodium } from '../util/sodium.js'

/** One XSalsa20 keystream: XORs `input` into `output` (the same length; the same buffer is allowed). */
export interface XorCipher {
  update: (input: Uint8Array, output: Uint8Array) => void
  /** Wipes the key and position (and returns the WASM slot); the cipher must not be used after. */
  finalize: () => void
}

/** Which implementation a cipher uses. */
export type XSalsa20Implementation = 'native' | 'wasm'

/** Bytes of an XSalsa20 nonce and key. */
export const XSALSA20_NONCE_BYTES = 24
export const XSALSA20_KEY_BYTES = 32
/** Most bytes handed to one WASM cipher call: far below its initial WASM memory, so it never grows. */
export const XOR_CHUNK_BYTES = 32 * 1024

/** The few `sodium-native` functions used (its streaming XSalsa20 state, see the module comment). */
interface SodiumStream {
  crypto_stream_xor_STATEBYTES: number
  crypto_stream_xor_init: (state: Uint8Array, nonce: Uint8Array, key: Uint8Array) => void
  crypto_stream_xor_update: (state: Uint8Array, output: Uint8Array, input: Uint8Array) => void
  crypto_stream_xor_final: (state: Uint8Array) => void
}

type WasmFactory = (nonce: Uint8Array, key: Uint8Array) => { update: (input: Uint8Array, output: Uint8Array) => Uint8Array, finalize: () => void }

const require = createRequire(import.meta.url)

const loaded = loadSodium<SodiumStream>(['crypto_stream_xor_init', 'crypto_stream_xor_update', 'crypto_stream_xor_final'])
/** libsodium's streaming XSalsa20 when `sodium-native` loads here, else null (the WASM fallback). */
const sodium = loaded !== null && typeof loaded.crypto_stream_xor_STATEBYTES === 'number' ? loaded : null
let wasmFactory: WasmFactory | undefined

/** The implementation `createXSalsa20` uses by default in this process. */
export const DEFAULT_XSALSA20: XSalsa20Implementation = sodium !== null ? 'native' : 'wasm'

function checkSizes (nonce: Uint8Array, key: Uint8Array): void {
  if (nonce.byteLength !== XSALSA20_NONCE_BYTES) throw new RangeError(`an XSalsa20 nonce has ${XSALSA20_NONCE_BYTES} bytes, not ${nonce.byteLength}`)
  if (key.byteLength !== XSALSA20_KEY_BYTES) throw new RangeError(`an XSalsa20 key has ${XSALSA20_KEY_BYTES} bytes, not ${key.byteLength}`)
}

function nativeCipher (lib: SodiumStream, nonce: Uint8Array, key: Uint8Array): XorCipher {
  const state = new Uint8Array(lib.crypto_stream_xor_STATEBYTES)
  lib.crypto_stream_xor_init(state, nonce, key)
  let live = true
  return {
    update (input, output) {
      // The binding only asserts (in C) that the lengths match: check here, where it is a catchable error.
      if (input.byteLength !== output.byteLength) throw new RangeError('XSalsa20 input and output differ in length')
      if (!live) throw new Error('XSalsa20 cipher used after finalize')
      lib.crypto_stream_xor_update(state, output, input)
    },
    finalize () {
      if (!live) return
      live = false
      lib.crypto_stream_xor_final(state)
    }
  }
}

function wasmCipher (nonce: Uint8Array, key: Uint8Array): XorCipher {
  wasmFactory ??= require('xsalsa20') as WasmFactory
  const cipher = wasmFactory(nonce, key)
  let live = true
  return {
    update (input, output) {
      if (input.byteLength !== output.byteLength) throw new RangeError('XSalsa20 input and output differ in length')
      if (!live) throw new Error('XSalsa20 cipher used after finalize')
      for (let start = 0; start < input.byteLength; start += XOR_CHUNK_BYTES) {
        const end = Math.min(input.byteLength, start + XOR_CHUNK_BYTES)
        cipher.update(input.subarray(start, end), output.subarray(start, end))
      }
    },
    finalize () {
      if (!live) return
      live = false
      cipher.finalize()
    }
  }
}

/**
 * A new XSalsa20 keystream of (nonce, key), from position 0.
 * @throws RangeError on a nonce or key of the wrong size; Error when `implementation` is 'native' and
 *   `sodium-native` does not load here
 */
export function createXSalsa20 (nonce: Uint8Array, key: Uint8Array, implementation: XSalsa20Implementation = DEFAULT_XSALSA20): XorCipher {
  checkSizes(nonce, key)
  if (implementation === 'wasm') return wasmCipher(nonce, key)
  if (sodium === null) throw new Error('sodium-native is not available on this platform')
  return nativeCipher(sodium, nonce, key)
}
