/**
 * encodeCanonicalFast (which encodeCanonical is) must give exactly @ipld/dag-cbor's bytes on every value of
 * its domain (and fall back for the rest); so must the Raft frames and WAL records written with it.
 * Seeded property tests; fast-check prints the seed and counterexample on failure.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decode, encode } from '@ipld/dag-cbor'
import { encodeCanonical, encodeCanonicalFast, cidOfValue } from '../../src/codec/index.js'
import { encodeFrame } from '../../src/consensus/transport/wire.js'
import { encodeRecord } from '../../src/consensus/storage/record.js'
import { RECORD_HEADER_BYTES } from '../../src/consensus/storage/constants.js'
import { EntryType, MessageType } from '../../src/consensus/core/types.js'
import type { Entry, Message } from '../../src/consensus/core/types.js'

const SEED = Number(process.env.FAST_ENCODE_SEED ?? 424242)
const key = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('v', 'kind', 'prev', 'sig', 'height', 'voters', 'outcome', 'é', 'aa', 'b'))
const leaf = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.maxSafeNat(), fc.integer({ min: 0, max: 300 }),
  fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 300 }), fc.double({ noNaN: true, noDefaultInfinity: true })
)
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(key, tie('node'), { maxKeys: 6 }))
})).node

describe('encodeCanonicalFast', () => {
  it('should produce the bytes of encodeCanonical for any value', () => {
    fc.assert(fc.property(value, (v) => {
      expect(Buffer.from(encodeCanonicalFast(v)).toString('hex')).toBe(Buffer.from(encode(v)).toString('hex'))
    }), { seed: SEED, numRuns: 1000 })
  })

  it('should fall back for values outside its domain (CIDs) and reject undefined like encodeCanonical', () => {
    const cid = cidOfValue({ a: 1 })
    expect(encodeCanonicalFast({ link: cid })).toEqual(encode({ link: cid }))
    expect(encodeCanonical({ link: cid })).toEqual(encode({ link: cid }))
    expect(() => encodeCanonicalFast({ a: undefined })).toThrow(expect.objectContaining({ name: 'MalformedEncodingError' }))
    expect(() => encodeCanonical({ a: 1.5, b: undefined })).toThrow(expect.objectContaining({ name: 'MalformedEncodingError' }))
  })

  const id = fc.string({ minLength: 1, maxLength: 60 })
  const num = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 48 }))
  const entry: fc.Arbitrary<Entry> = fc.record({
    index: num, term: num, type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange, EntryType.Empty), data: fc.uint8Array({ maxLength: 600 })
  }).chain((e) => fc.option(fc.record({ clientId: id, seq: num }), { nil: undefined }).map((proposalId) => proposalId === undefined ? e : { ...e, proposalId }))

  it('should write Raft frames and WAL records byte for byte as @ipld/dag-cbor did', () => {
    const message: fc.Arbitrary<Message> = fc.record({
      type: fc.constantFrom(...Object.values(MessageType).filter((t) => t !== MessageType.Hup)), from: id, to: id, term: num, index: num,
      logTerm: num, entries: fc.array(entry, { maxLength: 4 }), commit: num, reject: fc.boolean(), rejectHint: num
    }, { requiredKeys: ['type', 'from', 'to', 'term', 'index', 'logTerm', 'entries', 'commit', 'reject', 'rejectHint'] })
      .chain((m) => fc.record({ context: fc.uint8Array({ maxLength: 40 }), force: fc.boolean(), transferee: id, commitOnly: fc.constant(true as const) }, { requiredKeys: [] }).map((extra) => ({ ...m, ...extra })))
    fc.assert(fc.property(message, (m) => {
      const bytes = encodeFrame(m)
      expect(Buffer.from(encode(decode(bytes))).equals(Buffer.from(bytes))).toBe(true)
    }), { seed: SEED, numRuns: 500 })
    fc.assert(fc.property(entry, (e) => {
      const record = encodeRecord({ kind: 'entry', entry: e })
      const payload = record.subarray(RECORD_HEADER_BYTES)
      expect(Buffer.from(encode(decode(payload))).equals(Buffer.from(payload))).toBe(true)
    }), { seed: SEED, numRuns: 500 })
  })
})
