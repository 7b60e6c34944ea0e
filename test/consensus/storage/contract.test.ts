/**
 * One contract suite for every Storage (STYLE rule 25): the file WAL and the in-memory crash model must
 * agree on what survives a crash or a reopen.
 */
import { afterEach, describe, expect, it } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
import type { Storage } from '../../../src/consensus/storage/types.js'
import { EntryType } from '../../../src/consensus/core/types.js'
import type { Entry, Snapshot } from '../../../src/consensus/core/types.js'

export const entry = (index: number, term = 1, bytes = 16): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(bytes).fill(index % 251) })
const range = (from: number, to: number, term = 1): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term))
const snapshot = (index: number, term: number): Snapshot => ({ meta: { index, term, confState: { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array([index]) })

interface Harness {
  name: string
  open(): Storage
  /** Reopens after a crash: everything not synced may be gone. */
  crash(storage: Storage): Storage
  cleanup(): void
}

const dirs: string[] = []
const fileHarness = (): Harness => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-wal-'))
  dirs.push(dir)
  return {
    name: 'FileStorage',
    open: () => new FileStorage(dir, { segmentBytesMax: 4096 }),
    crash: (storage) => { storage.close(); return new FileStorage(dir, { segmentBytesMax: 4096 }) },
    cleanup: () => { fs.rmSync(dir, { recursive: true, force: true }) }
  }
}
const memoryHarness = (): Harness => ({
  name: 'MemoryStorage',
  open: () => new MemoryStorage(),
  crash: (storage) => { (storage as MemoryStorage).crash(); return storage },
  cleanup: () => {}
})

afterEach(() => { for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true }) })

for (const make of [fileHarness, memoryHarness]) {
  describe(`Storage contract: ${make().name}`, () => {
    it('should keep synced entries and hard state across a crash', () => {
      const h = make()
      let s = h.open()
      s.append(range(1, 50)); s.setHardState({ term: 2, vote: 'a', commit: 40 }); s.sync()
      s = h.crash(s)
      const state = s.load()
      expect(state.entries.map((e) => e.index)).toEqual(range(1, 50).map((e) => e.index))
      expect(state.hardState).toEqual({ term: 2, vote: 'a', commit: 40 })
      expect(state.entries[49]!.data).toEqual(entry(50).data)
      s.close()
    })

    it('should overwrite a conflicting suffix', () => {
      const h = make()
      let s = h.open()
      s.setHardState({ term: 2, vote: null, commit: 0 }); s.append(range(1, 10, 1)); s.append(range(6, 8, 2)); s.sync()
      s = h.crash(s)
      expect(s.load().entries.map((e) => `${e.index}@${e.term}`)).toEqual(['1@1', '2@1', '3@1', '4@1', '5@1', '6@2', '7@2', '8@2'])
      s.close()
    })

    it('should keep a snapshot and the entries after it through compaction and a crash', () => {
      const h = make()
      let s = h.open()
      s.append(range(1, 300)); s.setHardState({ term: 1, vote: null, commit: 300 }); s.sync()
      s.saveSnapshot(snapshot(200, 1)); s.compact(150)
      s.append(range(301, 310)); s.sync()
      s = h.crash(s)
      const state = s.load()
      expect(state.snapshot?.meta.index).toBe(200)
      expect(state.snapshot?.data).toEqual(new Uint8Array([200]))
      expect(state.entries[0]!.index).toBeLessThanOrEqual(201)
      expect(state.entries[state.entries.length - 1]!.index).toBe(310)
      const indexes = state.entries.map((e) => e.index)
      expect(indexes).toEqual(Array.from({ length: indexes.length }, (_, i) => indexes[0]! + i))
      s.close()
    })

    it('should let a snapshot the log disagrees with replace the whole log', () => {
      const h = make()
      let s = h.open()
      s.setHardState({ term: 3, vote: null, commit: 0 }); s.append(range(1, 20, 1)); s.sync()
      s.saveSnapshot(snapshot(30, 3))
      s.append(range(31, 32, 3)); s.sync()
      s = h.crash(s)
      const state = s.load()
      expect(state.snapshot?.meta.index).toBe(30)
      expect(state.entries.map((e) => e.index)).toEqual([31, 32])
      s.close()
    })
  })
}

