/**
 * @module test/fuzz/targets/content-wire
 * Every decoder of layer C's peer bytes (issue 13: "oversize or malformed messages, added to the fuzz
 * targets"): byte 0 of an input picks the decoder — a content request and a response on
 * `/revoada/content/1.0.0`, a gossip announcement, a manifest fetched by CID — and the rest is the message.
 * Each answers with a value or MalformedContentError. An accepted value must be one the node itself could
 * have sent: it re-encodes and decodes to the same bytes, and its sizes are within the wire's limits.
 */
import { damageValue, encodeValue } from '../values.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { FuzzInvariantError, invariant } from '../target.js'
import {
  CHUNK_BYTES, chunkCid, decodeAnnouncement, decodeManifest, decodeRequest, decodeResponse, encodeAnnouncement, encodeManifest,
  encodeRequest, encodeResponse, FRAME_BYTES_MAX, GOSSIP_MESSAGE_BYTES_MAX, REQUEST_FRAME_BYTES_MAX
} from '../../../src/content/core/index.js'
import type { FileManifest } from '../../../src/content/core/index.js'

interface Decoder { name: string, limit: number, roundTrip: (bytes: Uint8Array) => Uint8Array }

/** Decodes (a refusal throws MalformedContentError), then re-encodes what was accepted. */
const DECODERS: readonly Decoder[] = [
  { name: 'request', limit: REQUEST_FRAME_BYTES_MAX, roundTrip: (b) => encodeRequest(decodeRequest(b)) },
  { name: 'response', limit: FRAME_BYTES_MAX, roundTrip: (b) => encodeResponse(decodeResponse(b)) },
  { name: 'announcement', limit: GOSSIP_MESSAGE_BYTES_MAX, roundTrip: (b) => encodeAnnouncement(decodeAnnouncement(b)) },
  { name: 'manifest', limit: FRAME_BYTES_MAX, roundTrip: (b) => encodeManifest(decodeManifest(b)).bytes }
]

function sample (rng: FuzzRng): Array<{ which: number, value: Record<string, unknown> }> {
  const digests = [rng.bytes(32), rng.bytes(32), rng.bytes(32)]
  const file: FileManifest = { v: 1, type: 'file', size: 2 * CHUNK_BYTES + 7, chunkBytes: CHUNK_BYTES, chunks: digests }
  const root = encodeManifest(file).cid
  const block = chunkCid(digests[0] as Uint8Array)
  return [
    { which: 0, value: { v: 1, t: 'get', c: block } },
    { which: 0, value: { v: 1, t: 'map', c: root } },
    { which: 1, value: { v: 1, t: 'block', c: block, d: rng.bytes(64) } },
    { which: 1, value: { v: 1, t: 'map', c: root, b: new Uint8Array([0b101]) } },
    { which: 1, value: { v: 1, t: 'none', c: block } },
    { which: 2, value: { v: 1, t: 'have', items: [{ c: root, s: file.size, p: false }, { c: root, s: 3, p: true }] } },
    { which: 2, value: { v: 1, t: 'want', c: root } },
    { which: 3, value: { ...file } },
    { which: 3, value: { v: 1, type: 'dir', entries: [{ name: 'a.yaml', cid: root, size: file.size }] } }
  ]
}

const framed = (which: number, body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(body.length + 1)
  out[0] = which
  out.set(body, 1)
  return out
}

export const contentWireTarget: FuzzTarget = {
  name: 'content-wire',
  description: 'byte 0 picks a decoder of layer C (request, response, gossip announcement, manifest); the rest is the message',
  typedErrors: ['MalformedContentError'],
  corpus: (rng) => sample(rng).map(({ which, value }) => framed(which, encodeValue(rng, value))),
  generate: (rng) => {
    const { which, value } = sample(rng)[rng.int(9)] as { which: number, value: Record<string, unknown> }
    return framed(which, encodeValue(rng, damageValue(rng, value)))
  },
  run (input) {
    if (input.length === 0) return
    const decoder = DECODERS[(input[0] as number) % DECODERS.length] as Decoder
    const body = input.subarray(1)
    const again = decoder.roundTrip(body)
    invariant(again.length <= decoder.limit, () => `${decoder.name}: accepted a message that re-encodes to ${again.length} bytes, over ${decoder.limit}`)
    // What we would send ourselves must decode: a refusal here is a bug, not a typed rejection of input.
    let twice: Uint8Array
    try { twice = decoder.roundTrip(again) } catch (err) { throw new FuzzInvariantError(`${decoder.name}: our own encoding is refused: ${(err as Error).message}`) }
    invariant(Buffer.from(twice).equals(Buffer.from(again)), () => `${decoder.name}: an accepted message does not round-trip`)
  }
}
