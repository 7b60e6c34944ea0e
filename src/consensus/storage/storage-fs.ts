/**
 * @module consensus/storage/storage-fs
 * The narrow file-system interface under FileStorage and snapshot files. Production passes `nodeStorageFs`
 * (node:fs); tests pass a layer that injects ENOSPC, EIO and short writes, or a simulated disk that loses
 * every write not followed by fdatasync at a power cut (test/consensus/storage/). Synchronous on purpose,
 * like the Storage contract above it.
 */
import fs from 'node:fs'
import path from 'node:path'

export interface StorageFs {
  /** Creates `dir` and its missing parents; returns the first directory it created (undefined: none). */
  mkdirSync: (dir: string, mode: number) => string | undefined
  readdirSync: (dir: string) => string[]
  readFileSync: (file: string) => Buffer
  /**
   * Opens for appending ('a'), writing a new or truncated file ('w'), reading ('r') or reading and writing
   * an existing file in place ('r+': a WAL segment whose pre-written tail is overwritten).
   */
  openSync: (file: string, flags: 'a' | 'w' | 'r' | 'r+', mode?: number) => number
  /**
   * Writes up to `length` bytes at byte `position` of the file (at the fd's current position when null);
   * may write fewer (a short write). A wrapper must pass `position` on: WAL records are written in place
   * over the segment's pre-written zeros, not at the file's end.
   */
  writeSync: (fd: number, buffer: Buffer, offset: number, length: number, position: number | null) => number
  fdatasyncSync: (fd: number) => void
  /** fdatasync on libuv's thread pool, so the event loop runs meanwhile. Optional: fakes sync inline. */
  fdatasync?: (fd: number) => Promise<void>
  fsyncSync: (fd: number) => void
  ftruncateSync: (fd: number, length: number) => void
  fstatSizeSync: (fd: number) => number
  closeSync: (fd: number) => void
  truncateSync: (file: string, length: number) => void
  renameSync: (from: string, to: string) => void
  rmSync: (file: string) => void
}

/** The real file system. */
export const nodeStorageFs: StorageFs = {
  mkdirSync: (dir, mode) => fs.mkdirSync(dir, { recursive: true, mode }),
  readdirSync: (dir) => fs.readdirSync(dir),
  readFileSync: (file) => fs.readFileSync(file),
  openSync: (file, flags, mode) => fs.openSync(file, flags, mode),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  fdatasyncSync: (fd) => { fs.fdatasyncSync(fd) },
  fdatasync: async (fd) => { await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => err === null ? resolve() : reject(err))) },
  fsyncSync: (fd) => { fs.fsyncSync(fd) },
  ftruncateSync: (fd, length) => { fs.ftruncateSync(fd, length) },
  fstatSizeSync: (fd) => fs.fstatSync(fd).size,
  closeSync: (fd) => { fs.closeSync(fd) },
  truncateSync: (file, length) => { fs.truncateSync(file, length) },
  renameSync: (from, to) => { fs.renameSync(from, to) },
  rmSync: (file) => { fs.rmSync(file, { force: true }) }
}

/** fsyncs a directory so names created, renamed or removed in it survive a power cut. */
export function fsyncDirWith (sfs: StorageFs, dir: string): void {
  const fd = sfs.openSync(dir, 'r')
  try { sfs.fsyncSync(fd) } finally { sfs.closeSync(fd) }
}

/**
 * Writes all of `buffer` at byte `position` of the file (at the fd's current position when null), looping
 * over short writes.
 * @throws the fs error, or an EIO-coded error when a write makes no progress
 */
export function writeFully (sfs: StorageFs, fd: number, buffer: Buffer, position: number | null = null): void {
  let written = 0
  while (written < buffer.length) {
    const n = sfs.writeSync(fd, buffer, written, buffer.length - written, position === null ? null : position + written)
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    written += n
  }
}

/**
 * Creates `dir` (and missing parents) so that it survives a power cut: a new directory's name is durable only
 * once its parent is fsynced. Without it a power cut soon after a node's first start could take its whole
 * Raft directory — its vote and acknowledged entries — while the rest of the data dir stayed.
 */
export function makeDirDurable (sfs: StorageFs, dir: string, mode = 0o700): void {
  const created = sfs.mkdirSync(dir, mode)
  if (created === undefined) return
  const first = path.resolve(created)
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    fsyncDirWith(sfs, path.dirname(d))
    if (d === first || d === path.dirname(d)) break
  }
}
