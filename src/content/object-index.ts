/**
 * @module content/object-index
 * The store's object records, in memory and on disk (docs/CONTENT.md §3): index.json is a snapshot, and
 * `index.journal` beside it holds one checksummed frame per change since (index-frame.ts), so a change costs
 * its own record, not the whole index. Before, every change (a touch on every read too) rewrote and fsynced
 * all of index.json: adding N objects one at a time wrote O(N²) bytes.
 *
 * - Durable before `commit` resolves: every `set` and `delete` queued before it (adds, pins, unpins, fetch
 *   records, drops, gc's removals). Callers that commit while a batch is being written share the next
 *   batch: one append and one fdatasync for all of them (group commit).
 * - Lazy: `touch` (last use), which only feeds gc retention of unpinned content, and unpinned content can
 *   be fetched again. It rides with the next batch, the next gc round (`ContentStore.gc` commits), or once
 *   INDEX_TOUCHES_PENDING_MAX changes wait; a crash loses at most those, and gc may then collect an object
 *   that much sooner.
 * - Folding: once the journal outgrows index.json (INDEX_JOURNAL_FOLD_BYTES_MIN), a batch writes a new
 *   index.json (tmp, fsync, rename, directory fsync) naming a new journal and the old one as folded, then
 *   the new, empty journal (the same way). A crash at any point leaves a readable pair (`load`).
 */
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Logger } from '../log/index.js'
import { assert } from '../util/assert.js'
import { INDEX_JOURNAL_FOLD_BYTES_MIN, INDEX_TOUCHES_PENDING_MAX, OBJECTS_MAX, StoreJournalCorruptError } from './core/index.js'
import { writeError } from './disk-error.js'
import { encodeFrame, payloadExample, readHeader, scanJournal } from './index-frame.js'
import type { IndexFs } from './index-fs.js'
import { parseSnapshot, snapshotText } from './index-snapshot.js'
import type { Snapshot } from './index-snapshot.js'
import type { ObjectRecord } from './object-record.js'

export const INDEX_FILE = 'index.json'
export const JOURNAL_FILE = 'index.journal'

export interface ObjectIndexInit {
  /** The store's directory, which holds index.json and the journal. */
  dir: string
  /** Where files are written before they are renamed into `dir` (the same file system). */
  tmpDir: string
  log: Logger
  nowMs: () => number
  fs: IndexFs
  /** The journal is folded once it holds more bytes than this and than index.json. @default INDEX_JOURNAL_FOLD_BYTES_MIN */
  foldBytesMin?: number
}

/** Callers of `commit` waiting for the same write. */
interface Batch { done: Promise<void>, resolve: () => void, reject: (err: unknown) => void, fold: boolean }

function newBatch (): Batch {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { done, resolve, reject, fold: false }
}

export class ObjectIndex {
  /** Root CID → record. Invariant: size <= OBJECTS_MAX. */
  private readonly records = new Map<string, ObjectRecord>()
  /** Objects changed in memory since the last batch took them; a batch writes each as it is then. */
  private readonly changed = new Set<string>()
  /** The batch `commit` callers join until it starts. */
  private gathering: Batch | undefined
  /** Invariant: one batch is written at a time, so appends reach the file in order and a fold sees no append. */
  private writing = false
  /** The journal on disk that extends index.json; undefined until a fold makes one. */
  private journalId: string | undefined
  /** Bytes of the journal: its header and whole frames. */
  private journalBytes = 0
  private headerBytes = 0
  private snapshotBytes = 0
  /**
   * The next batch folds instead of appending: no journal extends index.json yet (a new store, an index.json
   * from a build before the journal, a journal set aside or folded), or a write failed, so the journal may
   * end in part of a batch, or may no longer be the one index.json names.
   */
  private foldNeeded = false
  private readonly indexFile: string
  private readonly journalFile: string

  private constructor (private readonly init: ObjectIndexInit) {
    this.indexFile = path.join(init.dir, INDEX_FILE)
    this.journalFile = path.join(init.dir, JOURNAL_FILE)
  }

  /**
   * Reads index.json and replays its journal.
   * @throws StoreJournalCorruptError when the journal is damaged before its end (nothing is changed on disk)
   */
  static async open (init: ObjectIndexInit): Promise<ObjectIndex> {
    const index = new ObjectIndex(init)
    await index.load()
    return index
  }

  get size (): number { return this.records.size }
  /** Changes not yet written (touches, or writes whose commit failed). */
  get pendingChanges (): number { return this.changed.size }
  get (cid: string): ObjectRecord | undefined { return this.records.get(cid) }
  values (): IterableIterator<ObjectRecord> { return this.records.values() }
  keys (): IterableIterator<string> { return this.records.keys() }

  /** Adds or replaces a record in memory; on disk at the next `commit`. */
  set (record: ObjectRecord): void {
    assert(this.records.has(record.cid) || this.records.size < OBJECTS_MAX, 'index over OBJECTS_MAX')
    this.records.set(record.cid, record)
    this.changed.add(record.cid)
  }

