/**
 * @module consensus/storage/file-storage
 * Durable Raft storage on disk: an append-only, segmented write-ahead log (`wal-<n>.log`, checksummed
 * records, see record.ts) plus atomic snapshot files (snapshot-file.ts).
 *
 * - Group commit: `append`/`setHardState` only buffer in the OS; `sync()` is one fdatasync for the whole
 *   Ready batch. Synchronous calls on purpose (storage/types.ts explains why).
 * - Rotation: past `segmentBytesMax` a new segment starts with the current hard state, so deleting older
 *   segments after a snapshot never loses the hard state.
 * - Recovery (`load`): a torn tail — a partial or checksum-failing record at the end of the LAST segment with
 *   no valid record after it — is truncated; anything else that fails (a bad record followed by valid data,
 *   a bad record in an earlier segment, a hole in the indexes, an unreadable newest snapshot) refuses to
 *   start with a StorageCorruptionError naming the file and byte offset. Nothing synced is ever lost.
 */
import fs from 'node:fs'
import path from 'node:path'
import { assert } from '../../util/assert.js'
import type { Entry, HardState, Snapshot } from '../core/types.js'
import type { Storage, StorageState } from './types.js'
import { encodeRecord, readRecord, validDataAfter } from './record.js'
import type { WalRecord } from './record.js'
import { listSnapshots, readSnapshotFile, writeSnapshotFile, fsyncDir, snapshotFileName } from './snapshot-file.js'
import { StorageClosedError, StorageCorruptionError } from './errors.js'
import { SEGMENT_BYTES_MAX_DEFAULT, SNAPSHOTS_KEPT } from './constants.js'

const SEGMENT = /^wal-(\d{10})\.log$/
const segmentName = (n: number): string => `wal-${String(n).padStart(10, '0')}.log`

export interface FileStorageOptions {
  /** @default SEGMENT_BYTES_MAX_DEFAULT */
  segmentBytesMax?: number
}

interface Segment { number: number, file: string, maxIndex: number }

export class FileStorage implements Storage {
  private readonly segmentBytesMax: number
  private segments: Segment[] = []
  private fd: number | undefined
  private size = 0
  private hardState: HardState = { term: 0, vote: null, commit: 0 }
  private snapshotIndex = 0
  /** Terms of the stored entries: `terms[i]` is the term at index `termsOffset + 1 + i`. */
  private terms: number[] = []
  private termsOffset = 0
  private loaded: StorageState | undefined
  private closed = false

  constructor (private readonly dir: string, options: FileStorageOptions = {}) {
    this.segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.loaded = this.recover()
  }

  /** What recovery found at open. @throws StorageCorruptionError (from the constructor) */
  load (): StorageState {
    this.assertOpen()
    assert(this.loaded !== undefined, 'load after the state was consumed')
    return this.loaded
  }

