/**
 * @module content/store
 * The content store on disk (docs/CONTENT.md §3), `<data-dir>/content/`: the objects it holds and their blocks.
 * `ContentStore` is the door: it adds files and directories (chunking them into blocks and manifests), reads
 * them back, and keeps the record of each object (root CID, size, kind, complete/partial, pinned, last use).
 *
 * - `blocks/` and `tmp/`: one file per block, verified before it is written and when it is read; usage never
 *   exceeds the quota (block-files.ts).
 * - `index.json` and `index.journal`: the object records; a snapshot and the changes since, one frame each
 *   (object-index.ts).
 * - gc: unpinned objects past their retention, and every block no kept object reaches (garbage-collector.ts).
 */
import type { CID } from 'multiformats/cid'
import { blake3 } from '../codec/index.js'
import type { Logger } from '../log/index.js'
import {
  CHUNK_BYTES, DIR_DEPTH_MAX, OBJECTS_MAX, FILE_CHUNKS_MAX, ContentNotFoundError, ObjectTooLargeError,
  StoreIndexFullError, MalformedContentError,
  chunkCid, chunkLength, decodeManifest, dirSize, encodeManifest, sortEntries, validEntryName
} from './core/index.js'
import type { DirEntry, FileManifest, Manifest } from './core/index.js'
import { BlockFiles, digestHex } from './block-files.js'
import type { BlockFs } from './block-files.js'
import { GarbageCollector } from './garbage-collector.js'
import type { GcResult } from './garbage-collector.js'
import { nodeIndexFs } from './index-fs.js'
import type { IndexFs } from './index-fs.js'
import { ObjectIndex } from './object-index.js'
import { pinFields } from './object-record.js'
import type { ObjectRecord, PinRequest } from './object-record.js'
import { TreeHeights, treeHeight } from './tree-height.js'
import { HeldTrees } from './held-trees.js'
import { steadyNowMs } from '../util/clock.js'

export type { ObjectRecord, PinRequest } from './object-record.js'
export { parseRootCid } from './object-record.js'
export type { GcResult } from './garbage-collector.js'

export interface ContentStoreInit {
  dir: string
  quotaBytes: number
  log: Logger
  /**
   * The clock of records' `addedAtMs` and `lastUsedMs` (gc retention) and of index file names. Steady, not the
   * wall clock: a forward step of a day would make every unpinned object look a day older and one gc round
   * collect them all. NB: the times are persisted, and a later run compares them with its own clock. That works
   * because the steady clock reads like the wall clock when the process starts: a record's age reads wrong, after
   * a restart, only by the steps the wall clock took during the run that wrote it (as a wall-clock record written
   * before a step would), and never for every record at once while the node runs. @default steadyNowMs
   */
  nowMs?: () => number
  /** The file operations under index.json and its journal (tests count fsyncs and inject failures). @default nodeIndexFs */
  indexFs?: IndexFs
  /** The file operations of block writes (tests see what is synced before what). @default nodeBlockFs */
  blockFs?: BlockFs
}

/**
 * A chunk whose digest names bytes of another length than the manifest's chunk: no bytes satisfy both, so the
 * content is at fault, not whoever sent or stored the (hash-valid) block (docs/CONTENT.md §6 step 4).
 */
export function inconsistentChunk (root: CID, manifest: FileManifest, index: number, bytes: number): MalformedContentError {
  return new MalformedContentError(`${root.toString()}: chunk ${index} is ${chunkLength(manifest, index)} bytes in the manifest, but its digest names a block of ${bytes} bytes`)
}

export class ContentStore {
  private readonly blocks: BlockFiles
  private index!: ObjectIndex
  private collector!: GarbageCollector
  private readonly nowMs: () => number
  /**
   * Heights of trees held in full (`treeHeight`), shared by directory adds and fetches, so a tree added bottom-up
   * reads each manifest once. Cleared whenever a block is forgotten: a kept height says the tree is held.
   */
  readonly treeHeights = new TreeHeights()
  /** Objects known held in full, down to every chunk (held-trees.ts). Cleared whenever a block is forgotten. */
  readonly heldTrees = new HeldTrees()

  private constructor (init: ContentStoreInit) {
    this.nowMs = init.nowMs ?? steadyNowMs
    this.blocks = new BlockFiles({
      dir: init.dir,
      quotaBytes: init.quotaBytes,
      log: init.log,
      // The block may be a manifest of a tree whose height is kept: a walk must find it gone (docs/CONTENT.md §6
      // step 4). Which trees reach it is not known without reading them, so every height goes.
      onForget: () => {
        this.treeHeights.clear()
        this.heldTrees.clear()
      },
      ...(init.blockFs !== undefined ? { fs: init.blockFs } : {})
    })
  }

  /**
   * Opens (creating) the store and scans its blocks. An unreadable index.json is logged and rebuilt empty.
   * @throws StoreJournalCorruptError when the index journal is damaged before its end
   */
  static async open (init: ContentStoreInit): Promise<ContentStore> {
    const store = new ContentStore(init)
    store.blocks.open()
    store.index = await ObjectIndex.open({ dir: init.dir, tmpDir: store.blocks.tmpDir, log: init.log, nowMs: store.nowMs, fs: init.indexFs ?? nodeIndexFs })
    store.collector = new GarbageCollector({ index: store.index, blocks: store.blocks, manifests: store, log: init.log, nowMs: store.nowMs })
    store.collector.dropUnreadable()
    return store
  }

  hasBlock (cid: CID): boolean {
    return this.blocks.has(digestHex(cid.multihash.digest))
  }

  hasDigest (digest: Uint8Array): boolean {
    return this.blocks.has(digestHex(digest))
  }

