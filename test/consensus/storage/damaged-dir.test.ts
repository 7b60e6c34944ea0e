/**
 * FileStorage on data directories damaged in ways a torn write cannot explain (found by
 * `npm run fuzz -- --target wal-recovery`): each must refuse to start with a StorageCorruptionError rather
 * than load an older state and forget a vote or acknowledged entries.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { readRecord } from '../../../src/consensus/storage/record.js'
import { EntryType } from '../../../src/consensus/core/types.js'
import { RawNode, createPrng } from '../../../src/consensus/core/index.js'
import type { Entry } from '../../../src/consensus/core/types.js'

const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(200).fill(index % 251) })
const range = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term))
const segments = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).sort()

/** The end of a segment's last record: where its pre-written zeros (FileStorage's `preallocateBytes`) start. */
function recordsEnd (bytes: Buffer): number {
  let offset = 0
  for (;;) {
    const read = readRecord(bytes, offset)
    if (read.ok) { offset = read.next; continue }
    if (read.reason === 'end' || read.reason === 'zeros') return offset
    throw new Error(`unexpected ${read.reason} at ${offset}`)
  }
}

const dirs: string[] = []
afterEach(() => { for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true }) })

function written (segmentBytesMax: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-damage-'))
  dirs.push(dir)
  const storage = new FileStorage(dir, { segmentBytesMax })
  storage.setHardState({ term: 1, vote: 'a', commit: 0 })
  // Segments rotate only after a sync (a rotation never separates a record from its sync), so sync often.
  storage.append(range(1, 5, 1)); storage.sync()
  storage.append(range(6, 10, 1)); storage.sync()
  storage.setHardState({ term: 2, vote: 'b', commit: 8 })
  storage.append(range(11, 15, 2)); storage.sync()
  storage.append(range(16, 20, 2))
  storage.sync()
  storage.close()
  return dir
}

describe('FileStorage on a damaged data dir', () => {
  it('should refuse a zeroed page followed by valid records in the last segment, not truncate them as a torn tail', () => {
    const dir = written(1 << 20)
    const file = path.join(dir, segments(dir)[0]!)
    const bytes = fs.readFileSync(file)
    bytes.fill(0, 512, 1024)
    fs.writeFileSync(file, bytes)
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file }))
  })

  it('should refuse an older segment copied in as the newest, which would take the hard state back', () => {
    const dir = written(1024)
    const names = segments(dir)
    expect(names.length).toBeGreaterThan(2)
    // The last segment is cut back to its last record, as a rotation would before sealing it.
    const last = path.join(dir, names[names.length - 1]!)
    fs.truncateSync(last, recordsEnd(fs.readFileSync(last)))
    const next = Number(/wal-(\d+)/.exec(names[names.length - 1]!)![1]) + 1
    fs.copyFileSync(path.join(dir, names[0]!), path.join(dir, `wal-${String(next).padStart(10, '0')}.log`))
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError' }))
    expect(() => new FileStorage(dir)).toThrow(/hard state goes back/)
  })

  it('should refuse a log whose entries are of a later term than every hard state left on disk', () => {
    const dir = written(1 << 20)
    const file = path.join(dir, segments(dir)[0]!)
    // Cut out the hard-state records of term 2, keeping every other record intact.
    const bytes = fs.readFileSync(file)
    const kept: Buffer[] = []
    for (let offset = 0; offset < recordsEnd(bytes);) {
      const read = readRecord(bytes, offset)
      if (!read.ok) throw new Error(`unexpected ${read.reason} at ${offset}`)
      if (!(read.record.kind === 'hard-state' && read.record.hardState.term === 2)) kept.push(bytes.subarray(offset, read.next))
      offset = read.next
    }
    fs.writeFileSync(file, Buffer.concat(kept))
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError' }))
    expect(() => new FileStorage(dir)).toThrow(/log reaches term 2 but the hard state is at term 1/)
  })

  it('should refuse old records copied to the tail of the last segment, which would bring back overwritten entries', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-damage-'))
    dirs.push(dir)
    const storage = new FileStorage(dir)
    storage.setHardState({ term: 1, vote: 'a', commit: 0 })
    storage.append(range(1, 20, 1))
    storage.setHardState({ term: 2, vote: 'b', commit: 12 })
    storage.append(range(15, 22, 2)) // a new leader overwrote 15..20
    storage.sync()
    storage.close()
    const file = path.join(dir, segments(dir)[0]!)
    const bytes = fs.readFileSync(file).subarray(0, recordsEnd(fs.readFileSync(file)))
    const records: Array<{ index: number, term: number, bytes: Buffer }> = []
    for (let offset = 0; offset < bytes.length;) {
      const read = readRecord(bytes, offset)
      if (!read.ok) throw new Error(`unexpected ${read.reason}`)
      if (read.record.kind === 'entry') records.push({ index: read.record.entry.index, term: read.record.entry.term, bytes: bytes.subarray(offset, read.next) })
      offset = read.next
    }
    const stale = (index: number, term: number): Buffer => records.find((r) => r.index === index && r.term === term)!.bytes
    // 19@1 after 18@2 (terms going back), and 5@1 again (a rewrite without a conflict): both only by copying.
    for (const copied of [stale(19, 1), stale(5, 1)]) {
      fs.writeFileSync(file, Buffer.concat([bytes, copied]))
      expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError' }))
      expect(() => new FileStorage(dir)).toThrow(/a stale record/)
    }
  })

  it('should still truncate a real torn tail and keep working', () => {
    const dir = written(1 << 20)
    const file = path.join(dir, segments(dir)[0]!)
    fs.appendFileSync(file, Buffer.concat([Buffer.from([0, 0, 1, 0]), Buffer.alloc(40)]))
    const storage = new FileStorage(dir)
    expect(storage.load().entries.map((e) => e.index)).toEqual(range(1, 20, 1).map((e) => e.index))
    expect(storage.load().hardState).toEqual({ term: 2, vote: 'b', commit: 8 })
    storage.close()
  })

  // Pending issue 9 item 5 (found by the wal-recovery fuzz target): PersistencePipeline.handleReady saves an installed
  // snapshot before the Ready's hard state, so a crash in between leaves a snapshot of a later term than
  // the hard state, and the node restarts in a state its core's invariants refuse. Flip to it() once the
  // driver persists the hard state first (or the core lifts its term to the snapshot's on load).
  it('should restart into a valid core state after a crash between saving an installed snapshot and its hard state', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-damage-'))
    dirs.push(dir)
    const conf = { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
    const storage = new FileStorage(dir)
    storage.setHardState({ term: 2, vote: 'b', commit: 5 })
    storage.append(range(1, 5, 2))
    storage.sync()
    // The leader of term 3 sends a snapshot; the driver saves it, then crashes before setHardState(term 3).
    storage.saveSnapshot({ meta: { index: 30, term: 3, confState: conf }, data: new Uint8Array([1]) })
    storage.close()
    const state = new FileStorage(dir).load()
    // The snapshot's term is a committed fact; the vote of term 2 does not carry into term 3.
    expect(state.hardState).toEqual({ term: 3, vote: null, commit: 5 })
    const node = new RawNode({ id: 'a', electionTicks: 5, heartbeatTicks: 1, random: createPrng(1) }, state, conf)
    node.checkInvariants()
  })
})
