/**
 * @module codec/cbor
 * Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding, in the DAG-CBOR profile) for every
 * value that is hashed or signed. Allowed values: null, booleans, safe integers, finite floats, strings,
 * Uint8Array, arrays and string-keyed plain objects. `undefined` is rejected (an optional field must be
 * omitted, not set to undefined) so that one value has exactly one encoding.
 *
 * Decoding rejects non-canonical input: @ipld/dag-cbor accepts unsorted map keys on decode
 * (../shared/reference/hashing-signing-encoding.md §6), so the general path re-encodes and compares. A
 * one-pass reader (fast-decode.ts) that checks canonical form as it reads answers first; whatever it is
 * unsure of goes to the general path.
 */
import { NonCanonicalEncodingError } from './errors.js'
import { decodeBounded } from './nesting.js'
import { encodeCanonicalFast } from './fast-encode.js'
import { decodeCanonicalFast, NOT_FAST } from './fast-decode.js'

/**
 * Encodes `value` canonically (@ipld/dag-cbor's bytes, written by the fast writer where it can).
 * @throws MalformedEncodingError for values outside the profile (undefined, NaN, class instances…)
 */
export function encodeCanonical (value: unknown): Uint8Array {
  return encodeCanonicalFast(value)
}

/**
 * Decodes canonical bytes. The one-pass reader (fast-decode.ts) returns the value of the bytes it can vouch
 * for; everything else — floats, unusual tags, and every non-canonical or malformed input — takes the
 * general path (`decodeCanonicalGeneral`), so values and errors are the general path's
 * (test/codec/fast-decode.test.ts).
 * @throws MalformedEncodingError when the bytes are not DAG-CBOR
 * @throws NonCanonicalEncodingError when they decode but are not the canonical encoding of the value
 */
export function decodeCanonical<T = unknown> (bytes: Uint8Array): T {
  const fast = decodeCanonicalFast(bytes)
  if (fast !== NOT_FAST) return fast as T
  return decodeCanonicalGeneral<T>(bytes)
}

/**
 * The general path: @ipld/dag-cbor decodes, the decoded value is written back by the fast writer (the same
 * bytes as @ipld/dag-cbor's, test/codec/fast-encode.test.ts) and compared.
 * @throws MalformedEncodingError when the bytes are not DAG-CBOR or nest deeper than DECODE_DEPTH_MAX
 * @throws NonCanonicalEncodingError when they decode but are not the canonical encoding of the value
 */
export function decodeCanonicalGeneral<T = unknown> (bytes: Uint8Array): T {
  // Bounded first: where dag-cbor's recursion overflows depends on the stack left (codec/nesting.ts).
  const value = decodeBounded<T>(bytes)
  const again = encodeCanonical(value)
  if (!equalBytes(again, bytes)) throw new NonCanonicalEncodingError('bytes are not the canonical encoding of their value')
  return value
}

/** Byte equality by memcmp (Buffer views, no copy): a JS loop was a sixth of a batch entry's decode. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}
