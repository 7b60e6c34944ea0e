/**
 * @module consensus/storage/file-storage
 * Durable Raft storage on disk: an append-only, segmented write-ahead log (`wal-<n>.log`, checksummed
 * records, see record.ts) plus atomic snapshot files (snapshot-file.ts).
 *
 * - Group commit: `append`/`setHardState` only buffer in the OS; `sync()` is one fdatasync for the whole
 *   Ready batch. Synchronous calls on purpose (storage/types.ts explains why).
 * - Rotation: past `segmentBytesMax` a new segment starts with the current hard state, so deleting older
 *   segments after a snapshot never loses the hard state.
 * - Pre-written space (issue 16): a segment's file runs ahead of its last record with zeros that were
 *   written (not a sparse ftruncate), up to `preallocateBytes` at a time and at most `segmentBytesMax`, and
 *   records are written in place over them. An fdatasync after an append that stays inside that space
 *   changes no file size or block map, so the file system has no journal commit to wait for; the space is
 *   extended when less than half of it is left. Recovery reads a zero length field followed only by zeros
 *   as the end of the last segment (appends continue there); a sealed segment is cut back to its last
 *   record before the next one is created, so zeros in a sealed segment are still damage.
 * - Recovery (`load`): a torn tail — a partial or checksum-failing record at the end of the LAST segment with
 *   no valid record after it, pre-written zeros included — is truncated; anything else that fails (a bad record followed by valid data,
 *   a bad record in an earlier segment, a hole in the indexes, an unreadable newest snapshot) refuses to
 *   start with a StorageCorruptionError naming the file and byte offset. Nothing synced is ever lost.
 * - Write faults (disk full, EIO, short writes): every fs call goes through an injected `StorageFs`. A failed
 *   write or fdatasync truncates the segment back to its last synced size and throws StorageFullError or
 *   StorageIoError, so the file never keeps a half record that later valid records would follow, and the
 *   caller may retry the same batch once space returns. After a failed fdatasync the pages in flight are
 *   never trusted again (the kernel may have dropped them): they are cut off and rewritten by the retry.
 */
import path from 'node:path'
import { assert } from '../../util/assert.js'
import type { Entry, HardState, Snapshot } from '../core/types.js'
import type { Storage, StorageState } from './types.js'
import { encodeRecord, readRecord, validDataAfter } from './record.js'
import type { WalRecord } from './record.js'
import { listSnapshots, readSnapshotFile, writeSnapshotFile, snapshotFileName } from './snapshot-file.js'
import { StorageClosedError, StorageCorruptionError, StorageIoError, toStorageError } from './errors.js'
import { PREALLOCATE_BYTES_DEFAULT, SEGMENT_BYTES_MAX_DEFAULT, SNAPSHOTS_KEPT } from './constants.js'
import { fsyncDirWith, makeDirDurable, nodeStorageFs, writeFully } from './storage-fs.js'
import type { StorageFs } from './storage-fs.js'

const SEGMENT = /^wal-(\d{10})\.log$/
const segmentName = (n: number): string => `wal-${String(n).padStart(10, '0')}.log`

export interface FileStorageOptions {
  /** @default SEGMENT_BYTES_MAX_DEFAULT */
  segmentBytesMax?: number
  /**
   * Zeros written ahead of the last record at a time (capped at `segmentBytesMax`); 0 grows the file with
   * every append, as before issue 16. @default PREALLOCATE_BYTES_DEFAULT
   */
  preallocateBytes?: number
  /** The file system (tests inject faults and power cuts). @default nodeStorageFs */
  fs?: StorageFs
}

interface Segment { number: number, file: string, maxIndex: number }

