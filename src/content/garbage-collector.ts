/**
 * @module content/garbage-collector
 * Garbage collection of the content store (docs/CONTENT.md §3, "Pinning and garbage collection"): unpinned
 * objects past their retention go, and every block no kept object reaches. Writes (adds, fetches, pins,
 * unpins, touches) announce themselves (`beginWrite`), so a round neither runs during one nor deletes what one
 * started to keep. A round writes its removals before it deletes a block; on a full disk it deletes first, and
 * the check at open (`dropUnreadable`) undoes a removal a crash then left unwritten.
 */
import type { CID } from 'multiformats/cid'
import type { Logger } from '../log/index.js'
import { DiskFullError } from './core/index.js'
import type { Manifest } from './core/index.js'
import { assert } from '../util/assert.js'
import { digestHex } from './block-files.js'
import type { BlockFiles } from './block-files.js'
import type { ObjectIndex } from './object-index.js'
import { parseRootCid } from './object-record.js'
import { errorName } from './errors-io.js'

export interface GcResult { removedObjects: number, removedBlocks: number, freedBytes: number, skipped?: string }

export interface GarbageCollectorComponents {
  index: Pick<ObjectIndex, 'values' | 'set' | 'delete' | 'commit'>
  blocks: Pick<BlockFiles, 'has' | 'bytes' | 'keys' | 'delete'>
  /** Reads a held manifest (the store: a read verifies the block, and deletes it when it fails its check). */
  manifests: { manifest: (cid: CID) => Promise<Manifest | null> }
  log: Logger
  nowMs: () => number
}

export class GarbageCollector {
  private writers = 0
  /**
   * Bumped by every `beginWrite`. gc reads manifests (awaits) between deciding what to keep and deleting:
   * a write that starts and ends in that window leaves `writers` at 0, so gc compares this instead.
   */
  private writeEpoch = 0

  constructor (private readonly components: GarbageCollectorComponents) {}

  /** Marks a writer (add or fetch) active: gc does not run while blocks are being written without a record. */
  beginWrite (): () => void {
    this.writers++
    this.writeEpoch++
    let ended = false
    return () => { if (!ended) { ended = true; this.writers-- } }
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
  dropUnreadable (): void {
    const { index, blocks } = this.components
    const dropped: string[] = []
    const partial: string[] = []
    for (const record of [...index.values()]) {
      if (!record.complete || blocks.has(digestHex(parseRootCid(record.cid).multihash.digest))) continue
      if (record.pinned) {
        index.set({ ...record, complete: false })
        partial.push(record.cid)
      } else {
        index.delete(record.cid)
        dropped.push(record.cid)
      }
    }
    if (dropped.length + partial.length === 0) return
    this.components.log.warn({ dropped: dropped.length, partial: partial.length, examples: [...partial, ...dropped].slice(0, 3) },
      'content records said complete but their root manifest is not held: unpinned ones dropped, pinned ones marked partial and fetched again')
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
    const { index } = this.components
    const skipped: GcResult = { removedObjects: 0, removedBlocks: 0, freedBytes: 0, skipped: 'writes in progress' }
    if (this.writers > 0) return skipped
    const epoch = this.writeEpoch
    const now = this.components.nowMs()
    const retained = [...index.values()].filter((o) => o.pinned || !o.complete || o.lastUsedMs + retentionMs > now)
    const live = new Set<string>()
    const reachable = new Set<string>()
    for (const o of retained) await this.markLive(parseRootCid(o.cid), live, reachable)
    if (this.writeEpoch !== epoch) return skipped
    const removed = [...index.values()].filter((o) => !reachable.has(o.cid))
    for (const o of removed) {
      // `ContentStore.open` undoes a removal a crash left unwritten by dropping the record (`dropUnreadable`): right for these only.
      assert(!o.pinned, () => `gc removing pinned ${o.cid}`)
      index.delete(o.cid)
    }
    const diskFull = await this.commitRemovals(removed.length)
    // Directories' roots first, then files', then the rest (`deleteUnreachable`).
    const roots = [...removed.filter((o) => o.type === 'dir'), ...removed.filter((o) => o.type === 'file')]
    const deleted = await this.deleteUnreachable(live, roots.map((o) => digestHex(parseRootCid(o.cid).multihash.digest)), epoch)
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
      await this.components.index.commit()
      return undefined
    } catch (err) {
      if (!(err instanceof DiskFullError)) throw err
      this.components.log.warn({ removedObjects, err: err.message },
        'content index not written (disk full): gc deletes the unreachable blocks first to free space; a crash before the index is ' +
        'written brings back the removed records, and the next start drops those whose root manifest is gone')
      return err
    }
  }

  /**
   * Deletes every held block outside `live`, the removed objects' roots (`removedRoots`, hex) first. NB: the
   * order only matters while the removals are not written (a full disk): a record a crash then brings back
   * either lacks its root, and `ContentStore.open` drops it (`dropUnreadable`), or still holds every block of its own.
   * Directories' roots go before files', so only a removed directory above another removed directory can
   * come back lacking a manifest below it. Stops at a write that starts meanwhile.
   */
  private async deleteUnreachable (live: Set<string>, removedRoots: string[], epoch: number): Promise<{ removedBlocks: number, freedBytes: number }> {
    const { blocks } = this.components
    // A Set keeps insertion order: the roots held, then every other block once.
    const order = new Set(removedRoots.filter((hex) => blocks.has(hex)))
    for (const hex of blocks.keys()) order.add(hex)
    let removedBlocks = 0
    let freedBytes = 0
    for (const hex of order) {
      if (live.has(hex)) continue
      // A write that started during the commit or the deletions may have found one of these blocks already held.
      if (this.writeEpoch !== epoch) break
      const size = blocks.bytes(hex)
      if (size === undefined) continue // deleted meanwhile: a read found it corrupt, or another round
      await blocks.delete(hex)
      removedBlocks++
      freedBytes += size
    }
    return { removedBlocks, freedBytes }
  }

  /** Writes the removals once the blocks are deleted, after a full disk refused them (`commitRemovals`). */
  private async commitAfterFreeing (first: Error, deleted: { removedBlocks: number, freedBytes: number }): Promise<void> {
    try {
      await this.components.index.commit()
    } catch (err) {
      if (!(err instanceof DiskFullError)) throw err
      throw new DiskFullError(`${first.message}, and again after gc deleted ${deleted.removedBlocks} blocks (${deleted.freedBytes} bytes): ` +
        'the removals are written with the next change')
    }
    this.components.log.info({ ...deleted }, 'content index written after gc freed space')
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
      live.add(digestHex(cid.multihash.digest))
      pending.push(cid)
    }
    reach(root)
    for (let cid = pending.pop(); cid !== undefined; cid = pending.pop()) {
      let manifest: Manifest | null
      try {
        manifest = await this.components.manifests.manifest(cid)
      } catch (err) {
        // A manifest that does not decode names nothing to keep. Any other failure (BlockReadError: EMFILE,
        // EIO) ends the round with nothing deleted: taken as absent, it deleted what a pinned file reaches.
        if (errorName(err) === 'MalformedContentError') continue
        throw err
      }
      if (manifest === null) continue
      if (manifest.type === 'file') for (const d of manifest.chunks) live.add(digestHex(d))
      else for (const e of manifest.entries) reach(e.cid)
    }
  }
}