  private recover (): StorageState {
    const snapshot = this.readNewestSnapshot()
    this.snapshotIndex = snapshot?.meta.index ?? 0
    const names = fs.readdirSync(this.dir).filter((n) => SEGMENT.test(n)).sort()
    let entries: Entry[] = []
    names.forEach((name, i) => {
      const file = path.join(this.dir, name)
      const maxIndex = this.replaySegment(file, i === names.length - 1, (record, offset) => {
        entries = applyRecord(entries, record, file, offset)
      })
      this.segments.push({ number: Number(SEGMENT.exec(name)?.[1]), file, maxIndex })
    })
    entries = entries.filter((e) => e.index > this.snapshotIndex)
    const first = entries[0]
    if (first !== undefined && first.index !== this.snapshotIndex + 1) {
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
    this.termsOffset = first !== undefined ? first.index - 1 : this.snapshotIndex
    this.terms = entries.map((e) => e.term)
    this.openSegment(this.segments.length === 0)
    return { hardState: { ...this.hardState }, ...(snapshot !== undefined ? { snapshot } : {}), entries }
  }

  private readNewestSnapshot (): Snapshot | undefined {
    const names = listSnapshots(this.dir)
    const newest = names[names.length - 1]
    for (const name of fs.readdirSync(this.dir)) if (name.endsWith('.snap.tmp')) fs.rmSync(path.join(this.dir, name), { force: true })
    return newest === undefined ? undefined : readSnapshotFile(path.join(this.dir, newest))
  }

  /** Replays one segment; truncates a torn tail of the last one. Returns the highest entry index in it. */
  private replaySegment (file: string, last: boolean, onRecord: (record: WalRecord, offset: number) => void): number {
    const buffer = fs.readFileSync(file)
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
      if (result.reason === 'end') return maxIndex
      const zeros = buffer.subarray(offset).every((b) => b === 0)
      if (!last || (!zeros && validDataAfter(buffer, offset))) {
        throw new StorageCorruptionError(file, offset, `${result.reason} record${last ? ' followed by valid records' : ' in a sealed segment'}`)
      }
      // A torn tail: the write that was in progress when the process died never completed (never synced).
      fs.truncateSync(file, offset)
      return maxIndex
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

  private openSegment (fresh: boolean): void {
    const lastSegment = this.segments[this.segments.length - 1]
    if (fresh || lastSegment === undefined) {
      const number = (lastSegment?.number ?? 0) + 1
      const file = path.join(this.dir, segmentName(number))
      this.fd = fs.openSync(file, 'a', 0o600)
      this.size = 0
      this.segments.push({ number, file, maxIndex: lastSegment?.maxIndex ?? 0 })
      this.write([{ kind: 'hard-state', hardState: this.hardState }])
      fs.fdatasyncSync(this.fd)
      fsyncDir(this.dir)
    } else {
      this.fd = fs.openSync(lastSegment.file, 'a', 0o600)
      this.size = fs.fstatSync(this.fd).size
    }
  }

  private write (records: WalRecord[]): void {
    assert(this.fd !== undefined, 'no open segment')
    const buffer = Buffer.concat(records.map(encodeRecord))
    let written = 0
    while (written < buffer.length) written += fs.writeSync(this.fd, buffer, written)
    this.size += buffer.length
    const current = this.segments[this.segments.length - 1] as Segment
    for (const record of records) if (record.kind === 'entry') current.maxIndex = Math.max(current.maxIndex, record.entry.index)
  }

  append (entries: Entry[]): void {
    this.assertOpen()
    if (entries.length === 0) return
    for (let i = 1; i < entries.length; i++) assert((entries[i] as Entry).index === (entries[i - 1] as Entry).index + 1, 'entries must be contiguous')
    this.write(entries.map((entry) => ({ kind: 'entry', entry })))
    const start = (entries[0] as Entry).index - this.termsOffset - 1
    if (start < 0) { this.terms = []; this.termsOffset = (entries[0] as Entry).index - 1 } else this.terms.splice(start)
    for (const entry of entries) this.terms.push(entry.term)
    if (this.size >= this.segmentBytesMax) this.rotate()
  }

  setHardState (hardState: HardState): void {
    this.assertOpen()
    this.hardState = { ...hardState }
    this.write([{ kind: 'hard-state', hardState: this.hardState }])
  }

  sync (): void {
    this.assertOpen()
    assert(this.fd !== undefined, 'no open segment')
    fs.fdatasyncSync(this.fd)
  }

  private rotate (): void {
    this.sync()
    fs.closeSync(this.fd as number)
    this.openSegment(true)
  }

  saveSnapshot (snapshot: Snapshot): void {
    this.assertOpen()
    if (snapshot.meta.index <= this.snapshotIndex) return
    // The snapshot file goes first (atomically); the reset record after it. A crash in between leaves
    // the new snapshot plus the old log: entries up to it are ignored on load, and any that follow are
    // uncommitted ones the leader will overwrite — never a hole.
    writeSnapshotFile(this.dir, snapshot)
    // A snapshot the log does not contain (installed from the leader) replaces the whole log; one taken
    // from our own applied state keeps the entries after it.
    const index = snapshot.meta.index
    const all = this.terms[index - this.termsOffset - 1] !== snapshot.meta.term
    this.write([{ kind: 'reset', index, all }])
    this.sync()
    if (all) { this.terms = []; this.termsOffset = index }
    this.snapshotIndex = index
    const names = listSnapshots(this.dir)
    for (const name of names.slice(0, Math.max(0, names.length - SNAPSHOTS_KEPT))) fs.rmSync(path.join(this.dir, name), { force: true })
  }

  compact (throughIndex: number): void {
    this.assertOpen()
    assert(throughIndex <= this.snapshotIndex, () => `compact(${throughIndex}) beyond the snapshot at ${this.snapshotIndex}`)
    const current = this.segments[this.segments.length - 1] as Segment
    if (current.maxIndex <= throughIndex && this.size > 0) this.rotate()
    const keep: Segment[] = []
    const sealed = this.segments.slice(0, -1)
    for (const segment of sealed) {
      if (segment.maxIndex <= throughIndex && keep.length === 0) fs.rmSync(segment.file, { force: true })
      else keep.push(segment)
    }
    this.segments = [...keep, this.segments[this.segments.length - 1] as Segment]
    fsyncDir(this.dir)
    const drop = Math.min(this.terms.length, Math.max(0, throughIndex - this.termsOffset))
    this.terms.splice(0, drop)
    this.termsOffset += drop
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    if (this.fd !== undefined) fs.closeSync(this.fd)
  }

  private assertOpen (): void {
    if (this.closed) throw new StorageClosedError()
  }

  /** For tests and operators: the files in the directory. */
  files (): string[] {
    return fs.readdirSync(this.dir).sort()
  }

  static snapshotFileName = snapshotFileName
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
    const kept = entry.index > first.index ? entries.slice(0, entry.index - first.index) : []
    // A follower overwrites only from a conflict, where the terms differ (the core appends the part of a
    // batch after the first mismatch): an entry rewritten with its own term is a stale copy of a record.
    const replaced = entries[entry.index - first.index]
    if (replaced !== undefined && replaced.term === entry.term) {
      throw new StorageCorruptionError(file, offset, `entry ${entry.index} of term ${entry.term} written again after entry ${last.index}: a stale record`)
    }
    assertTermOrder(kept[kept.length - 1], entry, file, offset)
    kept.push(entry)
    return kept
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