export class FileStorage implements Storage {
  private readonly segmentBytesMax: number
  /** The pre-written space kept ahead of the last record: min(preallocateBytes, segmentBytesMax). */
  private readonly window: number
  private readonly fs: StorageFs
  private segments: Segment[] = []
  private fd: number | undefined
  /** Bytes of records in the open segment, written so far. Invariant: syncedSize <= size <= fileSize. */
  private size = 0
  /** The open segment's file size: `size` plus the pre-written zeros after it. */
  private fileSize = 0
  /** Bytes of the open segment known durable (the size at the last successful fdatasync). */
  private syncedSize = 0
  /** Set when a failed write could not be rolled back: the file's tail is unknown until a restart. */
  private broken: Error | undefined
  /** True while a syncAsync() flush runs: the segment must not rotate (its fd is in use). */
  private flushing = false
  /** Counts roll-backs: a flush that overlapped one covered bytes that no longer exist. */
  private rollbacks = 0
  private hardState: HardState = { term: 0, vote: null, commit: 0 }
  private snapshotIndex = 0
  /** Terms of the stored entries: `terms[i]` is the term at index `termsOffset + 1 + i`. */
  private terms: number[] = []
  private termsOffset = 0
  private loaded: StorageState | undefined
  private closed = false

  /** @throws StorageCorruptionError, StorageFullError, StorageIoError */
  constructor (private readonly dir: string, options: FileStorageOptions = {}) {
    this.segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT
    this.window = Math.max(0, Math.min(options.preallocateBytes ?? PREALLOCATE_BYTES_DEFAULT, this.segmentBytesMax))
    this.fs = options.fs ?? nodeStorageFs
    makeDirDurable(this.fs, dir)
    this.loaded = this.recover()
  }

  /** What recovery found at open. @throws StorageCorruptionError (from the constructor) */
  load (): StorageState {
    this.assertOpen()
    assert(this.loaded !== undefined, 'load after the state was consumed')
    return this.loaded
  }

  private recover (): StorageState {
    const { snapshot, unreadable } = this.readUsableSnapshot()
    this.snapshotIndex = snapshot?.meta.index ?? 0
    const names = this.fs.readdirSync(this.dir).filter((n) => SEGMENT.test(n)).sort()
    let entries: Entry[] = []
    let lastEnd = 0
    // The latest compaction the log records, and where: a snapshot file at or past it must be there.
    let reset: { index: number, file: string, offset: number } | undefined
    names.forEach((name, i) => {
      const file = path.join(this.dir, name)
      const { maxIndex, end } = this.replaySegment(file, i === names.length - 1, (record, offset) => {
        // Falling back to an older snapshot: a reset past it came with the unreadable newer one.
        if (unreadable !== undefined && record.kind === 'reset' && record.index > this.snapshotIndex) {
          if (record.all) throw unreadableError(unreadable, 'the log was replaced at that snapshot, so the previous one cannot be used')
          return
        }
        if (record.kind === 'reset' && record.index > (reset?.index ?? 0)) reset = { index: record.index, file, offset }
        entries = applyRecord(entries, record, file, offset)
      })
      this.segments.push({ number: Number(SEGMENT.exec(name)?.[1]), file, maxIndex })
      lastEnd = end
    })
    // A reset is written only after its snapshot file (saveSnapshot): past the newest file, that file is gone
    // (deleted by hand, say). Loading on would drop every entry up to it, committed ones too, without a word.
    if (reset !== undefined && reset.index > this.snapshotIndex) {
      throw new StorageCorruptionError(reset.file, reset.offset, `the log was compacted at a snapshot of index ${reset.index}, ` +
        `but ${this.snapshotIndex === 0 ? 'no snapshot file is' : `the newest snapshot file is at ${this.snapshotIndex}`} in ${this.dir}: ` +
        `${FileStorage.snapshotFileName(reset.index)} or a later one is missing. Repair: restore it from a backup, or empty this ` +
        'data directory and start the node with the join string so it rejoins and receives a snapshot from the leader')
    }
    entries = entries.filter((e) => e.index > this.snapshotIndex)
    const first = entries[0]
    if (first !== undefined && first.index !== this.snapshotIndex + 1) {
      if (unreadable !== undefined) throw unreadableError(unreadable, `the log no longer holds the entries after the previous snapshot (${this.snapshotIndex})`)
      throw new StorageCorruptionError(this.segments[0]?.file ?? this.dir, 0, `entries start at ${first.index} but the snapshot ends at ${this.snapshotIndex}: a segment is missing`)
    }
    // The driver writes the hard state before the entries of each Ready (Storage contract), so no stored
    // entry can be of a later term than the stored hard state: one that is means hard state records were
    // lost (found by `npm run fuzz -- --target wal-recovery`). NB: a snapshot can legitimately be ahead
    // (it is saved before the hard state of its Ready), so only entries count.
    const lastTerm = entries[entries.length - 1]?.term ?? 0
    if (lastTerm > this.hardState.term) {
      throw new StorageCorruptionError(this.segments[this.segments.length - 1]?.file ?? this.dir, 0, `log reaches term ${lastTerm} but the hard state is at term ${this.hardState.term}: hard state records are missing`)
    }
    if (snapshot !== undefined) this.catchUpHardState(snapshot.meta.term)
    if (unreadable !== undefined) this.fs.renameSync(unreadable.file, `${unreadable.file}.unreadable`)
    this.termsOffset = first !== undefined ? first.index - 1 : this.snapshotIndex
    this.terms = entries.map((e) => e.term)
    if (this.segments.length === 0) this.createSegment()
    else this.reopenLastSegment(lastEnd)
    return { hardState: { ...this.hardState }, ...(snapshot !== undefined ? { snapshot } : {}), entries }
  }

