/**
 * @module content/core/block-frame
 * The block answer `{ v: 1, t: 'block', c: CID, d: bytes }` without copying its data. Chunks are 1 MiB, and
 * the generic DAG-CBOR encoder and decoder each copy a byte string: one copy less per chunk at each end is
 * less work for the garbage collector and less peak memory (docs/bench/content.md).
 *
 * Canonical DAG-CBOR sorts map keys by length, then bytewise, so the four one-letter keys are always in the
 * order c, d, t, v and the data sits between the CID and the rest. Encoding writes the generic encoder's
 * bytes for the answer with empty data around the data's own header; decoding finds the data's span, hands
 * everything else (with `d` empty) to the generic strict decoder and keeps the data as a view. Any layout this
 * does not recognise (a non-minimal length, another map) is left to the generic decoder, which judges it.
 */
import { encode } from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { CONTENT_FORMAT_VERSION } from './constants.js'

/** CBOR major type 2 (byte string), in the top three bits of an initial byte. */
const MAJOR_BYTES = 2
/** The bytes every block answer starts with: a map of 4 entries, the key "c", tag 42 (a CID). */
const PREFIX = [0xa4, 0x61, 0x63, 0xd8, 0x2a]
/** The key "d". */
const KEY_D = [0x61, 0x64]

/** Where the data of a block answer lies in `bytes`; `keyEnd` is the end of the "d" key. */
export interface DataSpan { keyEnd: number, start: number, end: number }

/** A minimally encoded byte-string length at `pos`: its value and header size, or null. */
function readBytesLength (bytes: Uint8Array, pos: number): { length: number, header: number } | null {
  const initial = bytes[pos]
  if (initial === undefined || initial >> 5 !== MAJOR_BYTES) return null
  const info = initial & 0x1f
  if (info < 24) return { length: info, header: 1 }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 0
  if (size === 0 || pos + 1 + size > bytes.length) return null
  let length = 0
  for (let i = 1; i <= size; i++) length = length * 256 + (bytes[pos + i] as number)
  // The smallest header that holds the length is the only canonical one.
  const minimal = size === 1 ? length >= 24 : size === 2 ? length > 0xff : length > 0xffff
  return minimal ? { length, header: 1 + size } : null
}

/** The span of `d` in a block answer laid out canonically, or null for any other bytes. */
export function dataSpan (bytes: Uint8Array): DataSpan | null {
  for (let i = 0; i < PREFIX.length; i++) if (bytes[i] !== PREFIX[i]) return null
  const cid = readBytesLength(bytes, PREFIX.length)
  if (cid === null) return null
  const key = PREFIX.length + cid.header + cid.length
  for (let i = 0; i < KEY_D.length; i++) if (bytes[key + i] !== KEY_D[i]) return null
  const keyEnd = key + KEY_D.length
  const data = readBytesLength(bytes, keyEnd)
  if (data === null) return null
  const start = keyEnd + data.header
  const end = start + data.length
  return end <= bytes.length ? { keyEnd, start, end } : null
}

/** The canonical header of a byte string of `length` bytes. */
function bytesHeader (length: number): Uint8Array {
  const top = MAJOR_BYTES << 5
  if (length < 24) return Uint8Array.of(top | length)
  if (length <= 0xff) return Uint8Array.of(top | 24, length)
  if (length <= 0xffff) return Uint8Array.of(top | 25, length >> 8, length & 0xff)
  return Uint8Array.of(top | 26, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)
}

/** The bytes of `encodeResponse({ type: 'block', cid, data })`, with `data` itself not copied. */
export function encodeBlockFrame (cid: CID, data: Uint8Array): Uint8ArrayList {
  const empty = encode({ v: CONTENT_FORMAT_VERSION, t: 'block', c: cid, d: new Uint8Array(0) })
  const span = dataSpan(empty)
  if (span === null) throw new Error('the DAG-CBOR encoder laid out a block answer unexpectedly')
  return new Uint8ArrayList(empty.subarray(0, span.keyEnd), bytesHeader(data.length), data, empty.subarray(span.end))
}

/**
 * Splits a block answer into the answer with empty data (for the generic decoder) and a view of its data,
 * or null when `bytes` is not laid out like one.
 */
export function splitBlockFrame (bytes: Uint8Array): { withoutData: Uint8Array, data: Uint8Array } | null {
  const span = dataSpan(bytes)
  if (span === null) return null
  const tail = bytes.subarray(span.end)
  const withoutData = new Uint8Array(span.keyEnd + 1 + tail.length)
  withoutData.set(bytes.subarray(0, span.keyEnd), 0)
  withoutData[span.keyEnd] = MAJOR_BYTES << 5
  withoutData.set(tail, span.keyEnd + 1)
  return { withoutData, data: bytes.subarray(span.start, span.end) }
}
