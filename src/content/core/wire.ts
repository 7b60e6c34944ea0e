/**
 * @module content/core/wire
 * The content layer's messages (docs/CONTENT.md §4–5), DAG-CBOR maps with a version field:
 *
 * gossip, on `revoada/<clusterId>/content/1` (signed by gossipsub; the author is the holder):
 *   have: `{ v: 1, t: 'have', items: [{ c: CID, s: size, p: partial }] }`   (1..HAVE_ITEMS_PER_MESSAGE_MAX)
 *   want: `{ v: 1, t: 'want', c: CID }`
 * stream `/revoada/content/1.0.0`, length-prefixed (unsigned varint), one request → one response, in order:
 *   request:  `{ v: 1, t: 'get', c: CID }`            a block (chunk or manifest) by CID
 *             `{ v: 1, t: 'map', c: rootCID }`        which chunks of a file the server holds
 *   response: `{ v: 1, t: 'block', c: CID, d: bytes }` | `{ v: 1, t: 'none', c: CID }`
 *             `{ v: 1, t: 'map', c: rootCID, b: bitmap }` (bit i of byte ⌊i/8⌋, LSB first = chunk i held)
 *             `{ v: 1, t: 'busy', r: retryAfterMs }` the server is at its upload limit; it closes the stream
 *
 * Decoding is strict: every field checked, nothing unknown, sizes bounded before anything is allocated
 * from a count a peer sent. Errors are MalformedContentError.
 */
import { encode } from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { decodeBounded, decodeCanonical } from '../../codec/index.js'
import { assert } from '../../util/assert.js'
import {
  BUSY_RETRY_AFTER_MS_MAX, CID_BYTES_MAX, CONTENT_FORMAT_VERSION, FILE_CHUNKS_MAX, FRAME_BYTES_MAX, GOSSIP_MESSAGE_BYTES_MAX,
  HAVE_ITEMS_PER_MESSAGE_MAX, MESSAGE_ITEMS_MAX, REQUEST_FRAME_BYTES_MAX, CHUNK_BYTES_MAX
} from './constants.js'
import { MalformedContentError, describeValue } from './errors.js'
import { isBlockCid, isManifestCid } from './manifest.js'
import { splitBlockFrame } from './block-frame.js'

export interface HaveItem { cid: CID, size: number, partial: boolean }
export type Announcement = { type: 'have', items: HaveItem[] } | { type: 'want', cid: CID }
export type ContentRequest = { type: 'get', cid: CID } | { type: 'map', cid: CID }
export type ContentResponse =
  | { type: 'block', cid: CID, data: Uint8Array }
  | { type: 'none', cid: CID }
  | { type: 'map', cid: CID, bitmap: Uint8Array }
  | { type: 'busy', retryAfterMs: number }

const V = CONTENT_FORMAT_VERSION
const fail = (what: string): never => { throw new MalformedContentError(what) }

function asMap (value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array || CID.asCID(value) !== null) {
    return fail(`${what} is not a map`)
  }
  const m = value as Record<string, unknown>
  if (m.v !== V) fail(`${what} version ${describeValue(m.v)}`)
  return m
}

function onlyKeys (m: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of Object.keys(m)) if (!keys.includes(k)) fail(`${what}: unknown field ${k}`)
}

function blockCid (value: unknown, what: string): CID {
  const cid = CID.asCID(value)
  if (cid === null || cid.bytes.length > CID_BYTES_MAX || !isBlockCid(cid)) return fail(`${what}: not a BLAKE3 block CID`)
  return cid
}

function rootCid (value: unknown, what: string): CID {
  const cid = blockCid(value, what)
  if (!isManifestCid(cid)) fail(`${what}: not a manifest CID`)
  return cid
}

function decodeStrict (bytes: Uint8Array, what: string): unknown {
  try {
    // Bounded nesting: dag-cbor's recursion overflowed the stack on a deep message (codec/nesting.ts); and
    // bounded items: a flood of one-byte values cost far more to decode than to send.
    return decodeBounded(bytes, MESSAGE_ITEMS_MAX)
  } catch (err) {
    return fail(`${what} is not DAG-CBOR: ${(err as Error).message}`)
  }
}

/** The receiver's check of an item, here too: a size that is not a safe integer would get the whole message refused. */
export function assertHaveItem (item: HaveItem): void {
  assert(Number.isSafeInteger(item.size) && item.size >= 0, () => `have item size ${item.size}`)
}

export function encodeAnnouncement (a: Announcement): Uint8Array {
  if (a.type === 'want') return encode({ v: V, t: 'want', c: a.cid })
  for (const i of a.items) assertHaveItem(i)
  return encode({ v: V, t: 'have', items: a.items.map((i) => ({ c: i.cid, s: i.size, p: i.partial })) })
}