  /**
   * The newest readable snapshot. An unreadable newest one (issue 9 item 5) falls back to the previous
   * one, which the log can extend only if the driver kept the entries after it (RaftNode compacts no
   * further than the previous snapshot); the caller checks that and otherwise refuses to start with a
   * StorageCorruptionError that names the file and the repair.
   */
  private readUsableSnapshot (): { snapshot: Snapshot | undefined, unreadable?: StorageCorruptionError } {
    const names = listSnapshots(this.dir, this.fs)
    for (const name of this.fs.readdirSync(this.dir)) if (name.endsWith('.tmp')) this.fs.rmSync(path.join(this.dir, name))
    const newest = names[names.length - 1]
    if (newest === undefined) return { snapshot: undefined }
    try {
      return { snapshot: readSnapshotFile(path.join(this.dir, newest), this.fs) }
    } catch (err) {
      const previous = names[names.length - 2]
      if (!(err instanceof StorageCorruptionError)) throw err
      if (previous === undefined) throw unreadableError(err, 'there is no previous snapshot to fall back to')
      return { snapshot: readSnapshotFile(path.join(this.dir, previous), this.fs), unreadable: err }
    }
  }

  /**
   * Replays one segment; truncates a torn tail of the last one. Returns the highest entry index in it and
   * the end of its last record (where the last segment's pre-written zeros, if any, start).
   */
  private replaySegment (file: string, last: boolean, onRecord: (record: WalRecord, offset: number) => void): { maxIndex: number, end: number } {
    const buffer = this.fs.readFileSync(file)
    let offset = 0
    let maxIndex = 0
    for (;;) {
      const result = readRecord(buffer, offset)
      if (result.ok) {
        if (result.record.kind === 'entry') maxIndex = Math.max(maxIndex, result.record.entry.index)
        if (result.record.kind === 'hard-state') this.replayHardState(result.record.hardState, file, offset)
        onRecord(result.record, offset)
        offset = result.next
        continue
      }
      if (result.reason === 'end') return { maxIndex, end: offset }
      // Pre-written space: the end of the open segment. A sealed one was cut back at its last record.
      if (result.reason === 'zeros' && last) return { maxIndex, end: offset }
      if (!last) throw new StorageCorruptionError(file, offset, `${result.reason} ${result.reason === 'zeros' ? 'after the last record' : 'record'} in a sealed segment`)
      if (validDataAfter(buffer, offset)) throw new StorageCorruptionError(file, offset, `${result.reason} record followed by valid records`)
      // A torn tail: the write in progress at the crash never completed, so it was never acknowledged.
      this.fs.truncateSync(file, offset)
      return { maxIndex, end: offset }
    }
  }

