/**
 * Goal: what one Raft frame costs its receiver to decode is bounded by what an honest node sends, and an
 * honest node never sends a frame its peers refuse. Method: the largest frame encodeFrame can write (every
 * field at its largest, MAX_ENTRIES_PER_MSG entries) holds exactly FRAME_ITEMS_MAX CBOR items and decodes,
 * canonical or not; one item more, or a 3 MiB frame of one-byte `{}` (3 million items: ≈ 1.2 s and 260 MB of
 * decoding before the bound), is a MalformedFrameError naming the bound, on both decode paths. Then a leader
 * and a follower with many more tiny entries than one message may hold send them through the real encoder and
 * decoder, and the entries arrive.
 */
import { describe, expect, it } from 'vitest'
import {
  DECODE_DEPTH_MAX, decodeBounded, decodeCanonicalFast, encodeCanonical, NOT_FAST, overBounds
} from '../../../src/codec/index.js'
import { MAX_SIZE_PER_MSG_BYTES } from '../../../src/consensus/constants.js'
import {
  ENTRY_OVERHEAD_BYTES, MAX_CONF_IDS, MAX_ENTRIES_PER_MSG, MAX_READ_CONTEXT_BYTES
} from '../../../src/consensus/core/constants.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { decodeFrame, encodeFrame, encodeFrames, FRAME_ITEMS_MAX, MAX_FRAME_BYTES } from '../../../src/consensus/transport/wire.js'
import { Cluster } from '../core/harness.js'

/** A message with every field a frame carries, each at its largest, and MAX_ENTRIES_PER_MSG entries. */
function largestMessage (): Message {
  const ids = (list: string): string[] => Array.from({ length: MAX_CONF_IDS }, (_, i) => `${list}${i}`)
  return {
    type: MessageType.App, from: 'node-a', to: 'node-b', term: 9, index: 1000, logTerm: 8, commit: 1000, reject: false, rejectHint: 0,
    entries: Array.from({ length: MAX_ENTRIES_PER_MSG }, (_, i) => ({
      index: 1001 + i, term: 9, type: EntryType.Normal, data: new Uint8Array([i & 255]), proposalId: { clientId: 'node-a/1', seq: i }
    })),
    snapshotMeta: { index: 7, term: 3, confState: { voters: ids('v'), votersOutgoing: ids('o'), learners: ids('l'), learnersNext: ids('n'), autoLeave: true } },
    snapshotChunk: new Uint8Array(8), snapshotOffset: 0, snapshotDone: false, context: new Uint8Array(MAX_READ_CONTEXT_BYTES),
    force: true, transferee: 'node-c', commitOnly: true
  }
}

/** The frame's top-level keys written in reverse canonical order: valid CBOR the one-pass reader leaves. */
function keysReversed (frame: Uint8Array): Uint8Array {
  const value = decodeBounded<Record<string, unknown>>(frame)
  const parts = Object.keys(value).reverse().map((key) => encodeCanonical({ [key]: value[key] }).subarray(1))
  const out = new Uint8Array(1 + parts.reduce((sum, part) => sum + part.length, 0))
  out[0] = 0xa0 | parts.length // fewer than 24 keys: the count fits the head
  let at = 1
  for (const part of parts) { out.set(part, at); at += part.length }
  return out
}

/** `frame` with its `co` (two items) taken out and `rest` put in under a key no build reads. */
function withIgnoredKey (frame: Uint8Array, rest: unknown): Uint8Array {
  const value = decodeBounded<Record<string, unknown>>(frame)
  delete value.co
  return encodeCanonical({ ...value, zz: rest })
}

/** `frame` (whose `e` is empty) grown to MAX_FRAME_BYTES with one-byte `{}` in `e`: a key holder's flood. */
function floodOf (frame: Uint8Array): Uint8Array {
  // `e` holds [] (0x61 0x65 0x80): give it a 4-byte length head and that many 0xa0.
  const at = Buffer.from(frame).indexOf(Buffer.from([0x61, 0x65, 0x80])) + 2
  const count = MAX_FRAME_BYTES - frame.length - 4
  const flood = new Uint8Array(MAX_FRAME_BYTES)
  flood.set(frame.subarray(0, at), 0)
  flood.set([0x9a, count >>> 24, (count >>> 16) & 255, (count >>> 8) & 255, count & 255], at)
  flood.fill(0xa0, at + 5, at + 5 + count)
  flood.set(frame.subarray(at + 1), at + 5 + count)
  return flood
}

const holds = (bytes: Uint8Array, items: number): boolean => overBounds(bytes, DECODE_DEPTH_MAX, items) === null

