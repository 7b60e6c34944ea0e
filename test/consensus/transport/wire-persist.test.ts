/**
 * Goal: no value a peer can send makes a node persist a hard state, WAL record or snapshot that its own
 * decoders later refuse (issue 9 item 2). Method: fast-check builds Raft frames with extreme numbers
 * (up to 2^53 - 1), wrong-but-typed fields and random message types; each goes through the wire codec
 * (a refused frame is fine: MalformedFrameError) and into a follower's RawNode, which is then ticked
 * through elections (pre-vote off, so it counts its term up from whatever it adopted). Every Ready's
 * hard state and entries are encoded as WAL records and read back, and every snapshot is written as a
 * snapshot file and read back: both must decode to exactly what was persisted.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encode } from '@ipld/dag-cbor'
import { RawNode, createPrng, EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { ConfState, Message, Ready } from '../../../src/consensus/core/index.js'
import { WIRE_NUMBER_MAX } from '../../../src/consensus/core/constants.js'
import { decodeFrame, encodeFrame } from '../../../src/consensus/transport/wire.js'
import { encodeRecord, readRecord } from '../../../src/consensus/storage/record.js'
import type { WalRecord } from '../../../src/consensus/storage/record.js'
import { readSnapshotFile, writeSnapshotFile, snapshotFileName } from '../../../src/consensus/storage/snapshot-file.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-wire-persist-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const number = fc.oneof(
  fc.integer({ min: 0, max: 12 }),
  fc.constantFrom(WIRE_NUMBER_MAX - 1, WIRE_NUMBER_MAX, WIRE_NUMBER_MAX + 1, Number.MAX_SAFE_INTEGER - 1,
    Number.MAX_SAFE_INTEGER),
  fc.nat()
)
const peer = fc.constantFrom('a', 'c')
const types = Object.values(MessageType).filter((t) => t !== MessageType.Hup)
const conf: fc.Arbitrary<ConfState> = fc.subarray(['a', 'b', 'c'], { minLength: 1 })
  .map((voters) => ({ voters, votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }))
const entry = fc.record({
  index: number,
  term: number,
  type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange, EntryType.Empty),
  data: fc.uint8Array({ maxLength: 8 }),
  proposalId: fc.option(fc.record({ clientId: fc.string({ maxLength: 300 }), seq: number }), { nil: undefined })
}).map((e) => e.proposalId === undefined ? { index: e.index, term: e.term, type: e.type, data: e.data } : e)

const frame: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...types),
  from: peer,
  to: fc.constant('b'),
  term: number,
  index: number,
  logTerm: number,
  entries: fc.array(entry, { maxLength: 3 }),
  commit: number,
  reject: fc.boolean(),
  rejectHint: number,
  snapshot: fc.option(fc.record({
    meta: fc.record({ index: number, term: number, confState: conf }),
    chunk: fc.uint8Array({ maxLength: 8 }),
    offset: number,
    done: fc.boolean()
  }), { nil: undefined }),
  force: fc.option(fc.boolean(), { nil: undefined })
}).map(({ snapshot, force, ...m }) => ({
  ...m,
  ...(snapshot !== undefined
    ? { snapshotMeta: snapshot.meta, snapshotChunk: snapshot.chunk, snapshotOffset: snapshot.offset, snapshotDone: snapshot.done }
    : {}),
  ...(force !== undefined ? { force } : {})
}))

function roundTripRecord (record: WalRecord): void {
  const read = readRecord(encodeRecord(record), 0)
  expect(read.ok, `WAL record ${JSON.stringify(record)} must read back`).toBe(true)
  if (read.ok) expect(read.record).toEqual(record)
}

function checkPersisted (ready: Ready): void {
  if (ready.hardState !== undefined) roundTripRecord({ kind: 'hard-state', hardState: ready.hardState })
  for (const e of ready.entries) roundTripRecord({ kind: 'entry', entry: e })
  if (ready.snapshot !== undefined) {
    writeSnapshotFile(dir, ready.snapshot)
    const file = path.join(dir, snapshotFileName(ready.snapshot.meta.index))
    expect(readSnapshotFile(file)).toEqual(ready.snapshot)
    fs.rmSync(file)
  }
}

function follower (): RawNode {
  const entries = [1, 2, 3].map((index) => ({ index, term: index === 3 ? 2 : 1, type: EntryType.Empty, data: new Uint8Array(0) }))
  return new RawNode({ id: 'b', electionTicks: 3, heartbeatTicks: 1, preVote: false, random: createPrng(7) },
    { hardState: { term: 2, vote: null, commit: 2 }, entries },
    { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false })
}

function drain (node: RawNode): void {
  for (let i = 0; i < 50 && node.hasReady(); i++) {
    const ready = node.ready()
    checkPersisted(ready)
    node.advance()
  }
}

describe('wire input versus persisted state', () => {
  it('should persist only what its own decoders read back when peers send extreme frames', () => {
    fc.assert(fc.property(fc.array(frame, { minLength: 1, maxLength: 4 }), (frames) => {
      const node = follower()
      for (const m of frames) {
        let decoded: Message
        try {
          decoded = decodeFrame(encodeFrame(m))
        } catch (err) {
          expect((err as Error).name).toBe('MalformedFrameError')
          continue
        }
        node.step(decoded)
        drain(node)
        for (let t = 0; t < 8; t++) { node.tick(); drain(node) }
        node.checkInvariants()
      }
    }), { numRuns: 400, seed: Number(process.env.FC_SEED ?? 20261201) })
  })
})

describe('wire number bounds', () => {
  it('should refuse a frame whose term, index, offset or seq is above WIRE_NUMBER_MAX', () => {
    const base: Message = {
      type: MessageType.App, from: 'a', to: 'b', term: 1, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0
    }
    expect(decodeFrame(encodeFrame({ ...base, term: WIRE_NUMBER_MAX })).term).toBe(WIRE_NUMBER_MAX)
    const tooBig = [
      { ...base, term: WIRE_NUMBER_MAX + 1 },
      { ...base, commit: WIRE_NUMBER_MAX + 1 },
      { ...base, entries: [{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(0), proposalId: { clientId: 'x', seq: WIRE_NUMBER_MAX + 1 } }] },
      { ...base, type: MessageType.Snap, snapshotMeta: { index: 1, term: 1, confState: { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } }, snapshotChunk: new Uint8Array(0), snapshotOffset: WIRE_NUMBER_MAX + 1, snapshotDone: true },
      { ...base, type: MessageType.ReadIndex, context: new Uint8Array(1024) }
    ]
    for (const m of tooBig) expect(() => decodeFrame(encodeFrame(m))).toThrow(expect.objectContaining({ name: 'MalformedFrameError' }))
  })

  it('should refuse a snapshot meta that is not a map or whose confState is null, with MalformedFrameError', () => {
    const frame = { v: 1, t: 'snap', f: 'a', o: 'b', m: 1, i: 0, l: 0, e: [], c: 0, r: false, h: 0, sc: new Uint8Array(0), so: 0, sd: true }
    const confState = { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
    expect(decodeFrame(encode({ ...frame, sm: { index: 1, term: 1, confState } })).snapshotMeta?.confState).toEqual(confState)
    for (const sm of [null, 5, [], { index: 1, term: 1, confState: null }, { index: 1, term: 1, confState: 'x' }]) {
      expect(() => decodeFrame(encode({ ...frame, sm })), JSON.stringify(sm)).toThrow(expect.objectContaining({ name: 'MalformedFrameError' }))
    }
  })
})