  /**
   * A node's term never decreases and its vote within a term never changes, so a hard state that goes
   * back means records from an older segment were replayed after newer ones (a duplicated or renamed
   * segment): refusing beats silently forgetting a vote (found by `npm run fuzz -- --target wal-recovery`).
   */
  private replayHardState (next: HardState, file: string, offset: number): void {
    const last = this.hardState
    const regressed = next.term < last.term || (next.term === last.term && last.vote !== null && next.vote !== last.vote)
    if (regressed) {
      throw new StorageCorruptionError(file, offset, `hard state goes back from term ${last.term} (vote ${String(last.vote)}) to term ${next.term} (vote ${String(next.vote)}): a segment is out of order`)
    }
    this.hardState = next
  }

  /**
   * A snapshot installed from a leader is saved before the hard state of its Ready, so a crash between the
   * two leaves a snapshot of a later term than the stored hard state. Raising the term is safe: a term
   * only grows, and no vote can have been cast in the newer term, since a vote is sent only after its hard
   * state is durable. (A commit below the snapshot needs nothing: the core starts its commit at the
   * snapshot.) Without this the core would start with its last term above its term, which it refuses.
   */
  private catchUpHardState (snapshotTerm: number): void {
    const stored = this.hardState
    if (snapshotTerm > stored.term) this.hardState = { term: snapshotTerm, vote: null, commit: stored.commit }
  }

  /** Opens the last segment to write in place at `end`, its last record's end (not the file's end). */
  private reopenLastSegment (end: number): void {
    const last = this.segments[this.segments.length - 1] as Segment
    this.fd = this.fs.openSync(last.file, 'r+', 0o600)
    this.fileSize = this.fs.fstatSizeSync(this.fd)
    assert(this.fileSize >= end, () => `${last.file} is ${this.fileSize} bytes, shorter than its records (${end})`)
    this.size = end
    this.syncedSize = end
  }

  /**
   * Starts the next segment with the current hard state and its pre-written space, durable (data and
   * name) before it is used, so deleting older segments later never loses the hard state. The current
   * segment is first cut back to its last record, durably: a sealed segment never ends in zeros.
   * @throws StorageFullError or StorageIoError; the half-made segment is removed and nothing changes
   */
  private createSegment (): void {
    this.sealCurrentSegment()
    const previous = this.segments[this.segments.length - 1]
    const number = (previous?.number ?? 0) + 1
    const file = path.join(this.dir, segmentName(number))
    let fd: number | undefined
    try {
      fd = this.fs.openSync(file, 'w', 0o600)
      const bytes = encodeRecord({ kind: 'hard-state', hardState: this.hardState })
      writeFully(this.fs, fd, bytes, 0)
      const fileSize = this.prewrite(fd, bytes.length, bytes.length)
      this.fs.fdatasyncSync(fd)
      fsyncDirWith(this.fs, this.dir)
      if (this.fd !== undefined) this.fs.closeSync(this.fd)
      this.fd = fd
      this.size = bytes.length
      this.syncedSize = bytes.length
      this.fileSize = fileSize
      this.segments.push({ number, file, maxIndex: previous?.maxIndex ?? 0 })
    } catch (err) {
      try { if (fd !== undefined) this.fs.closeSync(fd); this.fs.rmSync(file) } catch { /* recovery handles leftovers */ }
      throw toStorageError(err, 'create segment', file)
    }
  }

  /**
   * Cuts the open segment's pre-written zeros off, durably, before it is sealed (a rotation). Does nothing
   * for the first segment or when no zeros follow the last record.
   * @throws StorageFullError or StorageIoError; the rotation is abandoned and the segment stays open
   */
  private sealCurrentSegment (): void {
    if (this.fd === undefined || this.fileSize === this.size) return
    try {
      this.fs.ftruncateSync(this.fd, this.size)
      this.fileSize = this.size
      this.fs.fdatasyncSync(this.fd)
    } catch (err) {
      throw toStorageError(err, 'seal segment', this.currentFile())
    }
  }

