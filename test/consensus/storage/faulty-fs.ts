/**
 * @module test/consensus/storage/faulty-fs
 * A StorageFs over the real file system that injects the faults a full or failing disk produces: a quota
 * of new bytes (past a file's end; overwriting needs no space) after which writes are short and then fail
 * with ENOSPC, fdatasync/fsync failing with EIO, and
 * writes that return fewer bytes than asked without any error.
 */
import { nodeStorageFs } from '../../../src/consensus/storage/storage-fs.js'
import type { StorageFs } from '../../../src/consensus/storage/storage-fs.js'

const errno = (code: string): Error => Object.assign(new Error(`${code} (injected)`), { code })

export class FaultyFs implements StorageFs {
  /** Bytes that may still be written; undefined = unlimited. A write crossing it is short, the next fails. */
  spaceLeftBytes: number | undefined
  /** The next this-many fdatasync/fsync calls fail with EIO. */
  failSyncs = 0
  /** Every write returns at most this many bytes (a short write, no error). */
  writeChunkBytesMax: number | undefined
  /** Counts of calls, to assert a path really ran. */
  readonly calls = { write: 0, fdatasync: 0, fsync: 0, ftruncate: 0, rename: 0 }

  mkdirSync = nodeStorageFs.mkdirSync
  readdirSync = nodeStorageFs.readdirSync
  readFileSync = nodeStorageFs.readFileSync
  openSync = nodeStorageFs.openSync
  fstatSizeSync = nodeStorageFs.fstatSizeSync
  closeSync = nodeStorageFs.closeSync
  truncateSync = nodeStorageFs.truncateSync
  rmSync = nodeStorageFs.rmSync

  writeSync (fd: number, buffer: Buffer, offset: number, length: number, position: number | null): number {
    this.calls.write++
    let allowed = Math.min(length, this.writeChunkBytesMax ?? length)
    if (this.spaceLeftBytes !== undefined) {
      // Only bytes past the file's end take space; overwriting written ones (a WAL's pre-written zeros) does not.
      const end = nodeStorageFs.fstatSizeSync(fd)
      const inPlace = Math.max(0, Math.min(allowed, end - (position ?? end)))
      if (allowed > inPlace) {
        if (this.spaceLeftBytes <= 0 && inPlace === 0) throw errno('ENOSPC')
        const grown = Math.min(allowed - inPlace, this.spaceLeftBytes)
        this.spaceLeftBytes -= grown
        allowed = inPlace + grown
      }
    }
    return nodeStorageFs.writeSync(fd, buffer, offset, allowed, position)
  }

  fdatasyncSync (fd: number): void {
    this.calls.fdatasync++
    if (this.failSyncs > 0) { this.failSyncs--; throw errno('EIO') }
    nodeStorageFs.fdatasyncSync(fd)
  }

  fsyncSync (fd: number): void {
    this.calls.fsync++
    if (this.failSyncs > 0) { this.failSyncs--; throw errno('EIO') }
    nodeStorageFs.fsyncSync(fd)
  }

  ftruncateSync (fd: number, length: number): void {
    this.calls.ftruncate++
    nodeStorageFs.ftruncateSync(fd, length)
  }

  renameSync (from: string, to: string): void {
    this.calls.rename++
    nodeStorageFs.renameSync(from, to)
  }
}
