/**
 * @module codec/hash
 * The one door to BLAKE3. Every Raft entry, attestation block and content chunk is hashed, so speed
 * matters: `@napi-rs/blake-hash` (a prebuilt native binding shipped inside registry packages, no install
 * script) hashes at ≈4 GB/s here against ≈25 MB/s for @noble/hashes (docs/bench/hash.md). The binding is
 * checked against a known vector at import; a wrong or missing binding fails loudly instead of silently
 * degrading (the `blake3`/`blake3-wasm` packages were measured giving wrong digests).
 */
import { Blake3Hasher, blake3 as nativeBlake3 } from '@napi-rs/blake-hash'
import { assert } from '../util/assert.js'

/** BLAKE3-256 digest length in bytes. */
export const BLAKE3_DIGEST_BYTES = 32

function toUint8Array (buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** One-shot BLAKE3-256 of `bytes`. */
export function blake3 (bytes: Uint8Array): Uint8Array {
  return toUint8Array(nativeBlake3(asBuffer(bytes)))
}

/** An incremental BLAKE3 hasher for streamed data (content chunks, large files). */
export interface StreamingHasher {
  update(chunk: Uint8Array): StreamingHasher
  digest(): Uint8Array
}

export function createBlake3 (): StreamingHasher {
  const hasher = new Blake3Hasher()
  let finished = false
  const api: StreamingHasher = {
    update (chunk) {
      assert(!finished, 'update after digest')
      hasher.update(asBuffer(chunk))
      return api
    },
    digest () {
      assert(!finished, 'digest called twice')
      finished = true
      return toUint8Array(hasher.digestBuffer())
    }
  }
  return api
}

/** BLAKE3 in derive_key mode: a 32-byte key for `context` (a hard-coded, globally unique string). */
export function blake3DeriveKey (context: string, material: Uint8Array): Uint8Array {
  const hasher = Blake3Hasher.newDeriveKey(context)
  hasher.update(asBuffer(material))
  return toUint8Array(hasher.digestBuffer())
}

// Self-check at import: BLAKE3("abc") from the reference implementation.
const ABC_HEX = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85'
if (Buffer.from(blake3(new TextEncoder().encode('abc'))).toString('hex') !== ABC_HEX) {
  throw new Error('BLAKE3 binding gives a wrong digest for "abc": refusing to run with a broken hasher')
}