  /**
   * Writes zeros to `fd` from `fileSize` on, so that the space up to `recordsEnd + window` (at most
   * `segmentBytesMax`) exists before records are written into it. Best effort: a disk too full for them
   * keeps what was written and appends grow the file as before. Not synced here: the next fdatasync
   * carries them, so their block allocation costs one journal commit per window instead of one per append.
   * @returns the file size after it
   */
  private prewrite (fd: number, recordsEnd: number, fileSize: number): number {
    const target = Math.min(this.segmentBytesMax, recordsEnd + this.window)
    let at = fileSize
    while (at < target) {
      const zeros = zeroBuffer(target - at)
      try {
        const n = this.fs.writeSync(fd, zeros, 0, Math.min(zeros.length, target - at), at)
        if (n <= 0) break
        at += n
      } catch {
        break
      }
    }
    return at
  }

  /** Appends records in place; on failure rolls the segment back to its last synced size and throws. */
  private write (records: WalRecord[]): void {
    this.assertWritable()
    const fd = this.fd as number
    const buffer = Buffer.concat(records.map(encodeRecord))
    try {
      writeFully(this.fs, fd, buffer, this.size)
    } catch (err) {
      this.rollBack()
      throw toStorageError(err, 'write', this.currentFile())
    }
    this.size += buffer.length
    this.fileSize = Math.max(this.fileSize, this.size)
    const current = this.segments[this.segments.length - 1] as Segment
    for (const record of records) if (record.kind === 'entry') current.maxIndex = Math.max(current.maxIndex, record.entry.index)
    // Less than half the pre-written space left: write the next stretch now, ahead of the records.
    if (this.fileSize - this.size < this.window / 2 && this.fileSize < this.segmentBytesMax) {
      this.fileSize = this.prewrite(fd, this.size, this.fileSize)
    }
  }

  /** Cuts the open segment back to what is known durable; if even that fails, the storage is broken. */
  private rollBack (): void {
    this.rollbacks++
    try {
      this.fs.ftruncateSync(this.fd as number, this.syncedSize)
      this.size = this.syncedSize
      this.fileSize = this.syncedSize
    } catch (err) {
      this.broken = toStorageError(err, 'roll back', this.currentFile())
    }
  }

  append (entries: Entry[]): void {
    this.assertOpen()
    if (entries.length === 0) return
    assertContiguous(entries)
    this.write(entries.map((entry) => ({ kind: 'entry', entry })))
    this.noteAppended(entries)
  }

  setHardState (hardState: HardState): void {
    this.assertOpen()
    const next = { ...hardState }
    this.write([{ kind: 'hard-state', hardState: next }])
    this.hardState = next
  }

  /** One write syscall for a Ready's hard state and entries (a follower's append usually carries both). */
  setHardStateAndAppend (hardState: HardState, entries: Entry[]): void {
    this.assertOpen()
    if (entries.length === 0) return this.setHardState(hardState)
    assertContiguous(entries)
    const next = { ...hardState }
    this.write([{ kind: 'hard-state', hardState: next }, ...entries.map((entry): WalRecord => ({ kind: 'entry', entry }))])
    this.hardState = next
    this.noteAppended(entries)
  }

  /** The in-memory term index after `entries` were written (a conflicting suffix is replaced). */
  private noteAppended (entries: Entry[]): void {
    const start = (entries[0] as Entry).index - this.termsOffset - 1
    if (start < 0) { this.terms = []; this.termsOffset = (entries[0] as Entry).index - 1 } else this.terms.splice(start)
    for (const entry of entries) this.terms.push(entry.term)
  }

  /** One fdatasync for the batch. @throws StorageFullError or StorageIoError (the batch is rolled back) */
  sync (): void {
    this.assertOpen()
    this.assertWritable()
    try {
      this.fs.fdatasyncSync(this.fd as number)
    } catch (err) {
      // NB: after a failed fdatasync the kernel may have marked the dirty pages clean without writing
      // them; retrying fsync would then "succeed" over lost data. Cut them off; the caller rewrites.
      this.rollBack()
      throw toStorageError(err, 'fdatasync', this.currentFile())
    }
    this.syncedSize = this.size
    if (this.size >= this.segmentBytesMax) this.maybeRotate()
  }