  /** Removes a record from memory; on disk at the next `commit`. Returns whether there was one. */
  delete (cid: string): boolean {
    if (!this.records.delete(cid)) return false
    this.changed.add(cid)
    return true
  }

  /** Sets a record's last use, written lazily (module doc); waits only when INDEX_TOUCHES_PENDING_MAX wait. */
  async touch (cid: string, lastUsedMs: number): Promise<void> {
    const record = this.records.get(cid)
    if (record === undefined) return
    record.lastUsedMs = lastUsedMs
    this.changed.add(cid)
    if (this.changed.size >= INDEX_TOUCHES_PENDING_MAX) await this.commit()
  }

  /**
   * Makes every change made before this call durable (group commit).
   * @throws DiskFullError or the fs error; the changes stay in memory and the next batch writes them all
   */
  async commit (): Promise<void> { await this.enqueue(false) }

  /** Writes every change, and folds the journal into index.json if it holds any: at a clean stop. */
  async checkpoint (): Promise<void> { await this.enqueue(true) }

  private async enqueue (fold: boolean): Promise<void> {
    this.gathering ??= newBatch()
    this.gathering.fold ||= fold
    const done = this.gathering.done
    if (!this.writing) void this.drain()
    await done
  }

  /**
   * Writes batches until no caller waits. Each turn serves the callers that came during the one before, so
   * the loop ends as soon as a write finds nobody new; callers each wait for their batch, which bounds it.
   */
  private async drain (): Promise<void> {
    this.writing = true
    // Callers in this same turn of the event loop (concurrent setRecords) join the first batch too.
    await Promise.resolve()
    for (let batch = this.gathering; batch !== undefined; batch = this.gathering) {
      this.gathering = undefined
      try {
        await this.writeBatch(batch.fold)
        batch.resolve()
      } catch (err) {
        batch.reject(err)
      }
    }
    this.writing = false
  }

  private async writeBatch (foldAsked: boolean): Promise<void> {
    const framesHeld = this.journalBytes > this.headerBytes
    if (foldAsked && (this.foldNeeded || framesHeld || this.changed.size > 0)) return await this.fold()
    if (this.changed.size === 0) return
    const foldBytes = Math.max(this.init.foldBytesMin ?? INDEX_JOURNAL_FOLD_BYTES_MIN, this.snapshotBytes)
    if (this.foldNeeded || this.journalBytes > foldBytes) return await this.fold()
    await this.append()
  }

  private async append (): Promise<void> {
    assert(this.journalId !== undefined, 'append without a journal')
    const cids = [...this.changed]
    this.changed.clear()
    let text = ''
    for (const cid of cids) {
      const record = this.records.get(cid)
      text += encodeFrame(record === undefined ? { kind: 'drop', cid } : { kind: 'put', record })
    }
    const bytes = Buffer.from(text)
    try {
      await this.init.fs.append(this.journalFile, bytes)
    } catch (err) {
      // The journal may end in part of this batch now: nothing goes after it. The next batch folds every
      // record as it is in memory, these included, into a new index.json and journal.
      this.foldNeeded = true
      for (const cid of cids) this.changed.add(cid)
      throw writeError(err, `appending to the content index journal in ${this.init.dir}`)
    }
    this.journalBytes += bytes.length
  }

  /**
   * Step 1 writes index.json with every record, naming a new journal and the old one as folded; step 2
   * replaces the journal with the new, empty one. A crash before step 1's rename leaves the old pair; after
   * it, index.json and the old journal, which `load` knows as folded. Nothing is appended until both are done.
   */
  private async fold (): Promise<void> {
    this.foldNeeded = true
    const journalId = randomBytes(8).toString('hex')
    const ids = { journal: journalId, ...(this.journalId !== undefined ? { journalFolded: this.journalId } : {}) }
    // Taken in this turn: a change made while the files are written is in `changed` again, for the next batch.
    const cids = [...this.changed]
    this.changed.clear()
    const snapshot = Buffer.from(snapshotText(this.records.values(), ids))
    const header = Buffer.from(encodeFrame({ kind: 'header', journalId }))
    try {
      await this.replaceFile(this.indexFile, snapshot)
      await this.replaceFile(this.journalFile, header)
    } catch (err) {
      for (const cid of cids) this.changed.add(cid)
      throw writeError(err, `writing the content index in ${this.init.dir}`)
    }
    this.journalId = journalId
    this.journalBytes = this.headerBytes = header.length
    this.snapshotBytes = snapshot.length
    this.foldNeeded = false
  }

  /** Replaces `file` atomically and durably: tmp, fsync, rename, directory fsync. No tmp file stays. */
  private async replaceFile (file: string, bytes: Uint8Array): Promise<void> {
    const tmp = path.join(this.init.tmpDir, `${path.basename(file)}.${randomBytes(4).toString('hex')}`)
    try {
      await this.init.fs.writeSynced(tmp, bytes)
      await this.init.fs.rename(tmp, file)
    } catch (err) {
      await this.init.fs.rm(tmp).catch(() => {})
      throw err
    }
    // The next append must not land in a journal a power cut could swap back for the old one.
    await this.init.fs.syncDir(this.init.dir)
  }

