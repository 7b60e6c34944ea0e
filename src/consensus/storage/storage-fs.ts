/**
 * @module consensus/storage/storage-fs
 * The narrow file-system interface under FileStorage and snapshot files. Production passes `nodeStorageFs`
 * (node:fs); tests pass a layer that injects ENOSPC, EIO and short writes, or a simulated disk that loses
 * every write not followed by fdatasync at a power cut (test/consensus/storage/). Synchronous on purpose,
 * like the Storage contract above it.
 */
import fs from 'node:fs'

export interface StorageFs {
  mkdirSync: (dir: string, mode: number) => void
  readdirSync: (dir: string) => string[]
  readFileSync: (file: string) => Buffer
  /** Opens for appending ('a'), writing a new or truncated file ('w') or reading ('r'). */
  openSync: (file: string, flags: 'a' | 'w' | 'r', mode?: number) => number
  /** Writes up to `length` bytes; may write fewer (a short write). */
  writeSync: (fd: number, buffer: Buffer, offset: number, length: number) => number
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
  mkdirSync: (dir, mode) => { fs.mkdirSync(dir, { recursive: true, mode }) },
  readdirSync: (dir) => fs.readdirSync(dir),
  readFileSync: (file) => fs.readFileSync(file),
  openSync: (file, flags, mode) => fs.openSync(file, flags, mode),
  writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, length),
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
 * Writes all of `buffer` at the file's end, looping over short writes.
 * @throws the fs error, or an EIO-coded error when a write makes no progress
 */
export function writeFully (sfs: StorageFs, fd: number, buffer: Buffer): void {
  let written = 0
  while (written < buffer.length) {
    const n = sfs.writeSync(fd, buffer, written, buffer.length - written)
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    written += n
  }
}
