/**
 * @module test/fuzz/targets/content-wire
 * Layer C's peer-facing decoders as the node runs them (issue 13 "oversize or malformed messages added to
 * the fuzz targets"): each frame of an input goes through the content-protocol request decoder (server
 * side), the response decoder (fetcher side), the manifest decoder (a fetched root block), and the gossip
 * announcement decoder, whose accepted `have`s feed one ProviderTable. A decoder may only answer with a
 * value or MalformedContentError; what it accepts must respect the format's bounds, and the provider table
 * must stay within its limits.
 */
import { encode } from '@ipld/dag-cbor'
import { encodeCanonical } from '../../../src/codec/index.js'
import {
  CHUNK_BYTES_MAX, CIDS_PER_PEER_MAX, FILE_CHUNKS_MAX, HAVE_ITEMS_PER_MESSAGE_MAX, PROVIDERS_PER_CID_MAX, ProviderTable,
  chunkCid, decodeAnnouncement, decodeManifest, decodeRequest, decodeResponse, encodeManifest
} from '../../../src/content/core/index.js'
import type { FileManifest } from '../../../src/content/core/index.js'
import { blake3 } from '../../../src/codec/index.js'
import { joinFrames, splitFrames } from '../frames.js'
import { damageValue, encodeValue } from '../values.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

const PEERS = ['peer-a', 'peer-b', 'peer-c']
const MALFORMED = 'MalformedContentError'

const digest = blake3(new Uint8Array([1, 2, 3]))
const manifest: FileManifest = { v: 1, type: 'file', size: 3, chunkBytes: CHUNK_BYTES_MAX, chunks: [digest] }
const root = encodeManifest(manifest).cid
const chunk = chunkCid(digest)

/** Valid messages of every kind (as plain values, to be damaged) and their canonical bytes. */
const VALID: unknown[] = [
  { v: 1, t: 'get', c: chunk },
  { v: 1, t: 'map', c: root },
  { v: 1, t: 'block', c: chunk, d: new Uint8Array([1, 2, 3]) },
  { v: 1, t: 'none', c: chunk },
  { v: 1, t: 'map', c: root, b: new Uint8Array([1]) },
  { v: 1, t: 'busy', r: 1000 },
  { v: 1, t: 'have', items: [{ c: root, s: 3, p: false }] },
  { v: 1, t: 'want', c: root },
  { v: 1, type: 'file', size: 3, chunkBytes: CHUNK_BYTES_MAX, chunks: [digest] },
  { v: 1, type: 'dir', entries: [{ name: 'a', cid: root, size: 3 }] }
]

function message (rng: FuzzRng): Uint8Array {
  const base = rng.pick(VALID)
  if (rng.chance(0.3)) return encodeCanonical(base)
  return rng.chance(0.5) ? encodeValue(rng, damageValue(rng, base)) : encode(damageValue(rng, base) as object)
}

/** Runs `decode`: an accepted value goes through `check`; MalformedContentError is a typed rejection; anything else is a crash. */
function typed<T> (decode: () => T, check: (value: T) => void): void {
  let value: T
  try {
    value = decode()
  } catch (err) {
    invariant((err as Error).name === MALFORMED, () => `decoder threw ${(err as Error).name}: ${(err as Error).message}`)
    return
  }
  check(value)
}

export const contentWireTarget: FuzzTarget = {
  name: 'content-wire',
  description: 'content protocol request/response, manifest and gossip announcement bytes → strict decoders → ProviderTable (typed errors only; bounds kept)',
  typedErrors: [],
  corpus: () => [joinFrames(VALID.map((v) => encodeCanonical(v)))],
  generate: (rng) => joinFrames(Array.from({ length: 1 + rng.int(8) }, () => {
    try { return message(rng) } catch { return encodeValue(rng, 0) }
  })),
  run (input) {
    const table = new ProviderTable()
    let nowMs = 1_000_000
    for (const [i, bytes] of splitFrames(input, 0, 16).entries()) {
      nowMs += 1000
      typed(() => decodeRequest(bytes), (r) => { invariant(r.type === 'get' || r.type === 'map', 'request type') })
      typed(() => decodeResponse(bytes), (r) => {
        if (r.type === 'block') invariant(r.data.length <= CHUNK_BYTES_MAX, 'block over the chunk bound')
        if (r.type === 'map') invariant(r.bitmap.length <= Math.ceil(FILE_CHUNKS_MAX / 8), 'bitmap over its bound')
        if (r.type === 'busy') invariant(Number.isSafeInteger(r.retryAfterMs) && r.retryAfterMs >= 0, 'busy retry-after')
      })
      typed(() => decodeManifest(bytes), (m) => {
        if (m.type === 'file') invariant(m.chunks.length <= FILE_CHUNKS_MAX && m.size <= m.chunks.length * m.chunkBytes, 'file manifest bounds')
      })
      typed(() => decodeAnnouncement(bytes), (a) => {
        if (a.type !== 'have') return
        invariant(a.items.length >= 1 && a.items.length <= HAVE_ITEMS_PER_MESSAGE_MAX, 'have items bound')
        const peer = PEERS[i % PEERS.length] as string
        for (const item of a.items) table.have(peer, item.cid.toString(), item.size, item.partial, nowMs)
      })
      invariant(table.providers(root.toString(), nowMs).length <= PROVIDERS_PER_CID_MAX, 'providers per CID over the bound')
      invariant(table.size <= PEERS.length * CIDS_PER_PEER_MAX, 'provider table over its bound')
    }
  }
}
