/**
 * A log entry is encoded once for its WAL record and the App frames that carry it (issue 16, CPU per
 * commit): the leader wrote each entry's bytes (a signed envelope) three times with two followers.
 * - same bytes as before, on the wire and on disk: the frame and the record equal @ipld/dag-cbor's encoding
 *   of the plain maps they always held, for entries with and without a proposal id;
 * - an entry's data is encoded once for a WAL record and two followers' frames (counted in every value handed
 *   to encodeCanonical);
 * - an entry whose fields change is encoded again, and only the most recent entries' bytes are kept;
 * - a PreEncoded value inside a value only the general encoder can write (a float) gives the same bytes.
 */
import { describe, expect, it, vi } from 'vitest'
import { encode as dagEncode } from '@ipld/dag-cbor'
import { crc32 } from 'node:zlib'
import { EntryType, MessageType } from '../../src/consensus/core/types.js'
import type { Entry, Message } from '../../src/consensus/core/types.js'

/** @ipld/dag-cbor's bytes as a plain Uint8Array (it may hand back a Buffer). */
const encode = (value: unknown): Uint8Array => new Uint8Array(dagEncode(value))
const seen: unknown[] = []
vi.mock('../../src/codec/cbor.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/codec/cbor.js')>()
  return { ...original, encodeCanonical: (value: unknown) => { seen.push(value); return original.encodeCanonical(value) } }
})

const { encodeFrame } = await import('../../src/consensus/transport/wire.js')
const { encodeRecord } = await import('../../src/consensus/storage/record.js')
const { ENTRY_ENCODINGS_MAX, keptEntryEncodings } = await import('../../src/consensus/entry-encoding.js')
const { encodeCanonicalFast, PreEncoded, encodeCanonical } = await import('../../src/codec/index.js')

function entry (index: number, withId: boolean, size = 700): Entry {
  const data = new Uint8Array(size).map((_, i) => (i * 31 + index) & 0xff)
  return { index, term: 7, type: EntryType.Normal, data, ...(withId ? { proposalId: { clientId: `c-${index}`, seq: index * 3 } } : {}) }
}
const plainEntry = (e: Entry): Record<string, unknown> => ({ i: e.index, m: e.term, y: e.type, d: e.data, ...(e.proposalId !== undefined ? { c: e.proposalId.clientId, s: e.proposalId.seq } : {}) })
function app (to: string, entries: Entry[]): Message {
  return { type: MessageType.App, from: 'leader', to, term: 7, index: 10, logTerm: 7, entries, commit: 9, reject: false, rejectHint: 0 }
}
const plainApp = (m: Message): Record<string, unknown> => ({
  v: 1, t: m.type, f: m.from, o: m.to, m: m.term, i: m.index, l: m.logTerm, e: m.entries.map(plainEntry), c: m.commit, r: m.reject, h: m.rejectHint
})
function plainRecord (e: Entry): Uint8Array {
  const payload = encode({ t: 1, e: plainEntry(e) })
  const out = Buffer.alloc(8 + payload.length)
  out.writeUInt32BE(payload.length, 0)
  out.writeUInt32BE(crc32(payload), 4)
  out.set(payload, 8)
  return new Uint8Array(out)
}
/** How many times `data` (by reference) is inside `value`. */
function occurrences (value: unknown, data: Uint8Array): number {
  if (value === data) return 1
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + occurrences(v, data), 0)
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) return Object.values(value).reduce((n: number, v) => n + occurrences(v, data), 0)
  return 0
}

describe('log entries encoded once for the WAL and the followers', () => {
  it('writes the same frame and record bytes as the plain maps', () => {
    for (let k = 0; k < 50; k++) {
      const entries = Array.from({ length: 1 + (k % 3) }, (_, j) => entry(100 + k * 4 + j, (k + j) % 2 === 0, 1 + k * 37))
      for (const to of ['f1', 'f2']) expect(new Uint8Array(encodeFrame(app(to, entries)))).toEqual(encode(plainApp(app(to, entries))))
      for (const e of entries) expect(new Uint8Array(encodeRecord({ kind: 'entry', entry: e }))).toEqual(plainRecord(e))
    }
  })

  it("encodes an entry's data once for its WAL record and two followers' frames", () => {
    const e = entry(5_000, true)
    seen.length = 0
    encodeRecord({ kind: 'entry', entry: e })
    encodeFrame(app('f1', [e]))
    encodeFrame(app('f2', [e]))
    expect(seen.length).toBeGreaterThanOrEqual(3)
    expect(occurrences(seen, e.data)).toBe(1)
  })

  it('encodes an entry again when its fields change, and keeps only the most recent entries', () => {
    const e = entry(6_000, false)
    const before = encodeFrame(app('f1', [e]))
    e.term = 8
    expect(new Uint8Array(encodeFrame(app('f1', [e])))).toEqual(encode(plainApp(app('f1', [e]))))
    expect(encodeFrame(app('f1', [e]))).not.toEqual(before)
    e.proposalId = { clientId: 'late', seq: 1 }
    expect(new Uint8Array(encodeFrame(app('f1', [e])))).toEqual(encode(plainApp(app('f1', [e]))))
    for (let i = 0; i < 2 * ENTRY_ENCODINGS_MAX; i++) encodeRecord({ kind: 'entry', entry: entry(7_000 + i, true, 64) })
    expect(keptEntryEncodings().entries).toBe(ENTRY_ENCODINGS_MAX)
  })

  it('falls back to the general encoder with PreEncoded values inside', () => {
    const inner = { a: 1, b: [new Uint8Array([1, 2])] }
    expect(new Uint8Array(encodeCanonicalFast({ x: 1.5, e: new PreEncoded(encodeCanonical(inner)) }))).toEqual(encode({ x: 1.5, e: inner }))
    expect(new Uint8Array(encodeCanonicalFast([new PreEncoded(encodeCanonical(inner)), 2]))).toEqual(encode([inner, 2]))
  })
})
