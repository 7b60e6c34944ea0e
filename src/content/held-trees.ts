/**
 * @module content/held-trees
 * The objects a store knows it holds in full — every manifest and every chunk below the root, at its length —
 * since it last forgot a block. A record saying complete does not tell: a chunk deleted when it failed its check,
 * or lost to a power cut (fetched blocks are not fsynced), leaves the record as it was. A fetch of an object
 * held complete that is not known here walks its tree down to its files' chunks, reading each manifest once, and
 * asks only for what is missing (docs/CONTENT.md §6 step 1); one known here is taken as it is, with no read. A
 * block can leave a running store only through `BlockFiles.forget` (gc, a failed check on a read), which clears
 * this set, and nothing survives a restart.
 */
import type { CID } from 'multiformats/cid'
import { assert } from '../util/assert.js'
import { HELD_CACHE_CIDS_MAX } from './core/index.js'
import { digestHex } from './block-files.js'

export class HeldTrees {
  /** Digest hex of the roots, least recently used first (a Set keeps insertion order). Invariant: size <= cidsMax. */
  private readonly roots = new Set<string>()
  /** Bumped by every `clear`. */
  private clears = 0

  constructor (private readonly cidsMax = HELD_CACHE_CIDS_MAX) {
    assert(Number.isSafeInteger(cidsMax) && cidsMax >= 1, () => `held tree cache of ${cidsMax} CIDs`)
  }

  /** Whether `root` is known held in full; it is then the most recently used. */
  has (root: CID): boolean {
    const key = digestHex(root.multihash.digest)
    if (!this.roots.delete(key)) return false
    this.roots.add(key)
    return true
  }

  /** What to pass to `add` for a check that begins now. */
  get epoch (): number { return this.clears }

  /** Records `root` as held in full, unless a block was forgotten since `epoch` (the check's start). */
  add (root: CID, epoch: number): void {
    if (epoch !== this.clears) return
    const key = digestHex(root.multihash.digest)
    this.roots.delete(key)
    if (this.roots.size >= this.cidsMax) this.roots.delete(this.roots.values().next().value as string)
    this.roots.add(key)
    assert(this.roots.size <= this.cidsMax, 'held tree cache within its bound')
  }

  clear (): void {
    this.roots.clear()
    this.clears++
  }

  get size (): number { return this.roots.size }
}
