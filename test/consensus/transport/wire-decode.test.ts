/**
 * decodeFrame reads a canonical frame (what encodeFrame writes) with the codec's one-pass reader and any
 * other with @ipld/dag-cbor, as before (issue 16): the same messages come out either way, and a frame that
 * is valid CBOR but not canonical (keys out of order) is still accepted as it was.
 */
import { describe, expect, it } from 'vitest'
import { decode } from '@ipld/dag-cbor'
import { CanonicalWriter, decodeCanonicalFast, NOT_FAST } from '../../../src/codec/index.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { decodeFrame, encodeFrame } from '../../../src/consensus/transport/wire.js'

const app: Message = {
  type: MessageType.App, from: 'node-a', to: 'node-b', term: 7, index: 70_000, logTerm: 6, commit: 2 ** 33, reject: false, rejectHint: 0,
  entries: [{ index: 70_001, term: 7, type: EntryType.Normal, data: new Uint8Array([1, 2, 3, 250]) }, { index: 70_002, term: 7, type: EntryType.Normal, data: new Uint8Array(0) }]
}

/** The same frame with its top-level keys written in reverse canonical order: valid CBOR, not canonical. */
function keysReversed (frame: Uint8Array): Uint8Array {
  const value = decode(frame) as Record<string, unknown>
  const keys = Object.keys(value).sort((a, b) => a.length - b.length || (a < b ? -1 : 1)).reverse()
  const w = new CanonicalWriter()
  w.head(5, keys.length)
  for (const key of keys) { w.key(key); w.value(value[key]) }
  return w.bytes()
}

describe('decodeFrame', () => {
  it('should give back the encoded message through the fast reader', () => {
    const frame = encodeFrame(app)
    expect(decodeCanonicalFast(frame)).not.toBe(NOT_FAST)
    expect(decodeFrame(frame)).toEqual(app)
  })

  it('should still accept a frame whose keys are not in canonical order, with the same message', () => {
    const shuffled = keysReversed(encodeFrame(app))
    expect(decodeCanonicalFast(shuffled)).toBe(NOT_FAST)
    expect(decodeFrame(shuffled)).toEqual(app)
  })
})