describe('FileStorage recovery', () => {
  const openFresh = (): { dir: string, storage: FileStorage } => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-wal-'))
    dirs.push(dir)
    return { dir, storage: new FileStorage(dir, { segmentBytesMax: 1 << 20 }) }
  }
  const lastSegment = (dir: string): string => path.join(dir, fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).sort().pop()!)

  it('should truncate a torn tail: a partial record, garbage or zeros after the last synced write', () => {
    for (const tail of [Buffer.from([0, 0, 0, 40, 1, 2, 3]), Buffer.alloc(64), Buffer.from('not a record at all, just garbage')]) {
      const { dir, storage } = openFresh()
      storage.setHardState({ term: 1, vote: null, commit: 0 }); storage.append(range(1, 5)); storage.sync(); storage.close()
      fs.appendFileSync(lastSegment(dir), tail)
      const reopened = new FileStorage(dir)
      expect(reopened.load().entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5])
      reopened.append(range(6, 6)); reopened.sync(); reopened.close()
      expect(new FileStorage(dir).load().entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6])
    }
  })

  it('should refuse to start on corruption before the tail, naming the file and offset', () => {
    const { dir, storage } = openFresh()
    storage.append(range(1, 20)); storage.sync(); storage.close()
    const file = lastSegment(dir)
    const bytes = fs.readFileSync(file)
    bytes[60] = (bytes[60] ?? 0) ^ 0xff
    fs.writeFileSync(file, bytes)
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file }))
    expect(() => new FileStorage(dir)).toThrow(/at byte \d+/)
  })

  it('should refuse a corrupt newest snapshot and a missing middle segment', () => {
    const a = openFresh()
    a.storage.append(range(1, 10)); a.storage.sync(); a.storage.saveSnapshot(snapshot(5, 1)); a.storage.close()
    const snap = path.join(a.dir, FileStorage.snapshotFileName(5))
    const bytes = fs.readFileSync(snap); bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff; fs.writeFileSync(snap, bytes)
    expect(() => new FileStorage(a.dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file: snap }))

    const b = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-wal-')); dirs.push(b)
    const s = new FileStorage(b, { segmentBytesMax: 512 })
    // Segments rotate after a sync (never with unsynced records in flight), as the driver syncs per batch.
    for (let i = 1; i <= 60; i++) { s.append([entry(i)]); s.sync() }
    s.close()
    const segments = fs.readdirSync(b).filter((n) => n.startsWith('wal-')).sort()
    expect(segments.length).toBeGreaterThan(3)
    fs.rmSync(path.join(b, segments[1]!))
    expect(() => new FileStorage(b, { segmentBytesMax: 512 })).toThrow(expect.objectContaining({ name: 'StorageCorruptionError' }))
  })

  it('should rotate segments, delete them after compaction, and keep the hard state', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-wal-')); dirs.push(dir)
    let s = new FileStorage(dir, { segmentBytesMax: 1024 })
    s.setHardState({ term: 7, vote: 'x', commit: 1 })
    for (let i = 1; i <= 400; i++) { s.append([entry(i, 7)]); s.sync() }
    const before = fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).length
    s.saveSnapshot(snapshot(390, 7)); s.compact(390)
    const after = fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).length
    expect(after).toBeLessThan(before)
    s.close()
    s = new FileStorage(dir, { segmentBytesMax: 1024 })
    const state = s.load()
    expect(state.hardState).toEqual({ term: 7, vote: 'x', commit: 1 })
    expect(state.entries.map((e) => e.index)).toEqual(range(391, 400).map((e) => e.index))
    s.close()
  })
})
