/**
 * @module attestation/store
 * The chain on disk (`<data-dir>/chain`): an append-only file of records `u32 length ‖ u32 crc32 ‖ block
 * bytes`, one per height, starting at height 1 or right after the state saved in `base.cbor`. Blocks are
 * derived from the committed log, so writes are buffered and flushed once per event-loop turn without
 * fsync; the file is fsynced before every Raft snapshot (which may compact the log the blocks came
 * from). A torn tail (a bad record with no whole record anywhere after it, zeros included), or zeros after
 * the last whole record, is truncated on open with a log line; a bad record with a whole record after it
 * refuses to open (ChainStoreCorruptError). The start reads the file a window at a time (store-scan.ts).
 * When a node skips heights (it installed a snapshot), the old file is kept under a new name and a new
 * one starts after the snapshot's chain state.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { decodeCanonical, encodeCanonical } from '../codec/index.js'
import { fsyncDirWith, nodeStorageFs, writeFully } from '../consensus/storage/storage-fs.js'
import type { StorageFs } from '../consensus/storage/storage-fs.js'
import { assert } from '../util/assert.js'
import { chainStateFromData, chainStateToData, decodeBlock, MAX_BLOCK_BYTES } from './core/index.js'
import type { ChainState } from './core/index.js'
import { ChainStoreCorruptError } from './errors.js'
import { LOAD_WINDOW_BYTES, readAt, recordFollows, zerosAfter } from './store-scan.js'
import { BASE_FILE_NAME, CHAIN_FILE_NAME, RECORD_HEADER_BYTES } from './constants.js'

/** After a failed block write (disk full, EIO), the store retries this often, in ms. */
const CHAIN_WRITE_RETRY_MS = 500

export class ChainStore {
  private fd: number
  /** Invariant: offsets[i] is the file offset of the record of height firstHeight + i. */
  private offsets: number[] = []
  private lengths: number[] = []
  private fileBytes = 0
  private pending: Buffer[] = []
  private flushScheduled = false
  private baseState: ChainState | undefined
  private closed = false
  /** Whether the directory was fsynced since this process opened or created the file (its name is durable). */
  private nameDurable = false

  /** Renames, base.cbor and directory fsyncs go through it (tests record their order). */
  private readonly fs: StorageFs

  /**
   * `warn` is told when writes start failing and when they pass again (one line each, not one per retry), and
   * when the start cuts off a torn tail.
   */
  constructor (private readonly dir: string, private readonly options: { warn?: (obj: object, msg: string) => void, fs?: StorageFs } = {}) {
    this.fs = options.fs ?? nodeStorageFs
    this.baseState = this.loadBase()
    this.fd = openSync(this.filePath(), 'a+', 0o600)
    this.load()
  }

  /** Height of the first block the file holds (or would hold). */
  get firstHeight (): number {
    return (this.baseState?.height ?? 0) + 1
  }

  /** Height of the last stored block (firstHeight - 1 when empty). */
  get height (): number {
    return this.firstHeight + this.offsets.length - 1
  }

  /** The chain state before the first stored block, when the file does not start at height 1. */
  get base (): ChainState | undefined {
    return this.baseState
  }

  private filePath (): string {
    return path.join(this.dir, CHAIN_FILE_NAME)
  }

  private loadBase (): ChainState | undefined {
    const file = path.join(this.dir, BASE_FILE_NAME)
    if (!existsSync(file)) return undefined
    let state: ChainState | null = null
    try {
      state = chainStateFromData(decodeCanonical<unknown>(readFileSync(file)))
    } catch {
      state = null
    }
    if (state === null) throw new ChainStoreCorruptError(`${file} is not a chain state`)
    return state
  }

