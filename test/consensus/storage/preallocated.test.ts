/**
 * Pre-written WAL space (issue 16). Goal: records are written in place over zeros written ahead, so an
 * append + fdatasync never changes the file's size; recovery reads the zeros after the last record as the
 * end of the log (not as damage, not as a torn record), appends continue at the last record's end, and real
 * damage is still refused or truncated exactly as before. Method: the real file system in temp dirs, each
 * case reopening the directory as a restart would (SIGKILL keeps the page cache, so nothing here is about
 * durability; power cuts with in-place writes are power-loss.test.ts, whose segments are pre-written too).
 */
import { afterEach, describe, expect, it } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { encodeRecord, readRecord } from '../../../src/consensus/storage/record.js'
import { nodeStorageFs } from '../../../src/consensus/storage/storage-fs.js'
import { FaultyFs } from './faulty-fs.js'
import { EntryType } from '../../../src/consensus/core/types.js'
import type { Entry } from '../../../src/consensus/core/types.js'

const entry = (index: number, term = 1, bytes = 100): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(bytes).fill(index % 251) })
const range = (from: number, to: number, term = 1): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term))
const indexes = (s: FileStorage): number[] => s.load().entries.map((e) => e.index)
const WINDOW = 64 * 1024

const dirs: string[] = []
const tempDir = (): string => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-prealloc-')); dirs.push(d); return d }
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }) })

const segmentFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.startsWith('wal-')).sort().map((n) => path.join(dir, n))
const lastSegment = (dir: string): string => segmentFiles(dir).pop() as string
const size = (file: string): number => fs.statSync(file).size

/** The end of a segment's last record. */
function recordsEnd (bytes: Buffer): number {
  let offset = 0
  for (;;) {
    const read = readRecord(bytes, offset)
    if (!read.ok) return offset
    offset = read.next
  }
}

function open (dir: string, options: ConstructorParameters<typeof FileStorage>[1] = {}): FileStorage {
  return new FileStorage(dir, { preallocateBytes: WINDOW, ...options })
}

/** A storage at term 1 with entries 1..n, each batch synced. */
function written (dir: string, n: number, options: ConstructorParameters<typeof FileStorage>[1] = {}): FileStorage {
  const s = open(dir, options)
  s.setHardState({ term: 1, vote: 'a', commit: 0 }); s.sync()
  for (let i = 1; i <= n; i += 5) { s.append(range(i, Math.min(n, i + 4))); s.sync() }
  return s
}

