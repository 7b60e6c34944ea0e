/**
 * @module codec/fast-encode
 * A small, fast writer of the same deterministic CBOR bytes as @ipld/dag-cbor, behind `encodeCanonical`
 * (the attestation chain's blocks use its CanonicalWriter directly). It
 * handles exactly null, booleans, safe integers, strings, Uint8Array, arrays and plain string-keyed
 * objects — map keys sorted by their encoded bytes (shorter first: RFC 8949 §4.2.1 for text keys) — and
 * falls back to @ipld/dag-cbor for anything else (floats, CIDs), so both always give equal bytes
 * (test/codec/fast-encode.test.ts checks it on random values). @ipld/dag-cbor's general encoder costs
 * ≈ 40 µs for a 700-byte block here; this costs a few.
 */
import { encode } from '@ipld/dag-cbor'
import { MalformedEncodingError } from './errors.js'

const encoder = new TextEncoder()

class Unsupported extends Error {}

/** A canonical CBOR writer for callers that write a fixed schema in its canonical key order. */
export class CanonicalWriter {
  private buffer = new Uint8Array(1024)
  length = 0

  private reserve (bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes))
    grown.set(this.buffer.subarray(0, this.length))
    this.buffer = grown
  }

  head (major: number, value: number): void {
    this.reserve(9)
    const b = this.buffer
    const m = major << 5
    if (value < 24) {
      b[this.length++] = m | value
    } else if (value < 0x100) {
      b[this.length++] = m | 24; b[this.length++] = value
    } else if (value < 0x10000) {
      b[this.length++] = m | 25; b[this.length++] = value >> 8; b[this.length++] = value & 0xff
    } else if (value < 0x100000000) {
      // Big-endian by hand: a DataView (and a BigInt below) per integer was garbage on every entry (issue 16).
      b[this.length++] = m | 26
      this.uint32(value)
    } else {
      b[this.length++] = m | 27
      this.uint32(Math.floor(value / 0x100000000)) // value is a safe integer (write() checks): < 2^53
      this.uint32(value >>> 0)
    }
  }

  private uint32 (value: number): void {
    const b = this.buffer
    b[this.length++] = value >>> 24
    b[this.length++] = (value >>> 16) & 0xff
    b[this.length++] = (value >>> 8) & 0xff
    b[this.length++] = value & 0xff
  }

  /** UTF-8 text; ASCII is copied char by char without an intermediate buffer. */
  text (value: string): void {
    let ascii = true
    for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) { ascii = false; break }
    if (!ascii) {
      const utf8 = encoder.encode(value)
      this.head(3, utf8.length)
      this.raw(utf8)
      return
    }
    this.head(3, value.length)
    this.reserve(value.length)
    for (let i = 0; i < value.length; i++) this.buffer[this.length++] = value.charCodeAt(i)
  }

  raw (bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.buffer.set(bytes, this.length)
    this.length += bytes.length
  }

  bytes (): Uint8Array {
    return this.buffer.slice(0, this.length)
  }

  /** A map key (text). */
  key (name: string): void {
    this.text(name)
  }

  /** Any value of the writer's domain. @throws Unsupported (internal) outside it */
  value (value: unknown): void {
    write(this, value)
  }

  /** Byte string. */
  byteString (value: Uint8Array): void {
    this.head(2, value.length)
    this.raw(value)
  }
}

/**
 * Encoded keys and, per distinct key list, the canonical order (a block has a handful of key lists). The
 * orders sit in a tree walked key by key, so finding one builds no string (issue 16: the joined id it
 * replaced was garbage for every map written); `size` counts its nodes against KEY_CACHE_MAX.
 */
const keyBytes = new Map<string, Uint8Array>()
interface KeyOrderNode { next: Map<string, KeyOrderNode>, order?: string[] }
const keyOrders = { root: { next: new Map() } as KeyOrderNode, size: 0 }
const KEY_CACHE_MAX = 4096

function encodedKey (key: string): Uint8Array {
  let bytes = keyBytes.get(key)
  if (bytes === undefined) {
    bytes = encoder.encode(key)
    if (keyBytes.size < KEY_CACHE_MAX) keyBytes.set(key, bytes)
  }
  return bytes
}

/** `keys` (an object's own keys, in its order) in canonical order. */
function canonicalOrder (keys: string[]): string[] {
  let node = keyOrders.root
  for (const key of keys) {
    let child = node.next.get(key)
    if (child === undefined) {
      if (keyOrders.size >= KEY_CACHE_MAX) return sortKeys(keys)
      child = { next: new Map() }
      node.next.set(key, child)
      keyOrders.size++
    }
    node = child
  }
  node.order ??= sortKeys(keys)
  return node.order
}

function sortKeys (keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => compareKeys(encodedKey(a), encodedKey(b)))
}

const compareKeys = (a: Uint8Array, b: Uint8Array): number => {
  if (a.length !== b.length) return a.length - b.length
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

function write (w: CanonicalWriter, value: unknown): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Unsupported()
    if (value >= 0) w.head(0, value)
    else w.head(1, -1 - value)
  } else if (typeof value === 'string') {
    w.text(value)
  } else if (value instanceof Uint8Array) {
    w.head(2, value.length)
    w.raw(value)
  } else if (Array.isArray(value)) {
    w.head(4, value.length)
    for (const item of value) write(w, item)
  } else if (value === null) {
    w.head(7, 22)
  } else if (typeof value === 'boolean') {
    w.head(7, value ? 21 : 20)
  } else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>
    const keys = canonicalOrder(Object.keys(record))
    w.head(5, keys.length)
    for (const key of keys) {
      const v = record[key]
      if (v === undefined) throw new Unsupported()
      const bytes = encodedKey(key)
      w.head(3, bytes.length)
      w.raw(bytes)
      write(w, v)
    }
  } else {
    throw new Unsupported()
  }
}

const scratch = new CanonicalWriter()

/**
 * The canonical bytes of `value`: @ipld/dag-cbor's, written directly when the value is in this writer's
 * domain, by @ipld/dag-cbor otherwise. `encodeCanonical` is this (issue 16: every hashed, signed, logged or
 * sent value goes through it; dag-cbor's general encoder was ≈ 6 % of a node's busy time at 64 clients).
 * @throws MalformedEncodingError for values outside the profile (undefined, NaN, class instances…)
 */
export function encodeCanonicalFast (value: unknown): Uint8Array {
  // One scratch writer: encoding is synchronous and never re-entered, and bytes() copies out.
  const w = scratch
  w.length = 0
  try {
    write(w, value)
  } catch (err) {
    if (err instanceof Unsupported) return encodeGeneral(value)
    throw err
  }
  return w.bytes()
}

function encodeGeneral (value: unknown): Uint8Array {
  try {
    return encode(value)
  } catch (err) {
    throw new MalformedEncodingError(`cannot encode: ${(err as Error).message}`)
  }
}