describe('Raft frame item bound', () => {
  it('should decode the largest frame encodeFrame writes, which holds FRAME_ITEMS_MAX items, canonical or not', () => {
    const message = largestMessage()
    const frame = encodeFrame(message)
    expect(frame.length).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    expect(holds(frame, FRAME_ITEMS_MAX)).toBe(true)
    expect(holds(frame, FRAME_ITEMS_MAX - 1)).toBe(false)
    expect(decodeCanonicalFast(frame, FRAME_ITEMS_MAX)).not.toBe(NOT_FAST)
    expect(decodeFrame(frame)).toEqual(message)
    const shuffled = keysReversed(frame)
    expect(decodeCanonicalFast(shuffled)).toBe(NOT_FAST)
    expect(decodeFrame(shuffled)).toEqual(message)
    // The same count through a key no build reads (as a peer may pad a frame) still decodes.
    const padded = withIgnoredKey(frame, [])
    expect(holds(padded, FRAME_ITEMS_MAX) && !holds(padded, FRAME_ITEMS_MAX - 1)).toBe(true)
    expect(decodeFrame(padded).entries.length).toBe(MAX_ENTRIES_PER_MSG)
  })

  it('should refuse a frame of one item more with MalformedFrameError, on the one-pass reader and the general path', () => {
    const over = withIgnoredKey(encodeFrame(largestMessage()), [0])
    expect(holds(over, FRAME_ITEMS_MAX)).toBe(false)
    expect(holds(over, FRAME_ITEMS_MAX + 1)).toBe(true)
    // The reader gives up at the bound rather than build the frame; the general path's scan refuses it.
    expect(decodeCanonicalFast(over, FRAME_ITEMS_MAX)).toBe(NOT_FAST)
    expect(decodeCanonicalFast(over, FRAME_ITEMS_MAX + 1)).not.toBe(NOT_FAST)
    const refusal = { name: 'MalformedFrameError', message: `not CBOR: more than ${FRAME_ITEMS_MAX} data items` }
    expect(() => decodeFrame(over)).toThrow(expect.objectContaining(refusal))
    expect(() => decodeFrame(keysReversed(over))).toThrow(expect.objectContaining(refusal))
  })

  it('should refuse a 3 MiB frame of one-byte items by the item bound, not after decoding them all', () => {
    const head = encodeFrame({ type: MessageType.App, from: 'a', to: 'b', term: 1, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
    const refusal = { name: 'MalformedFrameError', message: `not CBOR: more than ${FRAME_ITEMS_MAX} data items` }
    for (const empty of [head, keysReversed(head)]) {
      const flood = floodOf(empty)
      // Well-formed: the empty frame's 23 items and 3.1 million `{}`.
      const count = MAX_FRAME_BYTES - head.length - 4
      expect(holds(flood, count + 23) && !holds(flood, count + 22)).toBe(true)
      // Without the bound it was decoded whole (≈ 1.2 s, 260 MB), then refused for its entry count ('entries').
      expect(() => decodeFrame(flood)).toThrow(expect.objectContaining(refusal))
    }
  })

  it('should bound entries per message above what a leader cutting by bytes alone sends', () => {
    // Builds before the entry count cut Apps and Props at the node's 256 KiB only: 10,922 entries at most.
    expect(Math.floor(MAX_SIZE_PER_MSG_BYTES / ENTRY_OVERHEAD_BYTES)).toBeLessThanOrEqual(MAX_ENTRIES_PER_MSG)
  })
})

/** Delivers every queued message as its receiver's transport gets it: encodeFrames, then decodeFrame. */
function deliverOverWire (c: Cluster, seen: Message[]): number {
  const batch = c.queue
  c.queue = []
  for (const m of batch) {
    const { frames, complete } = encodeFrames(m)
    expect(complete).toBe(true)
    for (const frame of frames) {
      const received = decodeFrame(frame)
      seen.push(received)
      c.get(m.to).node.step(received)
    }
  }
  return batch.length
}

function stabilizeOverWire (c: Cluster, seen: Message[]): void {
  for (let round = 0; round < 1000; round++) {
    let moved = false
    for (const id of c.nodes.keys()) if (c.process(id)) moved = true
    if (deliverOverWire(c, seen) > 0) moved = true
    if (!moved) return
  }
  throw new Error('not stable after 1000 rounds')
}

describe('a leader with many tiny entries to send', () => {
  // The core's default message size (1 MiB) holds 43,690 empty entries by bytes: the count must cut first.
  const tiny = 2 * MAX_ENTRIES_PER_MSG + 100

  it('should send them in Apps its followers decode, none over MAX_ENTRIES_PER_MSG entries', () => {
    const c = new Cluster({ voters: ['a', 'b'], learners: ['c'] })
    c.elect('a')
    const seen: Message[] = []
    c.get('a').node.proposeMany(Array.from({ length: tiny }, () => ({ data: new Uint8Array(0) })))
    stabilizeOverWire(c, seen)
    const apps = seen.filter((m) => m.type === MessageType.App && m.entries.length > 0)
    expect(Math.max(...apps.map((m) => m.entries.length))).toBe(MAX_ENTRIES_PER_MSG)
    for (const id of ['a', 'b', 'c']) expect(c.get(id).state.length).toBeGreaterThanOrEqual(tiny)
    expect(c.get('c').node.status().commit).toBe(c.get('a').node.status().lastIndex)
  }, 60_000)

  it('should forward a follower\'s batch of tiny proposals in Props the leader decodes', () => {
    const c = new Cluster({ voters: ['a', 'b'] })
    c.elect('a')
    const seen: Message[] = []
    c.get('b').node.proposeMany(Array.from({ length: tiny }, (_, i) => ({ data: new Uint8Array(0), proposalId: { clientId: '', seq: i + 1 } })))
    stabilizeOverWire(c, seen)
    const props = seen.filter((m) => m.type === MessageType.Prop)
    expect(props.reduce((n, m) => n + m.entries.length, 0)).toBe(tiny)
    expect(Math.max(...props.map((m) => m.entries.length))).toBe(MAX_ENTRIES_PER_MSG)
    expect(c.get('a').state.length).toBeGreaterThanOrEqual(tiny)
  }, 60_000)
})
