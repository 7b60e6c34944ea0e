/**
 * Goal: every reader of bytes from a peer, an operator's paste or the disk gives one verdict on a value nested
 * deeper than DECODE_DEPTH_MAX, whatever stack the caller left, and that verdict is the reader's own typed
 * refusal. Before, each called @ipld/dag-cbor's recursive decode directly: a value nested 3,000 levels deep
 * in a key the reader ignores was read with a full stack and refused with little of it (a caught RangeError).
 * For a leader's snapshot that meant canRestore passing and the restore after persisting it failing; for a
 * WAL record, a torn tail on one start and corruption on the next.
 * Method: each format's honest bytes get one more key holding the deep value; each reader decodes them with
 * a full stack and with a tenth of it, and both verdicts must be the refusal.
 */
import { crc32 } from 'node:zlib'
import { encode } from '@ipld/dag-cbor'
import { describe, expect, it } from 'vitest'
import { cidOfBytes } from '../../src/codec/index.js'
import { decodeNodeSnapshot, encodeNodeSnapshot } from '../../src/consensus/node-snapshot.js'
import { encodeRecord, readRecord } from '../../src/consensus/storage/record.js'
import { readSnapshotFile } from '../../src/consensus/storage/snapshot-file.js'
import type { StorageFs } from '../../src/consensus/storage/storage-fs.js'
import { decodeFrame, encodeFrame } from '../../src/consensus/transport/wire.js'
import { EntryType, MessageType } from '../../src/consensus/core/types.js'
import { decodeResponse, encodeResponse } from '../../src/content/core/wire.js'
import { decodeJoinString } from '../../src/net/index.js'
import { nestedArrays, verdict, withExtraKey, withLittleStack } from './deep-values.js'

const DEEP = nestedArrays(3_000)

/** The reader's verdict with a full stack and with little of it left. */
function bothVerdicts (read: () => unknown): [string, string] {
  return [verdict(read), withLittleStack(() => verdict(read))]
}

/** `u32 length ‖ u32 crc32 ‖ payload`: the framing of WAL records and snapshot files. */
function framed (payload: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + payload.length)
  out.writeUInt32BE(payload.length, 0)
  out.writeUInt32BE(crc32(payload), 4)
  out.set(payload, 8)
  return out
}

describe('bounded readers', () => {
  it('should refuse a raft frame carrying a deep value alike whatever the stack', () => {
    const frame = encodeFrame({
      type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 3, index: 0, logTerm: 0, entries: [], commit: 5, reject: false, rejectHint: 0
    })
    expect(decodeFrame(frame).commit).toBe(5)
    // `q` is no frame field (`x` is the read context): decoded, the frame would be taken.
    const [full, little] = bothVerdicts(() => decodeFrame(withExtraKey(frame, DEEP, 'q')))
    expect(little).toBe(full)
    expect(full).toBe('MalformedFrameError: not CBOR: nesting deeper than 512 levels')
  })

  it('should read a WAL record carrying a deep value as undecodable whatever the stack', () => {
    const record = encodeRecord({ kind: 'entry', entry: { index: 1, term: 1, type: EntryType.Normal, data: Uint8Array.of(7) } })
    expect(readRecord(record, 0).ok).toBe(true)
    const buffer = framed(withExtraKey(record.subarray(8), DEEP))
    const reason = (): string => { const r = readRecord(buffer, 0); return r.ok ? 'ok' : r.reason }
    const [full, little] = [reason(), withLittleStack(reason)]
    expect(little).toBe(full)
    expect(full).toBe('undecodable')
  })

  it('should refuse a snapshot file carrying a deep value as corrupt whatever the stack', () => {
    const meta = { index: 9, term: 2, confState: { voters: ['n1'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } }
    const file = 'snap-0000000000000009.snap'
    const fsOf = (buffer: Buffer): StorageFs => ({ readFileSync: () => buffer }) as unknown as StorageFs
    const payload = encode({ meta, data: Uint8Array.of(1) })
    expect(readSnapshotFile(file, fsOf(framed(payload))).meta).toEqual(meta)
    const deep = fsOf(framed(withExtraKey(payload, DEEP)))
    const [full, little] = bothVerdicts(() => readSnapshotFile(file, deep))
    expect(little).toBe(full)
    expect(full).toBe(`StorageCorruptionError: storage corrupt in ${file} at byte 8: snapshot is not CBOR: nesting deeper than 512 levels`)
  })

  it('should refuse a node snapshot carrying a deep value whatever the stack, as canRestore and restore both decode it', () => {
    const data = encodeNodeSnapshot({ machine: Uint8Array.of(1), sessions: {} })
    expect(decodeNodeSnapshot(data)).not.toBeNull()
    const [full, little] = bothVerdicts(() => decodeNodeSnapshot(withExtraKey(data, DEEP)))
    expect(little).toBe(full)
    expect(full).toBe('null')
  })

  it('should refuse a content answer carrying a deep value with one message whatever the stack', () => {
    const answer = encodeResponse({ type: 'none', cid: cidOfBytes(Uint8Array.of(1)) })
    expect(decodeResponse(answer).type).toBe('none')
    const [full, little] = bothVerdicts(() => decodeResponse(withExtraKey(answer, DEEP)))
    expect(little).toBe(full)
    // 3,000 levels are 3,001 items too: the item bound (MESSAGE_ITEMS_MAX) answers first.
    expect(full).toBe('MalformedContentError: response is not DAG-CBOR: more than 32 data items')
  })

  it('should refuse a content answer holding a flood of one-byte maps before decoding any', () => {
    // 500,000 × {} in one array under one more key: 0.5 MB on the wire, ≈ 45 MB and a quarter second to decode.
    const count = 500_000
    const flood = new Uint8Array(5 + count).fill(0xa0)
    flood.set([0x9a, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff])
    const answer = encodeResponse({ type: 'none', cid: cidOfBytes(Uint8Array.of(1)) })
    expect(verdict(() => decodeResponse(withExtraKey(answer, flood)))).toBe('MalformedContentError: response is not DAG-CBOR: more than 32 data items')
    // The largest honest answer is within the bound.
    const block = encodeResponse({ type: 'block', cid: cidOfBytes(Uint8Array.of(1)), data: Uint8Array.of(1) })
    expect(decodeResponse(block).type).toBe('block')
  })

  it('should refuse a pasted join string carrying a deep value whatever the stack', () => {
    const info = encode({ a: ['/ip4/127.0.0.1/tcp/4101'], c: 'abc', k: new Uint8Array(32).fill(7) })
    const text = (payload: Uint8Array): string => `revoada1:${Buffer.from(payload).toString('base64url')}`
    expect(decodeJoinString(text(info)).clusterId).toBe('abc')
    // 2,500 levels: the string stays under JOIN_STRING_CHARS_MAX (4,096).
    const deep = text(withExtraKey(info, nestedArrays(2_500)))
    const [full, little] = bothVerdicts(() => decodeJoinString(deep))
    expect(little).toBe(full)
    expect(full).toMatch(/^JoinStringInvalidError: /)
  })
})
