/**
 * Goal: an unreadable newest snapshot never leaves the node in a crash loop (issue 9 item 5). At open,
 * storage falls back to the previous snapshot when the log still holds the entries after it (the
 * driver compacts no further than the previous snapshot); otherwise it refuses to start with a typed
 * StorageCorruptionError that names the file and the repair.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileStorage } from '../../../src/consensus/storage/file-storage.js'
import { EntryType } from '../../../src/consensus/core/index.js'
import type { Entry, Snapshot } from '../../../src/consensus/core/index.js'

const dirs: string[] = []
afterEach(() => { for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true }) })

function tempDir (): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-snap-fallback-'))
  dirs.push(dir)
  return dir
}

const entries = (from: number, to: number, term = 1): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, type: EntryType.Normal, data: new Uint8Array([from + i]) }))

const snapshot = (index: number, term = 1): Snapshot => ({
  meta: { index, term, confState: { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false } },
  data: new Uint8Array([index])
})

/** A storage in a fresh dir holding entries 1..`last`, all committed and synced. */
function committedLog (last: number): { dir: string, storage: FileStorage } {
  const dir = tempDir()
  const storage = new FileStorage(dir)
  storage.load()
  storage.append(entries(1, last))
  storage.setHardState({ term: 1, vote: 'a', commit: last })
  storage.sync()
  return { dir, storage }
}

/** Flips one byte of the snapshot file's payload, so its checksum fails. */
function corrupt (dir: string, index: number): string {
  const file = path.join(dir, FileStorage.snapshotFileName(index))
  const bytes = fs.readFileSync(file)
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff
  fs.writeFileSync(file, bytes)
  return file
}

describe('FileStorage start-up with an unreadable newest snapshot', () => {
  it('should fall back to the previous snapshot and replay the entries after it', () => {
    const { dir, storage } = committedLog(25)
    storage.saveSnapshot(snapshot(10))
    storage.saveSnapshot(snapshot(20))
    storage.compact(10)
    storage.close()
    const bad = corrupt(dir, 20)
    const reopened = new FileStorage(dir)
    const state = reopened.load()
    expect(state.snapshot?.meta.index).toBe(10)
    expect(state.entries.map((e) => e.index)).toEqual(entries(11, 25).map((e) => e.index))
    expect(state.hardState.commit).toBe(25)
    expect(fs.existsSync(`${bad}.unreadable`)).toBe(true)
    reopened.close()
  })

  it('should refuse to start with a typed error naming the file and the repair when no fallback exists', () => {
    const dir = tempDir()
    const storage = new FileStorage(dir)
    storage.load()
    storage.append(entries(1, 5))
    storage.sync()
    storage.saveSnapshot(snapshot(4))
    storage.close()
    const bad = corrupt(dir, 4)
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({
      name: 'StorageCorruptionError', file: bad, message: expect.stringMatching(/Repair: .*join string/)
    }))
  })

  it.each([
    ['the only snapshot', [5], 5, 'no snapshot file is'],
    ['the newest snapshot', [3, 5], 5, 'the newest snapshot file is at 3']
  ])('should refuse to start with a typed error, not an empty or shorter log, when %s file is missing', (_what, taken, missing, says) => {
    const { dir, storage } = committedLog(5)
    for (const index of taken) storage.saveSnapshot(snapshot(index))
    storage.close()
    fs.rmSync(path.join(dir, FileStorage.snapshotFileName(missing)))
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({
      name: 'StorageCorruptionError', message: expect.stringMatching(new RegExp(`compacted at a snapshot of index ${missing}, but ${says}.*Repair: .*join string`))
    }))
  })

  it('should refuse to fall back past a snapshot that replaced the whole log', () => {
    const dir = tempDir()
    const storage = new FileStorage(dir)
    storage.load()
    storage.append(entries(1, 12))
    storage.sync()
    storage.saveSnapshot(snapshot(10))
    // Installed from a leader whose log disagreed with ours at 30: the whole log was replaced.
    storage.saveSnapshot(snapshot(30, 3))
    storage.append(entries(31, 32, 3))
    storage.sync()
    storage.close()
    const bad = corrupt(dir, 30)
    expect(() => new FileStorage(dir)).toThrow(expect.objectContaining({ name: 'StorageCorruptionError', file: bad }))
  })
})
