/**
 * @module content/tree-height
 * How deep a tree held in the store nests, for the limit DIR_DEPTH_MAX (docs/CONTENT.md §7) where a tree
 * becomes complete without a fetch going down it level by level: a local directory add (`ContentStore.addDir`),
 * and an object a fetch finds complete already (fetch.ts). Without it a node could add, or complete, a tree
 * that no other node can fetch. A CID fixes its tree, so a height once found holds for good: the store keeps
 * the heights it found (`TreeHeights`), for every later walk. Otherwise adding a tree bottom-up, as
 * `revoada content add DIR` does, read each manifest again for every directory above it.
 */
import type { CID } from 'multiformats/cid'
import { assert } from '../util/assert.js'
import { HEIGHT_CACHE_CIDS_MAX } from './core/index.js'
import { digestHex } from './block-files.js'
import type { ContentStore } from './store.js'

/** A height (levels of directories below the root), 'over' past the walk's bound, or 'missing' below. */
export type TreeHeight = number | 'over' | 'missing'

/**
 * The exact heights of trees found held in full, by manifest, shared by every walk of one store: at most
 * `cidsMax`, the least recently used dropped first. What a CID cannot fix is whether its tree is still held,
 * so the store clears them all when it forgets a block (gc, a block that failed its check on read), and a
 * walk that began before a clear records nothing. NB: keyed by the digest's hex, not `cid.toString()`, which
 * V8 keeps as a rope of about 1.5 KiB (measured: 1,580 bytes of heap an entry, 115 with a hex key).
 */
export class TreeHeights {
  /** Digest hex → height, least recently used first (a Map keeps insertion order). Invariant: size <= cidsMax. */
  private readonly heights = new Map<string, number>()
  /** Bumped by every `clear`. */
  private clears = 0

  constructor (private readonly cidsMax = HEIGHT_CACHE_CIDS_MAX) {
    assert(Number.isSafeInteger(cidsMax) && cidsMax >= 1, () => `tree height cache of ${cidsMax} CIDs`)
  }

  /** The kept height of `cid`'s tree, now the most recently used; undefined when none is kept. */
  get (cid: CID): number | undefined {
    const key = digestHex(cid.multihash.digest)
    const height = this.heights.get(key)
    if (height === undefined) return undefined
    this.heights.delete(key)
    this.heights.set(key, height)
    return height
  }

  /** What to pass to `set` for a walk that begins now. */
  get epoch (): number { return this.clears }

  /** Keeps `height` for `cid`, unless the heights were cleared since `epoch` (the walk's start). */
  set (cid: CID, height: number, epoch: number): void {
    assert(Number.isSafeInteger(height) && height >= 0, () => `tree height ${height}`)
    if (epoch !== this.clears) return
    const key = digestHex(cid.multihash.digest)
    this.heights.delete(key)
    if (this.heights.size >= this.cidsMax) this.heights.delete(this.heights.keys().next().value as string)
    this.heights.set(key, height)
    assert(this.heights.size <= this.cidsMax, 'tree height cache within its bound')
  }

  clear (): void {
    this.heights.clear()
    this.clears++
  }

  get size (): number { return this.heights.size }
}

/**
 * The height of `root`'s tree as held here: 0 for a file or an empty directory, else one more than its highest
 * entry's. The walk stops at the first level past `levelsMax` ('over') or manifest not held ('missing'), so it
 * goes at most `levelsMax + 1` levels down. It skips a tree whose height the store keeps (`treeHeights`), and
 * keeps each it finds. `known` keeps them too, for this walk only: a directory linked from many places is read
 * once per `known` even when the walk meets more of them than the store keeps. A file whose record says it is
 * one is not read. NB: a manifest found gone (deleted on a read that failed its check) clears the store's
 * heights; one corrupted on disk since its tree's height was kept is found at its next read, not by this walk.
 * @throws MalformedContentError for a held manifest that does not decode
 */
export async function treeHeight (
  store: Pick<ContentStore, 'record' | 'manifest' | 'treeHeights'>, root: CID, levelsMax: number, known: Map<string, number>
): Promise<TreeHeight> {
  const key = root.toString()
  const found = known.get(key) ?? store.treeHeights.get(root)
  if (found !== undefined) return found <= levelsMax ? found : 'over'
  if (levelsMax < 0) return 'over'
  if (store.record(root)?.type === 'file') return 0
  const epoch = store.treeHeights.epoch
  const manifest = await store.manifest(root)
  if (manifest === null) return 'missing'
  let height = 0
  if (manifest.type === 'dir') {
    for (const entry of manifest.entries) {
      const below = await treeHeight(store, entry.cid, levelsMax - 1, known)
      if (typeof below !== 'number') return below
      height = Math.max(height, below + 1)
    }
  }
  assert(height <= levelsMax, () => `tree height ${height} over ${levelsMax}`)
  known.set(key, height)
  store.treeHeights.set(root, height, epoch)
  return height
}
