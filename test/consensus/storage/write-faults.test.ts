/**
 * Disk full, short writes and EIO under FileStorage (issue 10 items 2 and 3). Goal: a failed write is a
 * typed error, leaves no half record behind (which later valid records would turn into "corruption" at the
 * next start), loses nothing synced, and the same storage writes again once space returns. Method: a
 * FaultyFs injects ENOSPC after a byte quota, EIO on fdatasync/fsync and short writes; every case reopens
 * the directory to see what a restart would see.
 */
import { afterEach, describe, expect, it } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { RECORD_HEADER_BYTES } from '../../../src/consensus/storage/constants.js'
import { EntryType } from '../../../src/consensus/core/types.js'
import type { Entry, Snapshot } from '../../../src/consensus/core/types.js'
import { FaultyFs } from './faulty-fs.js'

const entry = (index: number, term = 1, bytes = 64): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(bytes).fill(index % 251) })
const range = (from: number, to: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i))
const snapshot = (index: number, term: number, bytes = 4096): Snapshot => ({
  meta: { index, term, confState: { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } },
  data: new Uint8Array(bytes).fill(index % 251)
})
const indexes = (s: FileStorage): number[] => s.load().entries.map((e) => e.index)
/** A new storage whose hard state is at term 1 (the Storage contract: hard state before entries of its term). */
function fresh (dir: string, init: ConstructorParameters<typeof FileStorage>[1] = {}): FileStorage {
  const s = new FileStorage(dir, init)
  s.setHardState({ term: 1, vote: null, commit: 0 }); s.sync()
  return s
}

const dirs: string[] = []
const tempDir = (): string => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-faults-')); dirs.push(d); return d }
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }) })

const walSize = (dir: string): number => fs.readdirSync(dir).filter((n) => n.startsWith('wal-'))
  .reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0)