  /**
   * One fdatasync on libuv's thread pool for the writes made before the call; the caller's loop runs
   * meanwhile. A segment past its size limit is synced inline and rotated instead (rotation replaces the
   * fd, which must not happen under a running flush; once per segment).
   * @throws (rejects) StorageFullError or StorageIoError: rolled back to the last synced size, which also
   *   drops writes made while it ran (and a flush that overlapped a roll-back fails too)
   */
  async syncAsync (): Promise<void> {
    this.assertOpen()
    this.assertWritable()
    assert(!this.flushing, 'one syncAsync at a time')
    if (this.fs.fdatasync === undefined || this.size >= this.segmentBytesMax) {
      this.sync()
      return
    }
    const target = this.size
    const epoch = this.rollbacks
    this.flushing = true
    try {
      await this.fs.fdatasync(this.fd as number)
    } catch (err) {
      this.flushing = false
      if (this.closed) throw new StorageClosedError()
      if (epoch === this.rollbacks) this.rollBack()
      throw toStorageError(err, 'fdatasync', this.currentFile())
    }
    this.flushing = false
    if (this.closed) throw new StorageClosedError()
    if (epoch !== this.rollbacks) {
      throw new StorageIoError(this.currentFile(), 'fdatasync (the segment was rolled back while it ran)', 'EIO')
    }
    this.syncedSize = Math.max(this.syncedSize, target)
  }

  /** Starts a new segment when everything is synced; a failure keeps the current one (retried later). */
  private maybeRotate (): void {
    if (this.flushing) return
    try {
      this.createSegment()
    } catch {
      // The current segment simply grows past its target size until a rotation succeeds.
    }
  }

  saveSnapshot (snapshot: Snapshot): void {
    this.assertOpen()
    if (snapshot.meta.index <= this.snapshotIndex) return
    // The snapshot file goes first (atomically); the reset record after it. A crash in between leaves
    // the new snapshot plus the old log: entries up to it are ignored on load, and any that follow are
    // uncommitted ones the leader will overwrite — never a hole.
    writeSnapshotFile(this.dir, snapshot, this.fs)
    // A snapshot the log does not contain (installed from the leader) replaces the whole log; one taken
    // from our own applied state keeps the entries after it.
    const index = snapshot.meta.index
    const all = this.terms[index - this.termsOffset - 1] !== snapshot.meta.term
    this.write([{ kind: 'reset', index, all }])
    this.sync()
    if (all) { this.terms = []; this.termsOffset = index }
    this.snapshotIndex = index
    const names = listSnapshots(this.dir, this.fs)
    for (const name of names.slice(0, Math.max(0, names.length - SNAPSHOTS_KEPT))) this.removeQuietly(path.join(this.dir, name))
  }

  /** Deletes whole segments at or below `throughIndex`. Best effort: a file that stays is deleted later. */
  compact (throughIndex: number): void {
    this.assertOpen()
    assert(throughIndex <= this.snapshotIndex, () => `compact(${throughIndex}) beyond the snapshot at ${this.snapshotIndex}`)
    const current = this.segments[this.segments.length - 1] as Segment
    if (current.maxIndex <= throughIndex && this.size > 0 && this.size === this.syncedSize && this.broken === undefined) this.maybeRotate()
    const keep: Segment[] = []
    for (const segment of this.segments.slice(0, -1)) {
      if (segment.maxIndex <= throughIndex && keep.length === 0 && this.removeQuietly(segment.file)) continue
      keep.push(segment)
    }
    this.segments = [...keep, this.segments[this.segments.length - 1] as Segment]
    try { fsyncDirWith(this.fs, this.dir) } catch { /* a resurrected old segment only replays entries the snapshot covers */ }
    const drop = Math.min(this.terms.length, Math.max(0, throughIndex - this.termsOffset))
    this.terms.splice(0, drop)
    this.termsOffset += drop
  }