  /**
   * Indexes every record, reading the file a window at a time (it may be larger than one read holds); cuts a
   * torn tail off.
   */
  private load (): void {
    const size = fstatSync(this.fd).size
    let window: Buffer = Buffer.alloc(0)
    let windowStart = 0
    /** The file's bytes [at, at + length), from the current window or a new one read from `at`. */
    const bytesAt = (at: number, length: number): Buffer => {
      if (at < windowStart || at + length > windowStart + window.length) {
        window = readAt(this.fd, at, Math.min(size - at, Math.max(length, LOAD_WINDOW_BYTES)))
        windowStart = at
      }
      return window.subarray(at - windowStart, at - windowStart + length)
    }
    let offset = 0
    while (offset < size) {
      const header = offset + RECORD_HEADER_BYTES <= size ? bytesAt(offset, RECORD_HEADER_BYTES) : undefined
      const length = header?.readUInt32BE(0) ?? 0
      const checksum = header?.readUInt32BE(4)
      const end = offset + RECORD_HEADER_BYTES + length
      // A block is never empty (a zero length, whose crc32 is zero too, is no record) nor over MAX_BLOCK_BYTES.
      const intact = length > 0 && length <= MAX_BLOCK_BYTES && end <= size &&
        crc32(bytesAt(offset + RECORD_HEADER_BYTES, length)) === checksum
      if (!intact) {
        this.cutTail(offset, size)
        break
      }
      this.offsets.push(offset)
      this.lengths.push(length)
      offset = end
    }
    this.fileBytes = offset
    const last = this.offsets.length > 0 ? this.read(this.height) : undefined
    if (last !== undefined && decodeBlock(last)?.height !== this.height) {
      throw new ChainStoreCorruptError(`the last chain record is not block ${this.height}`)
    }
  }

  /**
   * The records end at `offset` with a bad one: cuts it off with what follows as a torn tail, or refuses it as
   * damage when a whole record follows it.
   */
  private cutTail (offset: number, size: number): void {
    // Only zeros left: a write that extended the file and whose data a power cut never wrote.
    const zeros = zerosAfter(this.fd, offset, size)
    // A torn tail is the last write, with no whole record after it: a record may run past the end, or keep
    // its header over a body of zeros (the crc32 covers the body only) in a file already extended past it.
    if (!zeros && recordFollows(this.fd, offset, size)) throw new ChainStoreCorruptError(`chain record at byte ${offset} is damaged: whole records follow it`)
    this.options.warn?.({ offset, bytes: size - offset }, zeros
      ? 'chain file ends in zeros after its last whole record (an extended write a power cut left unwritten); cutting them off'
      : 'chain file ends in a torn record, with no whole record after it (the writes in progress at a crash); cutting it off')
    ftruncateSync(this.fd, offset)
  }

