/**
 * @module content/store
 * The content store on disk (docs/CONTENT.md §3), `<data-dir>/content/`:
 *
 * - `blocks/<hh>/<64 hex>`: one file per block (chunk or manifest), named by its BLAKE3 digest.
 *   A block is verified against its digest before it is written (tmp file, then rename) and again when it
 *   is read, so neither a lying peer nor a disk that returns garbage can make us serve or output wrong bytes
 *   (a block that fails the read check is deleted and fetched again). Blocks are not fsynced: content can
 *   always be fetched again, and a torn block fails its check.
 * - `index.json` and `index.journal`: the objects (root CIDs) with size, kind, complete/partial, pinned, last
 *   use; a snapshot and the changes since, one frame each (object-index.ts).
 * - `tmp/`: files being written; emptied at open.
 *
 * Usage is the sum of block sizes and never exceeds the quota: space is reserved before a write and given
 * back if the write fails. A full disk is a DiskFullError and leaves no partial file behind.
 */
import { promises as fs, mkdirSync, readdirSync, statSync, rmSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { blake3, equalBytes, parseCid } from '../codec/index.js'
import type { Logger } from '../log/index.js'
import {
  CHUNK_BYTES, DIR_DEPTH_MAX, OBJECTS_MAX, FILE_CHUNKS_MAX, ContentNotFoundError, DiskFullError, ObjectTooLargeError,
  QuotaExceededError, StoreIndexFullError, ChunkVerificationError, MalformedContentError, InvalidCidError,
  chunkCid, chunkLength, decodeManifest, dirSize, encodeManifest, isBlockCid, isManifestCid, sortEntries, validEntryName
} from './core/index.js'
import type { DirEntry, FileManifest, Manifest } from './core/index.js'
import { assert } from '../util/assert.js'
import { writeError } from './disk-error.js'
import { nodeIndexFs } from './index-fs.js'
import type { IndexFs } from './index-fs.js'
import { ObjectIndex } from './object-index.js'
import type { ObjectRecord } from './object-record.js'
import { TreeHeights, treeHeight } from './tree-height.js'

export type { ObjectRecord } from './object-record.js'

export interface ContentStoreInit {
  dir: string
  quotaBytes: number
  log: Logger
  nowMs?: () => number
  /** The file operations under index.json and its journal (tests count fsyncs and inject failures). @default nodeIndexFs */
  indexFs?: IndexFs
}

export interface GcResult { removedObjects: number, removedBlocks: number, freedBytes: number, skipped?: string }

function hexOf (digest: Uint8Array): string {
  return Buffer.from(digest).toString('hex')
}

/**
 * A chunk whose digest names bytes of another length than the manifest's chunk: no bytes satisfy both, so the
 * content is at fault, not whoever sent or stored the (hash-valid) block (docs/CONTENT.md §6 step 4).
 */
export function inconsistentChunk (root: CID, manifest: FileManifest, index: number, bytes: number): MalformedContentError {
  return new MalformedContentError(`${root.toString()}: chunk ${index} is ${chunkLength(manifest, index)} bytes in the manifest, but its digest names a block of ${bytes} bytes`)
}

/** Parses a root CID string. @throws InvalidCidError */
export function parseRootCid (text: string): CID {
  const cid = parseCid(text)
  if (cid === null || !isManifestCid(cid)) throw new InvalidCidError(`${text.slice(0, 100)} is not a BLAKE3 dag-cbor CIDv1 (a content root)`)
  return cid
}

export class ContentStore {
  private readonly blocksDir: string
  private readonly tmpDir: string
  /** digest hex → bytes on disk. Invariant: usedBytes === Σ sizes + reserved. */
  private readonly blocks = new Map<string, number>()
  private index!: ObjectIndex
  /** Block prefix directories known to exist (we never remove one): one mkdir each, not one per block. */
  private readonly prefixDirs = new Set<string>()
  private used = 0
  private writers = 0
  /**
   * Bumped by every `beginWrite`. gc reads manifests (awaits) between deciding what to keep and deleting:
   * a write that starts and ends in that window leaves `writers` at 0, so gc compares this instead.
   */
  private writeEpoch = 0
  private readonly nowMs: () => number
  /** Blocks whose read-back check failed (disk corruption), for status. */
  corruptBlocks = 0
  /**
   * Heights of trees held in full (`treeHeight`), shared by directory adds and fetches, so a tree added bottom-up
   * reads each manifest once. Cleared whenever a block is forgotten: a kept height says the tree is held.
   */
  readonly treeHeights = new TreeHeights()

  private constructor (private readonly init: ContentStoreInit) {
    this.blocksDir = path.join(init.dir, 'blocks')
    this.tmpDir = path.join(init.dir, 'tmp')
    this.nowMs = init.nowMs ?? Date.now
  }

  /**
   * Opens (creating) the store and scans its blocks. An unreadable index.json is logged and rebuilt empty.
   * @throws StoreJournalCorruptError when the index journal is damaged before its end
   */
  static async open (init: ContentStoreInit): Promise<ContentStore> {
    const store = new ContentStore(init)
    mkdirSync(store.blocksDir, { recursive: true, mode: 0o700 })
    rmSync(store.tmpDir, { recursive: true, force: true })
    mkdirSync(store.tmpDir, { recursive: true, mode: 0o700 })
    store.scanBlocks()
    store.index = await ObjectIndex.open({ dir: init.dir, tmpDir: store.tmpDir, log: init.log, nowMs: store.nowMs, fs: init.indexFs ?? nodeIndexFs })
    store.dropUnreadable()
    return store
  }

  /**
   * A record that says complete while its root manifest is not held cannot be read or served, yet would be
   * announced complete and never fetched again (a fetch takes a complete record as it is). It is left by a
   * crash while gc deleted blocks before it could write the index (a full disk, `commitRemovals`), a power
   * cut (blocks are not fsynced, index changes are), or a root deleted when it failed its check on a read.
   * Unpinned, it is dropped: gc removes those anyway, and the blocks left go at the next round. Pinned, it is
   * marked partial, as a pin keeps an object: the next start fetches it again. One lookup per record in the
   * blocks just scanned, no manifest read, so a block missing below a held root is found by a read or a walk,
   * not here. Written with the next change, and done again at every open until then.
   */
  private dropUnreadable (): void {
    const dropped: string[] = []
    const partial: string[] = []
    for (const record of [...this.index.values()]) {
      if (!record.complete || this.hasBlock(parseRootCid(record.cid))) continue
      if (record.pinned) {
        this.index.set({ ...record, complete: false })
        partial.push(record.cid)
      } else {
        this.index.delete(record.cid)
        dropped.push(record.cid)
      }
    }
    if (dropped.length + partial.length === 0) return
    this.init.log.warn({ dropped: dropped.length, partial: partial.length, examples: [...partial, ...dropped].slice(0, 3) },
      'content records said complete but their root manifest is not held: unpinned ones dropped, pinned ones marked partial and fetched again')
  }

  private scanBlocks (): void {
    for (const prefix of readdirSync(this.blocksDir)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue
      this.prefixDirs.add(path.join(this.blocksDir, prefix))
      for (const name of readdirSync(path.join(this.blocksDir, prefix))) {
        if (!/^[0-9a-f]{64}$/.test(name) || !name.startsWith(prefix)) continue
        const size = statSync(path.join(this.blocksDir, prefix, name)).size
        this.blocks.set(name, size)
        this.used += size
      }
    }
  }

  private blockPath (hex: string): string {
    return path.join(this.blocksDir, hex.slice(0, 2), hex)
  }

  /** Moves a written block to its place, creating its prefix directory once (again if it was removed). */
  private async renameIntoPrefixDir (tmp: string, target: string): Promise<void> {
    const dir = path.dirname(target)
    if (this.prefixDirs.has(dir)) {
      try {
        await fs.rename(tmp, target)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        this.prefixDirs.delete(dir)
      }
    }
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    this.prefixDirs.add(dir)
    await fs.rename(tmp, target)
  }

  hasBlock (cid: CID): boolean {
    return this.blocks.has(hexOf(cid.multihash.digest))
  }

  hasDigest (digest: Uint8Array): boolean {
    return this.blocks.has(hexOf(digest))
  }

  /**
   * The store's key of a block digest. With `hasBlockKey`, for callers that check the same digests again and
   * again (the server's map cache): computing a key costs more than looking it up.
   */
  blockKey (digest: Uint8Array): string {
    return hexOf(digest)
  }

  /** Whether the block whose `blockKey` is `key` is held. */
  hasBlockKey (key: string): boolean {
    return this.blocks.has(key)
  }

  /** The size of a held block, undefined when it is not held. */
  blockBytes (digest: Uint8Array): number | undefined {
    return this.blocks.get(hexOf(digest))
  }

  get usedBytes (): number { return this.used }
  get quotaBytes (): number { return this.init.quotaBytes }

  /**
   * Verifies `bytes` against `cid` and stores them (no-op when already held).
   * @throws ChunkVerificationError, QuotaExceededError, DiskFullError — nothing is written in any of them
   */
  async putBlock (cid: CID, bytes: Uint8Array): Promise<void> {
    if (!isBlockCid(cid)) throw new InvalidCidError(`${cid.toString()} is not a BLAKE3 block CID`)
    if (!equalBytes(blake3(bytes), cid.multihash.digest)) throw new ChunkVerificationError(`bytes do not match ${cid.toString()}`)
    const hex = hexOf(cid.multihash.digest)
    if (this.blocks.has(hex)) return
    if (this.used + bytes.length > this.init.quotaBytes) {
      throw new QuotaExceededError(`storing ${bytes.length} bytes would exceed the content quota (${this.used} of ${this.init.quotaBytes} bytes used)`)
    }
    this.used += bytes.length
    const tmp = path.join(this.tmpDir, `${hex}.${randomBytes(4).toString('hex')}`)
    try {
      await fs.writeFile(tmp, bytes, { mode: 0o600 })
      await this.renameIntoPrefixDir(tmp, this.blockPath(hex))
    } catch (err) {
      this.used -= bytes.length
      await fs.rm(tmp, { force: true }).catch(() => {})
      throw writeError(err, `storing ${cid.toString()} in ${this.init.dir}`)
    }
    if (this.blocks.has(hex)) this.used -= bytes.length // a concurrent write of the same block won
    else this.blocks.set(hex, bytes.length)
  }

  /** The block's bytes, verified; null when absent or when it failed its check (then it is deleted). */
  async readBlock (cid: CID): Promise<Uint8Array | null> {
    const hex = hexOf(cid.multihash.digest)
    if (!this.blocks.has(hex)) return null
    let bytes: Uint8Array
    try {
      bytes = await fs.readFile(this.blockPath(hex))
    } catch {
      this.forgetBlock(hex)
      return null
    }
    if (!equalBytes(blake3(bytes), cid.multihash.digest)) {
      this.corruptBlocks++
      this.init.log.error({ cid: cid.toString() }, 'a stored block failed its BLAKE3 check (disk corruption?); deleted, it will be fetched again')
      await this.deleteBlock(hex)
      return null
    }
    return bytes
  }

  private forgetBlock (hex: string): void {
    const size = this.blocks.get(hex)
    if (size === undefined) return
    this.blocks.delete(hex)
    this.used -= size
    // The block may be a manifest of a tree whose height is kept: a walk must find it gone (docs/CONTENT.md §6
    // step 4). Which trees reach it is not known without reading them, so every height goes.
    this.treeHeights.clear()
  }

  private async deleteBlock (hex: string): Promise<void> {
    this.forgetBlock(hex)
    await fs.rm(this.blockPath(hex), { force: true })
  }

  /** The decoded manifest of a root, if its block is held. @throws MalformedContentError for a bad manifest */
  async manifest (cid: CID): Promise<Manifest | null> {
    const bytes = await this.readBlock(cid)
    return bytes === null ? null : decodeManifest(bytes)
  }

  record (cid: CID | string): ObjectRecord | undefined {
    return this.index.get(cid.toString())
  }

  list (): ObjectRecord[] {
    return [...this.index.values()].sort((a, b) => a.addedAtMs - b.addedAtMs || (a.cid < b.cid ? -1 : 1))
  }

  /** Adds or updates an object record; durable when this resolves. @throws StoreIndexFullError, DiskFullError */
  async setRecord (cid: CID, patch: Partial<ObjectRecord> & Pick<ObjectRecord, 'type' | 'size'>): Promise<ObjectRecord> {
    // A write for gc: a pin, an unpin or a new record while gc runs must not be collected by that round.
    const end = this.beginWrite()
    try {
      return await this.putRecord(cid, patch)
    } finally {
      end()
    }
  }

  private async putRecord (cid: CID, patch: Partial<ObjectRecord> & Pick<ObjectRecord, 'type' | 'size'>): Promise<ObjectRecord> {
    const key = cid.toString()
    const existing = this.index.get(key)
    if (existing === undefined && this.index.size >= OBJECTS_MAX) throw new StoreIndexFullError(`the store holds ${OBJECTS_MAX} objects; run gc or unpin`)
    const now = this.nowMs()
    const record: ObjectRecord = { cid: key, complete: false, pinned: false, addedAtMs: now, lastUsedMs: now, ...existing, ...patch }
    this.index.set(record)
    await this.index.commit()
    return record
  }

  /**
   * Removes an object's record, durably when this resolves; its blocks stay until gc finds nothing reaching
   * them. Returns whether there was a record. Not a write for gc (no `beginWrite`): a round that decided to
   * keep the object before this only keeps more than it needs to, and the next round collects it.
   */
  async dropRecord (cid: CID): Promise<boolean> {
    if (!this.index.delete(cid.toString())) return false
    await this.index.commit()
    return true
  }

  /**
   * Records a use of the object now. Written lazily (object-index.ts): last use only feeds gc retention of
   * unpinned content, which can be fetched again, so a read does not wait for an fsync.
   */
  async touch (cid: CID): Promise<void> {
    if (this.index.get(cid.toString()) === undefined) return
    // A write for gc: an object used while gc runs is not past its retention any more.
    const end = this.beginWrite()
    try {
      await this.index.touch(cid.toString(), this.nowMs())
    } finally {
      end()
    }
  }

  /** Writes every pending change and folds the index journal into index.json (at a clean stop). */
  async checkpoint (): Promise<void> {
    await this.index.checkpoint()
  }

  /** Marks a writer (add or fetch) active: gc does not run while blocks are being written without a record. */
  beginWrite (): () => void {
    this.writers++
    this.writeEpoch++
    let ended = false
    return () => { if (!ended) { ended = true; this.writers-- } }
  }

  /**
   * Chunks `source` into CHUNK_BYTES blocks as it streams (memory: one chunk buffer), stores each verified
   * block and the file manifest, and records the object.
   * @throws ObjectTooLargeError, QuotaExceededError, DiskFullError
   */
  async addFile (source: AsyncIterable<Uint8Array>, options: { pin?: boolean } = {}): Promise<ObjectRecord> {
    const end = this.beginWrite()
    try {
      const digests: Uint8Array[] = []
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
      let filled = 0
      let size = 0
      const flush = async (): Promise<void> => {
        if (digests.length >= FILE_CHUNKS_MAX) throw new ObjectTooLargeError(`file over ${FILE_CHUNKS_MAX} chunks of ${CHUNK_BYTES} bytes`)
        const chunk = buffer.subarray(0, filled)
        const digest = blake3(chunk)
        await this.putBlock(chunkCid(digest), chunk)
        digests.push(digest)
        filled = 0
      }
      for await (const piece of source) {
        let offset = 0
        while (offset < piece.length) {
          const n = Math.min(CHUNK_BYTES - filled, piece.length - offset)
          buffer.set(piece.subarray(offset, offset + n), filled)
          filled += n
          offset += n
          size += n
          if (filled === CHUNK_BYTES) await flush()
        }
      }
      if (filled > 0) await flush()
      const manifest: FileManifest = { v: 1, type: 'file', size, chunkBytes: CHUNK_BYTES, chunks: digests }
      const { bytes, cid } = encodeManifest(manifest)
      await this.putBlock(cid, bytes)
      const pinned = options.pin === true || this.index.get(cid.toString())?.pinned === true
      return await this.setRecord(cid, { type: 'file', size, complete: true, pinned, lastUsedMs: this.nowMs() })
    } finally {
      end()
    }
  }

  /**
   * Records a directory whose entries are objects already complete in this store.
   * @throws ContentNotFoundError for an entry not held, MalformedContentError for a bad name or duplicate,
   * ObjectTooLargeError for directories that would nest over DIR_DEPTH_MAX — nothing is added in any of them
   */
  async addDir (entries: Array<{ name: string, cid: CID }>, options: { pin?: boolean } = {}): Promise<ObjectRecord> {
    // A write for gc from the first check on: its entries and its manifest block must outlive a round
    // running meanwhile, and the manifest is stored before its record exists.
    const end = this.beginWrite()
    try {
      return await this.putDir(entries, options)
    } finally {
      end()
    }
  }

  private async putDir (entries: Array<{ name: string, cid: CID }>, options: { pin?: boolean }): Promise<ObjectRecord> {
    const full: DirEntry[] = entries.map((e) => {
      if (!validEntryName(e.name)) throw new MalformedContentError(`bad entry name ${JSON.stringify(e.name)}`)
      const record = this.index.get(e.cid.toString())
      if (record === undefined || !record.complete) throw new ContentNotFoundError(`entry ${e.name}: ${e.cid.toString()} is not held completely here`)
      return { name: e.name, cid: e.cid, size: record.size }
    })
    // The nesting limit holds for a tree added here as for one fetched (docs/CONTENT.md §7): no other node
    // could fetch a deeper one. Checked before anything is written.
    const known = new Map<string, number>()
    for (const e of full) {
      const height = await treeHeight(this, e.cid, DIR_DEPTH_MAX - 1, known)
      if (height === 'over') throw new ObjectTooLargeError(`entry ${e.name}: directory nesting over ${DIR_DEPTH_MAX}`)
      if (height === 'missing') throw new ContentNotFoundError(`entry ${e.name}: ${e.cid.toString()} is not held completely here (a manifest below it is missing)`)
    }
    const { bytes, cid } = encodeManifest({ v: 1, type: 'dir', entries: sortEntries(full) })
    await this.putBlock(cid, bytes)
    const size = dirSize(full)
    return await this.setRecord(cid, { type: 'dir', size, complete: true, pinned: options.pin === true, lastUsedMs: this.nowMs() })
  }

  /**
   * The bytes of a complete file, chunk by chunk, each verified as it is read, digest and length: a manifest
   * whose digest names a block of another length than its chunk (held for another file) yields no more.
   * @throws ContentNotFoundError when the file or one of its chunks is not held, MalformedContentError when
   * a chunk's length is not the manifest's
   */
  async * readFile (root: CID): AsyncGenerator<Uint8Array> {
    const manifest = await this.manifest(root)
    if (manifest === null) throw new ContentNotFoundError(`${root.toString()} is not held here`)
    if (manifest.type !== 'file') throw new MalformedContentError(`${root.toString()} is a directory, not a file`)
    for (const [index, digest] of manifest.chunks.entries()) {
      const bytes = await this.readBlock(chunkCid(digest))
      if (bytes === null) throw new ContentNotFoundError(`a chunk of ${root.toString()} is missing or was corrupt`)
      if (bytes.length !== chunkLength(manifest, index)) throw inconsistentChunk(root, manifest, index, bytes.length)
      yield bytes
    }
  }

  /**
   * Removes unpinned objects unused for `retentionMs` and every block no retained object reaches.
   * In-progress fetches and pinned objects (with everything below them) are kept. A round in which anything
   * was written (add, fetch, pin, unpin, touch) while it read manifests deletes nothing: what to keep was
   * decided before that write, so it could delete an object pinned or added meanwhile, and its blocks.
   * The removals are durable before the first block is deleted, except on a full disk (`commitRemovals`).
   * @throws DiskFullError when the index cannot be written even after the blocks were deleted (they were), or
   * the index's error (nothing was deleted then)
   */
  async gc (retentionMs: number): Promise<GcResult> {
    const skipped: GcResult = { removedObjects: 0, removedBlocks: 0, freedBytes: 0, skipped: 'writes in progress' }
    if (this.writers > 0) return skipped
    const epoch = this.writeEpoch
    const now = this.nowMs()
    const retained = [...this.index.values()].filter((o) => o.pinned || !o.complete || o.lastUsedMs + retentionMs > now)
    const live = new Set<string>()
    const reachable = new Set<string>()
    for (const o of retained) await this.markLive(parseRootCid(o.cid), live, reachable)
    if (this.writeEpoch !== epoch) return skipped
    const removed = [...this.index.values()].filter((o) => !reachable.has(o.cid))
    for (const o of removed) {
      // `open` undoes a removal a crash left unwritten by dropping the record (`dropUnreadable`): right for these only.
      assert(!o.pinned, () => `gc removing pinned ${o.cid}`)
      this.index.delete(o.cid)
    }
    const diskFull = await this.commitRemovals(removed.length)
    // Directories' roots first, then files', then the rest (`deleteUnreachable`).
    const roots = [...removed.filter((o) => o.type === 'dir'), ...removed.filter((o) => o.type === 'file')]
    const deleted = await this.deleteUnreachable(live, roots.map((o) => hexOf(parseRootCid(o.cid).multihash.digest)), epoch)
    if (diskFull !== undefined) await this.commitAfterFreeing(diskFull, deleted)
    return { removedObjects: removed.length, ...deleted }
  }

  /**
   * Writes the round's removals, and the lazy touches with them (a round is the latest they wait for), before
   * any block is deleted. Deleting first, as gc did, let a crash before the write bring the removed records
   * back at the next start, still complete, with their blocks gone: the node announced and served objects it
   * could not read. Called even with nothing to write: it then waits for a batch being written (another
   * round's removals, a `dropRecord`), which this round's deletions must not overtake either.
   * A full disk must not stop gc, whose deletions are what frees it: the DiskFullError is returned, and the
   * blocks go first (`commitAfterFreeing` writes the index after). Any other error ends the round with nothing
   * deleted; the removals stay pending and are written with the next change or round.
   */
  private async commitRemovals (removedObjects: number): Promise<Error | undefined> {
    try {
      await this.index.commit()
      return undefined
    } catch (err) {
      if ((err as Error).name !== 'DiskFullError') throw err
      this.init.log.warn({ removedObjects, err: (err as Error).message },
        'content index not written (disk full): gc deletes the unreachable blocks first to free space; a crash before the index is ' +
        'written brings back the removed records, and the next start drops those whose root manifest is gone')
      return err as Error
    }
  }

  /**
   * Deletes every held block outside `live`, the removed objects' roots (`removedRoots`, hex) first. NB: the
   * order only matters while the removals are not written (a full disk): a record a crash then brings back
   * either lacks its root, and `open` drops it (`dropUnreadable`), or still holds every block of its own.
   * Directories' roots go before files', so only a removed directory above another removed directory can
   * come back lacking a manifest below it. Stops at a write that starts meanwhile.
   */
  private async deleteUnreachable (live: Set<string>, removedRoots: string[], epoch: number): Promise<{ removedBlocks: number, freedBytes: number }> {
    // A Set keeps insertion order: the roots held, then every other block once.
    const order = new Set(removedRoots.filter((hex) => this.blocks.has(hex)))
    for (const hex of this.blocks.keys()) order.add(hex)
    let removedBlocks = 0
    let freedBytes = 0
    for (const hex of order) {
      if (live.has(hex)) continue
      // A write that started during the commit or the deletions may have found one of these blocks already held.
      if (this.writeEpoch !== epoch) break
      const size = this.blocks.get(hex)
      if (size === undefined) continue // deleted meanwhile: a read found it corrupt, or another round
      await this.deleteBlock(hex)
      removedBlocks++
      freedBytes += size
    }
    return { removedBlocks, freedBytes }
  }

  /** Writes the removals once the blocks are deleted, after a full disk refused them (`commitRemovals`). */
  private async commitAfterFreeing (first: Error, deleted: { removedBlocks: number, freedBytes: number }): Promise<void> {
    try {
      await this.index.commit()
    } catch (err) {
      if ((err as Error).name !== 'DiskFullError') throw err
      throw new DiskFullError(`${first.message}, and again after gc deleted ${deleted.removedBlocks} blocks (${deleted.freedBytes} bytes): ` +
        'the removals are written with the next change')
    }
    this.init.log.info({ ...deleted }, 'content index written after gc freed space')
  }

  /**
   * Marks `root` and every object and block below it. NB: no depth bound. A store may hold a tree nested
   * deeper than DIR_DEPTH_MAX (an older build's add or fetch could complete one), and the walk that stopped
   * at depth 64 deleted the blocks below it while the record still said complete: pinned content lost.
   * Marking such a record incomplete instead was not chosen: its next fetch would fail for the nesting and
   * drop it, and gc would then delete content held in full and readable here. So gc keeps everything a kept
   * object reaches. The walk is bounded by the store all the same: `reachable` lets each object in once a
   * round, so `pending` holds at most the objects the held manifests name, and each manifest is read once.
   * No recursion, so no stack grows with the depth.
   */
  private async markLive (root: CID, live: Set<string>, reachable: Set<string>): Promise<void> {
    const pending: CID[] = []
    const reach = (cid: CID): void => {
      if (reachable.has(cid.toString())) return
      reachable.add(cid.toString())
      live.add(hexOf(cid.multihash.digest))
      pending.push(cid)
    }
    reach(root)
    for (let cid = pending.pop(); cid !== undefined; cid = pending.pop()) {
      let manifest: Manifest | null
      try {
        manifest = await this.manifest(cid)
      } catch {
        continue
      }
      if (manifest === null) continue
      if (manifest.type === 'file') for (const d of manifest.chunks) live.add(hexOf(d))
      else for (const e of manifest.entries) reach(e.cid)
    }
  }
}