  private async load (): Promise<void> {
    const snapshot = await this.loadSnapshot()
    const bytes = await this.init.fs.readFile(this.journalFile).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    const header = bytes === undefined ? undefined : readHeader(bytes)
    if (bytes !== undefined && header !== undefined && header.journalId === snapshot?.journal) {
      await this.replay(bytes, header.journalId, header.next)
      return
    }
    this.foldNeeded = true
    if (bytes === undefined) return
    if (header !== undefined && header.journalId === snapshot?.journalFolded) {
      this.init.log.info({ file: this.journalFile }, 'content index journal folded into index.json already (a stop between the steps of a fold)')
      return
    }
    if (header === undefined && snapshot?.journal !== undefined) throw this.corrupt(0, 'no header')
    // Another history's journal (an older index.json restored, or written by a build before the journal after a
    // downgrade), or one beside an unreadable index.json: index.json is what holds. Kept for the operator.
    if (header !== undefined && bytes.length === header.next) return
    const aside = `${this.journalFile}.stale-${this.init.nowMs()}`
    this.init.log.warn({ file: this.journalFile, movedTo: aside, bytes: bytes.length },
      'content index journal does not extend index.json; set aside, not replayed')
    // Should the rename fail, the next fold replaces the journal all the same.
    await this.init.fs.rename(this.journalFile, aside).catch(() => {})
  }

  /** Reads index.json into `records`; an unreadable one is set aside (its records lost: pins and names, not blocks). */
  private async loadSnapshot (): Promise<Snapshot | undefined> {
    let text: string
    try {
      text = (await this.init.fs.readFile(this.indexFile)).toString('utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    let snapshot: Snapshot
    try {
      snapshot = parseSnapshot(text)
    } catch (err) {
      // Blocks are self-verifying, so an unreadable index loses only pins and names, never bytes; the
      // broken file is kept beside for the operator.
      this.init.log.error({ file: this.indexFile, err: (err as Error).message }, 'content index unreadable; starting with an empty index')
      await this.init.fs.rename(this.indexFile, `${this.indexFile}.corrupt-${this.init.nowMs()}`).catch(() => {})
      return undefined
    }
    for (const record of snapshot.records) this.records.set(record.cid, record)
    this.snapshotBytes = Buffer.byteLength(text)
    if (snapshot.skipped.length > 0) {
      const examples = snapshot.skipped.slice(0, 3).map((o) => JSON.stringify(o).slice(0, 200))
      this.init.log.warn({ file: this.indexFile, skipped: snapshot.skipped.length, examples }, 'content index records that are not a root CID with a valid record skipped')
    }
    return snapshot
  }

  /** Applies the frames after the header; a torn last frame is truncated, damage before the end refused. */
  private async replay (bytes: Buffer, journalId: string, offset: number): Promise<void> {
    const result = scanJournal(bytes, offset)
    if (!result.ok) throw this.corrupt(result.offset, result.reason)
    const { scan } = result
    const skipped = scan.invalid.map(payloadExample)
    for (const frame of scan.frames) {
      if (frame.kind === 'drop') this.records.delete(frame.cid)
      else if (this.records.has(frame.record.cid) || this.records.size < OBJECTS_MAX) this.records.set(frame.record.cid, frame.record)
      else skipped.push(`over ${OBJECTS_MAX} objects: ${frame.record.cid}`)
    }
    if (skipped.length > 0) {
      this.init.log.warn({ file: this.journalFile, skipped: skipped.length, examples: skipped.slice(0, 3) }, 'content index journal frames that are not a valid record skipped')
    }
    this.journalId = journalId
    this.headerBytes = offset
    this.journalBytes = scan.validBytes
    if (scan.tornBytes === 0) return
    // A crash while appending: that batch's callers were never told it was written.
    this.init.log.warn({ file: this.journalFile, offset: scan.validBytes, bytes: scan.tornBytes }, 'content index journal ended in a frame cut short (a crash while appending); dropped')
    try {
      await this.init.fs.truncate(this.journalFile, scan.validBytes)
    } catch (err) {
      this.init.log.warn({ file: this.journalFile, err: (err as Error).message }, 'could not truncate the content index journal; the next change folds it')
      this.foldNeeded = true
    }
  }

  private corrupt (offset: number, reason: string): StoreJournalCorruptError {
    this.init.log.error({ file: this.journalFile, offset, reason }, 'content index journal damaged before its end; the store does not open')
    return new StoreJournalCorruptError(`${this.journalFile}: damaged at byte ${offset} (${reason}), with whole frames after it. ` +
      `Move it aside to open with index.json's records only (the changes since its last fold are lost: pins and names, never blocks)`)
  }
}
