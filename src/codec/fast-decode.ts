/**
 * @module codec/fast-decode
 * A one-pass reader of canonical DAG-CBOR behind `decodeCanonical` (issue 16: an idle node decodes a
 * heartbeat from every member each period; @ipld/dag-cbor's decode plus the re-encode that checks
 * canonical form cost ≈ 6 µs per heartbeat). It walks the bytes once and checks the canonical rules as it
 * goes, in the order the writer (fast-encode.ts, @ipld/dag-cbor) produces them:
 *
 * - every integer, length and tag head in its shortest form; definite lengths only;
 * - map keys are text, in the deterministic order (shorter UTF-8 key first, then bytewise) and unique;
 * - only unsigned and negative integers within the safe range, byte and text strings (valid UTF-8),
 *   arrays, maps, false/true/null and tag 42 (a CID: byte string 0x00 ‖ CID bytes, as dag-cbor writes it);
 * - no bytes after the value.
 *
 * It gives up — returns NOT_FAST — on anything else or anything it is unsure of: floats, other tags and
 * simple values, integers beyond 2^53 (dag-cbor gives BigInts), text starting with a byte-order mark
 * (TextDecoder would drop it), the key `__proto__`, nesting deeper than FAST_DECODE_MAX_DEPTH, more data
 * items than the caller's `itemsMax`, and every violation of the rules above. The caller then runs the
 * general path (decode + re-encode + compare), so
 * accepted values, rejections and error types are exactly those of the general path: the reader only
 * returns a value on bytes the general path accepts, and the same value (test/codec/fast-decode.test.ts).
 */
import { CID } from 'multiformats/cid'

/** What `decodeCanonicalFast` returns when the general path must decide. */
export const NOT_FAST: unique symbol = Symbol('not-fast')

/** Nesting the reader follows (recursion); deeper values go to the general path. */
export const FAST_DECODE_MAX_DEPTH = 64

/** Thrown internally to unwind to `decodeCanonicalFast`; never escapes it. One instance: no stack capture. */
const GIVE_UP = new Error('fast decode gives up')

// Strict UTF-8 (invalid bytes throw rather than become U+FFFD); the BOM is kept, and rejected by hand.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const SHORT_ASCII = 32
const TWO_32 = 0x100000000

// The reader's state: decoding is synchronous and never re-entered (CID.decode calls nothing back).
const EMPTY: Uint8Array = new Uint8Array(0)
let data = EMPTY
let pos = 0
let end = 0
/** Heads the reader may still read before it gives up (`itemsMax` counts down). */
let itemsLeft = 0

/**
 * The value of canonical DAG-CBOR `bytes`, or NOT_FAST when the bytes are outside what this reader
 * decides (then `decodeCanonical`'s general path gives the value or the error). Never throws.
 * @param itemsMax data items the reader builds at most (default: no bound), counted as `overBounds` (nesting.ts)
 *   counts them, every head (a tag and its content are two); it gives up on the next, so a caller whose general
 *   path is `decodeBounded(bytes, itemsMax)` refuses a flood of one-byte items having built no more than this.
 */
export function decodeCanonicalFast (bytes: Uint8Array, itemsMax = Number.MAX_SAFE_INTEGER): unknown {
  // A Buffer's slice() is a view; byte strings must come out as copies in plain Uint8Arrays, as dag-cbor's.
  data = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  pos = 0
  end = data.length
  itemsLeft = itemsMax
  try {
    const value = item(0)
    if (pos !== end) return NOT_FAST
    return value
  } catch {
    // GIVE_UP, or anything unforeseen (a stack overflow): the general path judges.
    return NOT_FAST
  } finally {
    data = EMPTY // do not pin the message
  }
}