/** @throws MalformedContentError */
export function decodeAnnouncement (bytes: Uint8Array): Announcement {
  if (bytes.length > GOSSIP_MESSAGE_BYTES_MAX) fail(`gossip message of ${bytes.length} bytes over ${GOSSIP_MESSAGE_BYTES_MAX}`)
  let value: unknown
  try {
    value = decodeCanonical(bytes)
  } catch (err) {
    return fail(`gossip message: ${(err as Error).message}`)
  }
  const m = asMap(value, 'gossip message')
  if (m.t === 'want') {
    onlyKeys(m, ['v', 't', 'c'], 'want')
    return { type: 'want', cid: rootCid(m.c, 'want') }
  }
  if (m.t !== 'have') fail(`unknown gossip message type ${describeValue(m.t)}`)
  onlyKeys(m, ['v', 't', 'items'], 'have')
  if (!Array.isArray(m.items) || m.items.length === 0 || m.items.length > HAVE_ITEMS_PER_MESSAGE_MAX) fail('have: items')
  const items = (m.items as unknown[]).map((raw) => {
    if (typeof raw !== 'object' || raw === null) fail('have item is not a map')
    const i = raw as Record<string, unknown>
    onlyKeys(i, ['c', 's', 'p'], 'have item')
    if (typeof i.s !== 'number' || !Number.isSafeInteger(i.s) || i.s < 0) fail('have item size')
    if (typeof i.p !== 'boolean') fail('have item partial')
    return { cid: rootCid(i.c, 'have item'), size: i.s as number, partial: i.p as boolean }
  })
  return { type: 'have', items }
}

export function encodeRequest (r: ContentRequest): Uint8Array {
  return encode({ v: V, t: r.type, c: r.cid })
}

/** @throws MalformedContentError */
export function decodeRequest (bytes: Uint8Array): ContentRequest {
  if (bytes.length > REQUEST_FRAME_BYTES_MAX) fail(`request of ${bytes.length} bytes over ${REQUEST_FRAME_BYTES_MAX}`)
  const m = asMap(decodeStrict(bytes, 'request'), 'request')
  onlyKeys(m, ['v', 't', 'c'], 'request')
  if (m.t === 'get') return { type: 'get', cid: blockCid(m.c, 'get') }
  if (m.t === 'map') return { type: 'map', cid: rootCid(m.c, 'map') }
  return fail(`unknown request type ${describeValue(m.t)}`)
}

export function encodeResponse (r: ContentResponse): Uint8Array {
  if (r.type === 'block') return encode({ v: V, t: 'block', c: r.cid, d: r.data })
  if (r.type === 'map') return encode({ v: V, t: 'map', c: r.cid, b: r.bitmap })
  if (r.type === 'busy') return encode({ v: V, t: 'busy', r: r.retryAfterMs })
  return encode({ v: V, t: 'none', c: r.cid })
}

/**
 * A block answer's data is returned as a view of `bytes`, not a copy (block-frame.ts); everything else in
 * it is checked by the same strict decoder as every other answer.
 * @throws MalformedContentError
 */
export function decodeResponse (bytes: Uint8Array): ContentResponse {
  if (bytes.length > FRAME_BYTES_MAX) fail(`response of ${bytes.length} bytes over ${FRAME_BYTES_MAX}`)
  const split = splitBlockFrame(bytes)
  if (split !== null) {
    const answer = decodeAnyResponse(split.withoutData)
    if (answer.type === 'block') {
      if (split.data.length > CHUNK_BYTES_MAX) fail('block data')
      return { type: 'block', cid: answer.cid, data: split.data }
    }
  }
  return decodeAnyResponse(bytes)
}

function decodeAnyResponse (bytes: Uint8Array): ContentResponse {
  const m = asMap(decodeStrict(bytes, 'response'), 'response')
  if (m.t === 'block') {
    onlyKeys(m, ['v', 't', 'c', 'd'], 'block')
    if (!(m.d instanceof Uint8Array) || m.d.length > CHUNK_BYTES_MAX) fail('block data')
    return { type: 'block', cid: blockCid(m.c, 'block'), data: m.d as Uint8Array }
  }
  if (m.t === 'map') {
    onlyKeys(m, ['v', 't', 'c', 'b'], 'map')
    if (!(m.b instanceof Uint8Array) || m.b.length > Math.ceil(FILE_CHUNKS_MAX / 8)) fail('map bitmap')
    return { type: 'map', cid: rootCid(m.c, 'map'), bitmap: m.b as Uint8Array }
  }
  if (m.t === 'none') {
    onlyKeys(m, ['v', 't', 'c'], 'none')
    return { type: 'none', cid: blockCid(m.c, 'none') }
  }
  if (m.t === 'busy') {
    onlyKeys(m, ['v', 't', 'r'], 'busy')
    if (typeof m.r !== 'number' || !Number.isSafeInteger(m.r) || m.r < 0 || m.r > BUSY_RETRY_AFTER_MS_MAX) fail('busy retry-after')
    return { type: 'busy', retryAfterMs: m.r as number }
  }
  return fail(`unknown response type ${describeValue(m.t)}`)
}

/** Bit `index` of a chunk bitmap. */
export function bitmapHas (bitmap: Uint8Array, index: number): boolean {
  const byte = bitmap[index >> 3]
  return byte !== undefined && (byte & (1 << (index & 7))) !== 0
}

/** A bitmap of `count` chunks with `has(i)` set. */
export function makeBitmap (count: number, has: (index: number) => boolean): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(count / 8))
  for (let i = 0; i < count; i++) if (has(i)) bitmap[i >> 3] = (bitmap[i >> 3] as number) | (1 << (i & 7))
  return bitmap
}