  /** Bytes of the block at `height`, or undefined when not stored (or the file is closed). */
  read (height: number): Uint8Array | undefined {
    const i = height - this.firstHeight
    // NB: a closed file's descriptor number may belong to another file by now.
    if (i < 0 || i >= this.offsets.length || this.closed) return undefined
    try {
      this.flush()
    } catch {
      // The disk refuses writes (full, EIO): what is not written yet is read from memory below, and the
      // flush's own timer retries.
    }
    const start = this.offsets[i]! + RECORD_HEADER_BYTES
    const bytes = new Uint8Array(this.lengths[i]!)
    const pendingFrom = this.fileBytes - this.pending.reduce((n, record) => n + record.length, 0)
    const onDisk = Math.max(0, Math.min(bytes.length, pendingFrom - start))
    if (onDisk > 0) readSync(this.fd, bytes, 0, onDisk, start)
    if (onDisk < bytes.length) {
      const pending = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending)
      bytes.set(pending.subarray(start + onDisk - pendingFrom, start + bytes.length - pendingFrom), onDisk)
    }
    return bytes
  }

  /** Bytes of the stored block at `height`, or undefined when not stored (no read: an export's size check). */
  blockBytes (height: number): number | undefined {
    return this.lengths[height - this.firstHeight]
  }

  /** Appends the block of height `this.height + 1` (buffered; flushed on the next turn). */
  append (height: number, bytes: Uint8Array): void {
    assert(height === this.height + 1, () => `chain store append of ${height} after ${this.height}`)
    const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + bytes.length)
    record.writeUInt32BE(bytes.length, 0)
    record.writeUInt32BE(crc32(bytes), 4)
    record.set(bytes, RECORD_HEADER_BYTES)
    this.offsets.push(this.fileBytes)
    this.lengths.push(bytes.length)
    this.fileBytes += record.length
    this.pending.push(record)
    this.scheduleFlush(false)
  }

  /** Flushes soon; after a failed write, retries every CHAIN_WRITE_RETRY_MS until the disk takes it. */
  private scheduleFlush (retry: boolean): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    const run = (): void => {
      this.flushScheduled = false
      try {
        this.flush()
      } catch {
        this.scheduleFlush(true)
      }
    }
    if (retry) setTimeout(run, CHAIN_WRITE_RETRY_MS).unref()
    else setImmediate(run)
  }

  /** Forgets blocks from `height` on (the log is authoritative: a re-derived block replaces them). */
  truncateFrom (height: number): void {
    const i = height - this.firstHeight
    if (i < 0 || i >= this.offsets.length || this.closed) return
    try {
      this.flush()
    } catch {
      // The disk refuses writes: the records not written yet are cut in memory below.
    }
    const at = this.offsets[i]!
    const pending = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending)
    const pendingFrom = this.fileBytes - pending.length
    this.pending = at > pendingFrom ? [pending.subarray(0, at - pendingFrom)] : []
    this.fileBytes = at
    this.offsets.length = i
    this.lengths.length = i
    if (at >= pendingFrom) return
    try {
      ftruncateSync(this.fd, at)
    } catch (err) {
      // NB: appends go to the file's end, after the records it still holds: they would land at other offsets
      // than the index says. Never stops the node (its caller is the machine's apply): the log re-derives them.
      this.options.warn?.({ err: (err as Error).message, height }, 'could not cut the chain file; it stops until the next start')
      this.closed = true
      try { closeSync(this.fd) } catch { /* closed either way */ }
    }
  }

  /**
   * Keeps the current file under a new name and starts an empty one after `base`. Crash order: the old file is
   * fsynced and named after the last block written to it whole (endSegment), and that name is durable before
   * base.cbor changes (a new base over the old blocks file would start it at the
   * wrong height: refused as corrupt), and base.cbor is written as snapshot files are (snapshot-file.ts), its
   * temp file fsynced before the rename and the directory after it. A crash before the new blocks file exists
   * leaves none, which the next start creates empty. A disk error closes the store with a warning, never throws:
   * the caller is a snapshot's restore inside the Raft driver.
   */
  restartAfter (base: ChainState): void {
    if (this.closed) return
    try {
      this.flush()
    } catch {
      // The disk refuses writes: the old segment keeps what it has, and the snapshot covers the rest.
    }
    let upto: number | Error
    try {
      upto = this.endSegment()
    } catch (err) {
      upto = err as Error
    }
    this.pending = []
    closeSync(this.fd)
    // NB: closed until the new file is open, so that a failure below leaves no write or close to a descriptor
    // number the process may have given to another file since.
    this.closed = true
    try {
      if (upto instanceof Error) throw upto
      this.startSegment(base, upto)
    } catch (err) {
      // Never stops the node (a full disk while a snapshot installs): the chain file stops until the next start,
      // whose snapshot restore starts the segment again; the log or that snapshot re-derives what is missing.
      this.options.warn?.({ err: (err as Error).message, height: base.height }, 'could not start a new chain file segment (blocks.upto-*, base.cbor); the chain file stops until the next start')
      return
    }
    this.closed = false
    try {
      this.sync()
    } catch (err) {
      // The next sync (before the next snapshot) tries again, the directory's too.
      this.options.warn?.({ err: (err as Error).message }, 'could not sync the new chain file segment; the next sync retries')
    }
  }

  /**
   * Cuts off a record a failed write left torn, fsyncs the segment and returns the height of its last record
   * written whole: what its name `blocks.upto-<h>` then says it holds, also after a power cut. The blocks still
   * pending are not in it (the snapshot being installed covers them).
   */
  private endSegment (): number {
    const writtenBytes = this.fileBytes - this.pending.reduce((n, record) => n + record.length, 0)
    let count = this.offsets.length
    while (count > 0 && this.offsets[count - 1]! + RECORD_HEADER_BYTES + this.lengths[count - 1]! > writtenBytes) count--
    const end = count > 0 ? this.offsets[count - 1]! + RECORD_HEADER_BYTES + this.lengths[count - 1]! : 0
    assert(end <= writtenBytes, () => `chain segment ends at ${end} beyond the ${writtenBytes} bytes written`)
    if (end < writtenBytes) ftruncateSync(this.fd, end)
    this.fs.fsyncSync(this.fd)
    return this.firstHeight + count - 1
  }

  private startSegment (base: ChainState, upto: number): void {
    if (upto >= this.firstHeight || this.baseState !== undefined) {
      this.fs.renameSync(this.filePath(), `${this.filePath()}.upto-${upto}`)
      fsyncDirWith(this.fs, this.dir)
    }
    const baseFile = path.join(this.dir, BASE_FILE_NAME)
    const temp = `${baseFile}.tmp`
    const fd = this.fs.openSync(temp, 'w', 0o600)
    try {
      writeFully(this.fs, fd, Buffer.from(encodeCanonical(chainStateToData(base))))
      this.fs.fsyncSync(fd)
    } finally {
      this.fs.closeSync(fd)
    }
    this.fs.renameSync(temp, baseFile)
    this.baseState = base
    this.fd = openSync(this.filePath(), 'w+', 0o600)
    this.offsets = []
    this.lengths = []
    this.fileBytes = 0
    this.nameDurable = false
  }

  /**
   * Writes the pending records. On a write error (disk full, EIO) the unwritten rest stays pending, in order,
   * for the next flush, and the error is thrown: blocks are derived from the committed log, so the node keeps
   * running and its chain file catches up once the disk takes writes again.
   */
  flush (): void {
    if (this.pending.length === 0 || this.closed) return
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending)
    let written = 0
    try {
      while (written < data.length) written += writeSync(this.fd, data, written)
      this.pending = []
      if (this.writeError !== undefined) this.options.warn?.({ bytes: data.length }, 'chain file writes pass again; the pending blocks are written')
      this.writeError = undefined
    } catch (err) {
      this.pending = [data.subarray(written)]
      if (this.writeError === undefined) {
        this.options.warn?.({ err: (err as Error).message }, `could not write the chain file; its blocks stay pending and are retried every ${CHAIN_WRITE_RETRY_MS} ms`)
      }
      this.writeError = err as Error
      throw err
    }
  }

  /** The last write error while it lasts (status shows it), or undefined. */
  writeError: Error | undefined

  /** Flushes and fsyncs (before a Raft snapshot lets the log behind the blocks be compacted). */
  sync (): void {
    if (this.closed) return
    this.flush()
    fsyncSync(this.fd)
    // The constructor may have created the file: its name survives a power cut only once the directory is
    // fsynced, and the snapshot this sync precedes lets Raft compact the entries behind the blocks.
    if (!this.nameDurable) fsyncDirWith(this.fs, this.dir)
    this.nameDurable = true
  }

  /** Closes the file; later appends are dropped (the committed log re-derives them on the next start). */
  close (): void {
    if (this.closed) return
    try {
      this.flush()
    } catch {
      // Closed all the same: the log re-derives these blocks at the next start, and a retry after the close
      // would append them to a file that start may have opened again (written twice: refused as corrupt).
      this.options.warn?.({ pending: this.pending.reduce((n, record) => n + record.length, 0) }, 'closing the chain file without its last blocks, which the disk refused; the next start re-derives them from the log or starts a new segment after its snapshot (docs/CHAIN.md §4)')
    }
    this.closed = true
    closeSync(this.fd)
  }

  get isOpen (): boolean {
    return !this.closed
  }

  /** Bytes on disk, for status. */
  get bytes (): number {
    return this.fileBytes
  }

  /** Size check used by tests. */
  get fileSize (): number {
    this.flush()
    return fstatSync(this.fd).size
  }
}