/** The argument of a head with additional info `minor`, in shortest form. */
function argument (minor: number): number {
  if (minor < 24) return minor
  if (minor === 24) {
    if (pos + 1 > end) throw GIVE_UP
    const v = data[pos++]!
    if (v < 24) throw GIVE_UP
    return v
  }
  if (minor === 25) {
    if (pos + 2 > end) throw GIVE_UP
    const v = (data[pos]! << 8) | data[pos + 1]!
    pos += 2
    if (v < 0x100) throw GIVE_UP
    return v
  }
  if (minor === 26) {
    if (pos + 4 > end) throw GIVE_UP
    const v = data[pos]! * 0x1000000 + ((data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!)
    pos += 4
    if (v < 0x10000) throw GIVE_UP
    return v
  }
  if (minor === 27) {
    if (pos + 8 > end) throw GIVE_UP
    const hi = data[pos]! * 0x1000000 + ((data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!)
    const lo = data[pos + 4]! * 0x1000000 + ((data[pos + 5]! << 16) | (data[pos + 6]! << 8) | data[pos + 7]!)
    pos += 8
    // hi 0: fits in four bytes (not shortest); hi ≥ 2^21: ≥ 2^53, a BigInt for dag-cbor.
    if (hi === 0 || hi >= 0x200000) throw GIVE_UP
    return hi * TWO_32 + lo
  }
  throw GIVE_UP // 28–30 reserved, 31 indefinite length
}

/** A length that must fit in the bytes left, `unit` bytes at least per element. */
function length (minor: number, unit: number): number {
  const n = argument(minor)
  if (n * unit > end - pos) throw GIVE_UP
  return n
}

/**
 * Short ASCII text recurs in every message (map keys, kinds, roles): a small table, by a hash of the bytes,
 * gives back the string decoded last time instead of a new one built char by char (issue 16: that building
 * was the largest allocation of the decoder). A slot holds the last text that hashed to it.
 */
const INTERN_SLOTS = 1024
const internBytes: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(INTERN_SLOTS).fill(undefined)
const internText: string[] = new Array<string>(INTERN_SLOTS).fill('')

function text (n: number): string {
  const start = pos
  pos += n
  if (n < SHORT_ASCII) {
    let hash = n
    for (let i = start; i < pos; i++) {
      const c = data[i]!
      if (c > 0x7f) return utf8Text(start)
      hash = (Math.imul(hash, 31) + c) | 0
    }
    const slot = hash & (INTERN_SLOTS - 1)
    const known = internBytes[slot]
    if (known !== undefined && known.length === n) {
      let k = 0
      while (k < n && known[k] === data[start + k]) k++
      if (k === n) return internText[slot]!
    }
    let s = ''
    for (let i = start; i < pos; i++) s += String.fromCharCode(data[i]!)
    internBytes[slot] = data.slice(start, pos)
    internText[slot] = s
    return s
  }
  return utf8Text(start)
}

function utf8Text (start: number): string {
  // dag-cbor's TextDecoder drops a leading BOM, so such text never re-encodes to itself: general path.
  if (pos - start >= 3 && data[start] === 0xef && data[start + 1] === 0xbb && data[start + 2] === 0xbf) throw GIVE_UP
  try {
    return utf8.decode(data.subarray(start, pos))
  } catch {
    throw GIVE_UP
  }
}

function item (depth: number): unknown {
  if (pos >= end || --itemsLeft < 0) throw GIVE_UP
  const initial = data[pos++]!
  const major = initial >> 5
  const minor = initial & 31
  switch (major) {
    case 0:
      return argument(minor)
    case 1: {
      const v = argument(minor)
      if (v >= Number.MAX_SAFE_INTEGER) throw GIVE_UP // -1 - v below MIN_SAFE_INTEGER: a BigInt
      return -1 - v
    }
    case 2: {
      const n = length(minor, 1)
      const out = data.slice(pos, pos + n)
      pos += n
      return out
    }
    case 3:
      return text(length(minor, 1))
    case 4: {
      if (depth >= FAST_DECODE_MAX_DEPTH) throw GIVE_UP
      const n = length(minor, 1)
      const arr: unknown[] = []
      for (let i = 0; i < n; i++) arr.push(item(depth + 1))
      return arr
    }
    case 5: {
      if (depth >= FAST_DECODE_MAX_DEPTH) throw GIVE_UP
      return map(length(minor, 2), depth)
    }
    case 6:
      // Tag 42 is written 0xd8 0x2a; any other tag (or form) is the general path's.
      if (minor !== 24 || pos >= end || data[pos] !== 42) throw GIVE_UP
      pos++
      return cid()
    default:
      if (initial === 0xf6) return null
      if (initial === 0xf5) return true
      if (initial === 0xf4) return false
      throw GIVE_UP // floats, undefined, other simple values, break
  }
}

function map (n: number, depth: number): Record<string, unknown> {
  const obj: Record<string, unknown> = {}
  let prevStart = 0
  let prevLength = -1
  for (let i = 0; i < n; i++) {
    if (pos >= end || --itemsLeft < 0) throw GIVE_UP
    const initial = data[pos++]!
    if (initial >> 5 !== 3) throw GIVE_UP // keys are text
    const keyLength = length(initial & 31, 1)
    const keyStart = pos
    // Strictly after the previous key: shorter first, then bytewise; equal bytes are a duplicate.
    if (keyLength < prevLength) throw GIVE_UP
    if (keyLength === prevLength) {
      let k = 0
      while (k < keyLength && data[keyStart + k] === data[prevStart + k]) k++
      if (k === keyLength || data[keyStart + k]! < data[prevStart + k]!) throw GIVE_UP
    }
    prevStart = keyStart
    prevLength = keyLength
    const key = text(keyLength)
    if (key === '__proto__') throw GIVE_UP // dag-cbor defines it as an own property; leave that to it
    obj[key] = item(depth + 1)
  }
  return obj
}

/** The content of tag 42: a byte string 0x00 ‖ CID bytes, those bytes exactly the CID's own. */
function cid (): CID {
  if (pos >= end || --itemsLeft < 0) throw GIVE_UP
  const initial = data[pos++]!
  if (initial >> 5 !== 2) throw GIVE_UP
  const n = length(initial & 31, 1)
  if (n < 2 || data[pos] !== 0) throw GIVE_UP
  // A copy, as dag-cbor's (the CID must not pin the whole message).
  const bytes = data.slice(pos + 1, pos + n)
  pos += n
  let decoded: CID
  try {
    decoded = CID.decode(bytes)
  } catch {
    throw GIVE_UP
  }
  // multiformats already refuses non-minimal varints and trailing bytes; re-encoding must give these bytes.
  const own = decoded.bytes
  if (own.length !== bytes.length) throw GIVE_UP
  for (let i = 0; i < own.length; i++) if (own[i] !== bytes[i]) throw GIVE_UP
  return decoded
}