describe('FileStorage under write faults', () => {
  it('should throw StorageFullError on a short write then ENOSPC, roll the half record back, and write again when space returns', () => {
    const dir = tempDir()
    const disk = new FaultyFs()
    // No pre-written space: every append needs new space (the pre-written case is below).
    const s = fresh(dir, { fs: disk, preallocateBytes: 0 })
    s.append(range(1, 5)); s.sync()
    const synced = walSize(dir)
    disk.spaceLeftBytes = 100 // less than the next batch: a short write, then ENOSPC
    expect(() => s.append(range(6, 10))).toThrow(expect.objectContaining({ name: 'StorageFullError' }))
    expect(disk.calls.ftruncate).toBe(1)
    expect(walSize(dir)).toBe(synced)
    expect(() => s.append(range(6, 10))).toThrow(expect.objectContaining({ name: 'StorageFullError' }))
    disk.spaceLeftBytes = undefined // space returns: the same instance takes the retried batch
    s.append(range(6, 12)); s.sync(); s.close()
    // Without the rollback the half record would sit before valid ones: a corruption error at restart.
    expect(indexes(new FileStorage(dir))).toEqual(range(1, 12).map((e) => e.index))
  })

  it('should roll back the unsynced tail when fdatasync fails with EIO, and keep everything synced before', () => {
    const dir = tempDir()
    const disk = new FaultyFs()
    const s = fresh(dir, { fs: disk })
    s.append(range(1, 3)); s.sync()
    s.setHardState({ term: 2, vote: 'a', commit: 3 }); s.append(range(4, 6))
    disk.failSyncs = 1
    expect(() => s.sync()).toThrow(expect.objectContaining({ name: 'StorageIoError' }))
    // The pages of the failed fdatasync are never trusted: they are cut off, not re-synced.
    expect(new FileStorage(dir).load().entries.map((e) => e.index)).toEqual([1, 2, 3])
    s.setHardState({ term: 2, vote: 'a', commit: 3 }); s.append(range(4, 6)); s.sync(); s.close()
    const state = new FileStorage(dir).load()
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6])
    expect(state.hardState).toEqual({ term: 2, vote: 'a', commit: 3 })
  })

  it('should survive writes that return fewer bytes than asked, in the WAL and in snapshot files', () => {
    const dir = tempDir()
    const disk = new FaultyFs()
    disk.writeChunkBytesMax = 7
    const s = fresh(dir, { fs: disk })
    s.append(range(1, 20)); s.sync()
    s.saveSnapshot(snapshot(10, 1)); s.close()
    const state = new FileStorage(dir).load()
    expect(state.snapshot?.meta.index).toBe(10)
    expect(state.snapshot?.data.length).toBe(4096)
    expect(state.entries.map((e) => e.index)).toEqual(range(11, 20).map((e) => e.index))
  })

  it('should keep the old snapshot and leave no partial file when the disk fills during a snapshot', () => {
    const dir = tempDir()
    const disk = new FaultyFs()
    const s = fresh(dir, { fs: disk })
    s.append(range(1, 20)); s.sync(); s.saveSnapshot(snapshot(5, 1))
    disk.spaceLeftBytes = 1000 // the 4 KiB snapshot does not fit
    expect(() => s.saveSnapshot(snapshot(15, 1))).toThrow(expect.objectContaining({ name: 'StorageFullError' }))
    expect(fs.readdirSync(dir).filter((n) => n.includes('.snap'))).toEqual([FileStorage.snapshotFileName(5)])
    disk.spaceLeftBytes = undefined
    s.close()
    const state = new FileStorage(dir).load()
    expect(state.snapshot?.meta.index).toBe(5)
    expect(state.entries.map((e) => e.index)).toEqual(range(6, 20).map((e) => e.index))
  })

  it('should not rename a snapshot into place when its fsync fails', () => {
    const dir = tempDir()
    const disk = new FaultyFs()
    const s = fresh(dir, { fs: disk })
    s.append(range(1, 20)); s.sync()
    disk.failSyncs = 1
    const renames = disk.calls.rename
    expect(() => s.saveSnapshot(snapshot(15, 1))).toThrow(expect.objectContaining({ name: 'StorageIoError' }))
    expect(disk.calls.rename).toBe(renames)
    expect(fs.readdirSync(dir).filter((n) => n.includes('.snap'))).toEqual([])
    s.saveSnapshot(snapshot(15, 1)); s.close()
    expect(new FileStorage(dir).load().snapshot?.meta.index).toBe(15)
  })

  it('should keep writing to the current segment when a rotation cannot create the next one', () => {
    const dir = tempDir()
    const disk = new FaultyFs()
    const segments = (): number => fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).length
    const s = fresh(dir, { fs: disk, segmentBytesMax: 512 })
    s.append(range(1, 10))
    disk.spaceLeftBytes = 0 // the sync needs no space; the next segment's first record does
    s.sync()
    expect(segments()).toBe(1)
    disk.spaceLeftBytes = undefined
    s.append(range(11, 12)); s.sync()
    expect(segments()).toBe(2)
    s.close()
    expect(indexes(new FileStorage(dir))).toEqual(range(1, 12).map((e) => e.index))
  })
})

describe('FileStorage recovery is exact', () => {
  it('should refuse, naming file and offset, a damaged length field followed by valid records', () => {
    const dir = tempDir()
    const s = fresh(dir)
    for (let i = 1; i <= 10; i++) { s.append([entry(i)]); s.sync() }
    s.close()
    const file = path.join(dir, fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).sort().pop() as string)
    const bytes = fs.readFileSync(file)
    // Find the 5th entry record and give it an impossible length: no length field leads to what follows.
    let offset = 0
    for (let i = 0; i < 5; i++) offset += RECORD_HEADER_BYTES + bytes.readUInt32BE(offset)
    bytes.writeUInt32BE(0xfffffff0, offset)
    fs.writeFileSync(file, bytes)
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file, offset }))
    // Nothing was truncated: the operator's repair (docs/OPERATIONS.md) still has every byte.
    expect(fs.statSync(file).size).toBe(bytes.length)
  })

  it('should truncate a torn last record whose length field is damaged when nothing valid follows', () => {
    const dir = tempDir()
    const s = fresh(dir)
    for (let i = 1; i <= 5; i++) { s.append([entry(i)]); s.sync() }
    s.close()
    const file = path.join(dir, fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).sort().pop() as string)
    fs.appendFileSync(file, Buffer.from([0xff, 0xff, 0x00, 0x10, 1, 2, 3, 4, 5, 6]))
    expect(indexes(new FileStorage(dir))).toEqual([1, 2, 3, 4, 5])
  })
})