describe('FileStorage with pre-written segments', () => {
  it('should create a segment at its pre-written size and append and sync without growing it, until half is used', () => {
    const dir = tempDir()
    const s = written(dir, 0)
    const file = lastSegment(dir)
    const created = size(file)
    expect(created).toBeGreaterThan(WINDOW) // the segment's first record (its hard state), then the window
    expect(created).toBeLessThan(WINDOW + 100)
    const sizes = new Set<number>()
    let index = 0
    // ~140 bytes per record: stay below half the window, where the next stretch is written.
    while (index < 200) { s.append([entry(++index)]); s.sync(); sizes.add(size(file)) }
    expect([...sizes]).toEqual([created])
    while (index < 400) { s.append([entry(++index)]); s.sync() }
    expect(size(file)).toBeGreaterThan(created) // extended ahead of the records
    expect(size(file) - recordsEnd(fs.readFileSync(file))).toBeGreaterThanOrEqual(WINDOW / 2)
    s.close()
    expect(indexes(open(dir))).toEqual(range(1, 400).map((e) => e.index))
  })

  it('should load records followed by zeros as the whole log and keep the zeros (no torn-tail truncation)', () => {
    const dir = tempDir()
    written(dir, 20).close()
    const file = lastSegment(dir)
    const before = size(file)
    expect(before).toBeGreaterThan(recordsEnd(fs.readFileSync(file)))
    const s = open(dir)
    expect(indexes(s)).toEqual(range(1, 20).map((e) => e.index))
    expect(s.load().hardState).toEqual({ term: 1, vote: 'a', commit: 0 })
    expect(size(file)).toBe(before)
    s.close()
  })

  it('should continue appending at the last record, not at the end of the file, after a reopen', () => {
    const dir = tempDir()
    written(dir, 10).close()
    const file = lastSegment(dir)
    const fileSize = size(file)
    const s = open(dir)
    s.append(range(11, 15)); s.sync(); s.close()
    expect(size(file)).toBe(fileSize) // written in place over the zeros
    const reopened = open(dir)
    expect(indexes(reopened)).toEqual(range(1, 15).map((e) => e.index))
    reopened.append(range(16, 16)); reopened.sync(); reopened.close()
    expect(indexes(open(dir))).toEqual(range(1, 16).map((e) => e.index))
  })

  it('should truncate a torn record followed by zeros, keep everything before it, and write on after it', () => {
    const dir = tempDir()
    written(dir, 10).close()
    const file = lastSegment(dir)
    const bytes = fs.readFileSync(file)
    const end = recordsEnd(bytes)
    // The crash hit mid-record: its header and part of its payload reached the disk, zeros after.
    const torn = encodeRecord({ kind: 'entry', entry: entry(11) })
    torn.copy(bytes, end, 0, 40)
    fs.writeFileSync(file, bytes)
    const s = open(dir)
    expect(indexes(s)).toEqual(range(1, 10).map((e) => e.index))
    s.append(range(11, 12)); s.sync(); s.close()
    expect(indexes(open(dir))).toEqual(range(1, 12).map((e) => e.index))
  })

  it('should read a torn length field (its first bytes written, zeros after) as a torn tail', () => {
    const dir = tempDir()
    written(dir, 10).close()
    const file = lastSegment(dir)
    const bytes = fs.readFileSync(file)
    bytes[recordsEnd(bytes) + 3] = 0x91 // the low byte of a length field; everything else still zero
    fs.writeFileSync(file, bytes)
    expect(indexes(open(dir))).toEqual(range(1, 10).map((e) => e.index))
  })

  it('should refuse, naming file and offset, a zero length field followed by valid records (not the end of the log)', () => {
    const dir = tempDir()
    written(dir, 20).close()
    const file = lastSegment(dir)
    const bytes = fs.readFileSync(file)
    let offset = 0
    for (let i = 0; i < 4; i++) offset = (readRecord(bytes, offset) as { next: number }).next
    bytes.writeUInt32BE(0, offset)
    fs.writeFileSync(file, bytes)
    expect(() => open(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file, offset }))
    expect(size(file)).toBe(bytes.length) // nothing truncated: the repair still has every byte
  })

  it('should refuse a zeroed page in the middle of the records, with pre-written zeros after them', () => {
    const dir = tempDir()
    written(dir, 40).close()
    const file = lastSegment(dir)
    const bytes = fs.readFileSync(file)
    expect(recordsEnd(bytes)).toBeGreaterThan(2048)
    bytes.fill(0, 1024, 1536)
    fs.writeFileSync(file, bytes)
    expect(() => open(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file }))
  })

  it('should roll over to a new pre-written segment and seal the full one at its last record', () => {
    const dir = tempDir()
    const s = written(dir, 60, { segmentBytesMax: 2048, preallocateBytes: 1024 })
    s.close()
    const files = segmentFiles(dir)
    expect(files.length).toBeGreaterThan(2)
    for (const file of files.slice(0, -1)) {
      const bytes = fs.readFileSync(file)
      expect(recordsEnd(bytes), file).toBe(bytes.length)
    }
    const last = files[files.length - 1] as string
    expect(size(last)).toBeGreaterThan(recordsEnd(fs.readFileSync(last)))
    expect(indexes(open(dir, { segmentBytesMax: 2048, preallocateBytes: 1024 }))).toEqual(range(1, 60).map((e) => e.index))
    // Zeros after the last record of a sealed segment are damage (a rotation always cuts them off).
    const sealed = files[0] as string
    fs.appendFileSync(sealed, Buffer.alloc(512))
    expect(() => open(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file: sealed }))
  })

  it('should cut the zeros off a segment that compaction seals early, so a crash before its deletion restarts', () => {
    const dir = tempDir()
    // The old segment outlives the rotation, as after a crash between the two (its deletion fails here).
    const keepSegments = { ...nodeStorageFs, rmSync: (file: string) => { if (file.includes('wal-')) throw Object.assign(new Error('EIO'), { code: 'EIO' }); nodeStorageFs.rmSync(file) } }
    const s = written(dir, 10, { fs: keepSegments })
    s.saveSnapshot({ meta: { index: 10, term: 1, confState: { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array([1]) })
    s.compact(10) // every entry of the open segment is in the snapshot: it is sealed and a new one starts
    s.close()
    const files = segmentFiles(dir)
    expect(files).toHaveLength(2)
    expect(size(files[0] as string)).toBe(recordsEnd(fs.readFileSync(files[0] as string)))
    const reopened = open(dir)
    expect(reopened.load().snapshot?.meta.index).toBe(10)
    reopened.append(range(11, 12)); reopened.sync(); reopened.close()
    expect(indexes(open(dir))).toEqual([11, 12])
  })

  it('should go on writing into its pre-written space when the disk is full, then throw StorageFullError and lose nothing synced', () => {
    const dir = tempDir()
    const disk = new FaultyFs()
    const s = written(dir, 5, { fs: disk })
    disk.spaceLeftBytes = 0
    let last = 5
    let failure: unknown
    try {
      for (;;) { s.append(range(last + 1, last + 10)); s.sync(); last += 10 }
    } catch (err) {
      failure = err
    }
    expect(failure).toMatchObject({ name: 'StorageFullError' })
    // The next stretch could not be written, but what was left of the space took more than its half.
    expect((last - 5) * 140).toBeGreaterThan(WINDOW / 2)
    const restarted = open(dir)
    expect(indexes(restarted)).toEqual(range(1, last).map((e) => e.index))
    restarted.close()
    disk.spaceLeftBytes = undefined // space returns: the same instance writes the retried batch
    s.append(range(last + 1, last + 10)); s.sync(); s.close()
    expect(indexes(open(dir))).toEqual(range(1, last + 10).map((e) => e.index))
  })

  it('should open a WAL written without pre-written space and pre-write ahead of its last record from then on', () => {
    const dir = tempDir()
    written(dir, 10, { preallocateBytes: 0 }).close()
    const file = lastSegment(dir)
    expect(size(file)).toBe(recordsEnd(fs.readFileSync(file))) // the format before issue 16: no zeros
    const s = open(dir)
    expect(indexes(s)).toEqual(range(1, 10).map((e) => e.index))
    s.append(range(11, 12)); s.sync(); s.close()
    expect(size(file)).toBeGreaterThanOrEqual(recordsEnd(fs.readFileSync(file)) + WINDOW / 2)
    expect(indexes(open(dir))).toEqual(range(1, 12).map((e) => e.index))
  })
})