  /**
   * The store's key of a block digest. With `hasBlockKey`, for callers that check the same digests again and
   * again (the server's map cache): computing a key costs more than looking it up.
   */
  blockKey (digest: Uint8Array): string {
    return digestHex(digest)
  }

  /** Whether the block whose `blockKey` is `key` is held. */
  hasBlockKey (key: string): boolean {
    return this.blocks.has(key)
  }

  /** The size of a held block, undefined when it is not held. */
  blockBytes (digest: Uint8Array): number | undefined {
    return this.blocks.bytes(digestHex(digest))
  }

  get usedBytes (): number { return this.blocks.usedBytes }
  /** Objects recorded (complete or not), without copying or sorting their records as list() does. */
  get objectCount (): number { return this.index.size }
  get quotaBytes (): number { return this.blocks.quotaBytes }
  /** Blocks whose read-back check failed (disk corruption), for status. */
  get corruptBlocks (): number { return this.blocks.corruptBlocks }

  /**
   * Verifies `bytes` against `cid` and stores them (no-op when already held).
   * @throws ChunkVerificationError, QuotaExceededError, DiskFullError — nothing is written in any of them
   */
  putBlock (cid: CID, bytes: Uint8Array): Promise<void> {
    return this.blocks.put(cid, bytes)
  }

  /** The block's bytes, verified; null when absent or when it failed its check (then it is deleted). */
  readBlock (cid: CID): Promise<Uint8Array | null> {
    return this.blocks.read(cid)
  }

  /** The decoded manifest of a root, if its block is held. @throws MalformedContentError for a bad manifest */
  async manifest (cid: CID): Promise<Manifest | null> {
    const bytes = await this.readBlock(cid)
    return bytes === null ? null : decodeManifest(bytes)
  }

  /**
   * Whether `root` is held in full: known so since the store last forgot a block (`heldTrees`, no read), or, a
   * file, its manifest and every chunk at the manifest's length (then it is known so). A chunk deleted when it
   * failed its check on a read, or lost or torn by a power cut (fetched blocks are not fsynced), makes it false,
   * and a fetch then asks for those chunks only. A held chunk of another length is read first (its check
   * deletes a torn one). A directory not known held is false here, not walked: a fetch walks it down to its
   * files' chunks, reading each manifest once (fetch.ts). `manifest`: the root's, if the caller read it already.
   * @throws MalformedContentError, BlockReadError from reading the manifest
   */
  async heldInFull (root: CID, manifest?: Manifest | null): Promise<boolean> {
    if (this.heldTrees.has(root)) return true
    if (this.record(root)?.type === 'dir') return false
    const epoch = this.heldTrees.epoch
    const read = manifest === undefined ? await this.manifest(root) : manifest
    if (read?.type !== 'file') return false
    let full = true
    for (const [index, digest] of read.chunks.entries()) {
      const bytes = this.blocks.bytes(digestHex(digest))
      if (bytes === chunkLength(read, index)) continue
      if (bytes !== undefined) await this.readBlock(chunkCid(digest))
      full = false
    }
    if (full) this.heldTrees.add(root, epoch)
    return full
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
    // The catalog's mark lives only on its pin: an unpin, or a patch that clears it, takes it away.
    if (!record.pinned || record.catalog !== true) delete record.catalog
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
    return this.collector.beginWrite()
  }

  /**
   * Chunks `source` into CHUNK_BYTES blocks as it streams (memory: one chunk buffer), stores each verified
   * block and the file manifest, and records the object.
   * @throws ObjectTooLargeError, QuotaExceededError, DiskFullError
   */
  async addFile (source: AsyncIterable<Uint8Array>, options: { pin?: PinRequest } = {}): Promise<ObjectRecord> {
    const end = this.beginWrite()
    const epoch = this.heldTrees.epoch
    try {
      const digests: Uint8Array[] = []
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
      let filled = 0
      let size = 0
      const flush = async (): Promise<void> => {
        if (digests.length >= FILE_CHUNKS_MAX) throw new ObjectTooLargeError(`file over ${FILE_CHUNKS_MAX} chunks of ${CHUNK_BYTES} bytes`)
        const chunk = buffer.subarray(0, filled)
        const digest = blake3(chunk)
        // Durable before the record says complete: this node holds the only copy of what it adds.
        await this.blocks.put(chunkCid(digest), chunk, { durable: true })
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
      await this.blocks.put(cid, bytes, { durable: true })
      const pin = pinFields(this.index.get(cid.toString()), options.pin)
      const record = await this.setRecord(cid, { type: 'file', size, complete: true, ...pin, lastUsedMs: this.nowMs() })
      // Every chunk was just written, unless a block was forgotten since (then the epoch moved).
      this.heldTrees.add(cid, epoch)
      return record
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
    const epoch = this.heldTrees.epoch
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
    await this.blocks.put(cid, bytes, { durable: true })
    const size = dirSize(full)
    // A pin held already stays (as for a file): an add again without one unpinned it, and gc then took the tree.
    const pin = pinFields(this.index.get(cid.toString()), options.pin)
    const record = await this.setRecord(cid, { type: 'dir', size, complete: true, ...pin, lastUsedMs: this.nowMs() })
    // Held in full if each entry is known so; else a fetch of it walks it once (heldInFull).
    if (full.every((e) => this.heldTrees.has(e.cid))) this.heldTrees.add(cid, epoch)
    return record
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
   * Removes unpinned objects unused for `retentionMs` and every block no retained object reaches
   * (garbage-collector.ts). The removals are durable before the first block is deleted, except on a full disk.
   * @throws DiskFullError when the index cannot be written even after the blocks were deleted (they were), or
   * the index's error (nothing was deleted then)
   */
  gc (retentionMs: number): Promise<GcResult> {
    return this.collector.gc(retentionMs)
  }
}