  private removeQuietly (file: string): boolean {
    try {
      this.fs.rmSync(file)
      return true
    } catch {
      return false
    }
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    if (this.fd !== undefined) {
      try { this.fs.closeSync(this.fd) } catch { /* nothing unsynced is promised */ }
    }
  }

  private currentFile (): string {
    return this.segments[this.segments.length - 1]?.file ?? this.dir
  }

  private assertOpen (): void {
    if (this.closed) throw new StorageClosedError()
  }

  private assertWritable (): void {
    assert(this.fd !== undefined, 'no open segment')
    if (this.broken !== undefined) throw new StorageIoError(this.currentFile(), `write (${this.broken.message}; restart the node)`, 'EIO')
  }

  /** For tests and operators: the files in the directory. */
  files (): string[] {
    return this.fs.readdirSync(this.dir).sort()
  }

  static snapshotFileName = snapshotFileName
}

/** The unreadable newest snapshot cannot be skipped: name the file, why, and how to repair. */
function unreadableError (cause: StorageCorruptionError, why: string): StorageCorruptionError {
  const reason = cause.message.replace(/^storage corrupt in .* at byte \d+: /, '')
  return new StorageCorruptionError(cause.file, cause.offset, `${reason}; ${why}. Repair: restore the file ` +
    'from a backup, or empty this data directory and start the node with the join string so it rejoins and ' +
    'receives a snapshot from the leader')
}

/** Replays one record onto the entry list (last writer wins by index). */
function applyRecord (entries: Entry[], record: WalRecord, file: string, offset: number): Entry[] {
  if (record.kind === 'reset') return record.all ? [] : entries.filter((e) => e.index > record.index)
  if (record.kind !== 'entry') return entries
  const entry = record.entry
  const last = entries[entries.length - 1]
  if (last === undefined || entry.index === last.index + 1) {
    assertTermOrder(last, entry, file, offset)
    entries.push(entry)
    return entries
  }
  if (entry.index <= last.index) {
    const first = entries[0] as Entry
    // A follower overwrites only from a conflict, where the terms differ (the core appends the part of a
    // batch after the first mismatch): an entry rewritten with its own term is a stale copy of a record.
    const replaced = entries[entry.index - first.index]
    if (replaced !== undefined && replaced.term === entry.term) {
      throw new StorageCorruptionError(file, offset, `entry ${entry.index} of term ${entry.term} written again after entry ${last.index}: a stale record`)
    }
    // Cut in place: a copy of the kept entries per overwrite made replaying a log of many overwrites (a
    // leader bumping the term at every frame) quadratic.
    entries.length = Math.max(0, entry.index - first.index)
    assertTermOrder(entries[entries.length - 1], entry, file, offset)
    entries.push(entry)
    return entries
  }
  throw new StorageCorruptionError(file, offset, `entry ${entry.index} after ${last.index}: a hole in the log`)
}

/**
 * Log terms never decrease (Raft's log matching), also across a follower's overwrite: an entry record
 * of a lower term than the entry before it is an old record replayed out of place, e.g. a copied range
 * at the tail (found by `npm run fuzz -- --target wal-recovery`).
 */
function assertTermOrder (previous: Entry | undefined, entry: Entry, file: string, offset: number): void {
  if (previous !== undefined && entry.term < previous.term) {
    throw new StorageCorruptionError(file, offset, `entry ${entry.index} of term ${entry.term} follows entry ${previous.index} of term ${previous.term}: a stale record`)
  }
}

const ZEROS = Buffer.alloc(1024 * 1024)

/** Zeros to write `bytes` of pre-written space with, at most 1 MiB at a time (one shared buffer). */
function zeroBuffer (bytes: number): Buffer {
  return bytes >= ZEROS.length ? ZEROS : ZEROS.subarray(0, bytes)
}

function assertContiguous (entries: Entry[]): void {
  for (let i = 1; i < entries.length; i++) assert((entries[i] as Entry).index === (entries[i - 1] as Entry).index + 1, 'entries must be contiguous')
}
