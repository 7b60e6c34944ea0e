/**
 * @module content/tree-height
 * How deep a tree held in the store nests, for the limit DIR_DEPTH_MAX (docs/CONTENT.md §7) where a tree
 * becomes complete without a fetch going down it level by level: a local directory add (`ContentStore.addDir`),
 * and an object a fetch finds complete already (fetch.ts). Without it a node could add, or complete, a tree
 * that no other node can fetch. A CID fixes its tree, so a height once found holds for good.
 */
import type { CID } from 'multiformats/cid'
import { assert } from '../util/assert.js'
import type { ContentStore } from './store.js'

/** A height (levels of directories below the root), 'over' past the walk's bound, or 'missing' below. */
export type TreeHeight = number | 'over' | 'missing'

/**
 * The height of `root`'s tree as held here: 0 for a file or an empty directory, else one more than its highest
 * entry's. The walk stops at the first level past `levelsMax` ('over') or manifest not held ('missing'), so it
 * goes at most `levelsMax + 1` levels down. `known` keeps the exact heights found, by CID: a directory linked
 * from many places is read once per `known`. A file whose record says it is one is not read.
 * @throws MalformedContentError for a held manifest that does not decode
 */
export async function treeHeight (
  store: Pick<ContentStore, 'record' | 'manifest'>, root: CID, levelsMax: number, known: Map<string, number>
): Promise<TreeHeight> {
  const key = root.toString()
  const found = known.get(key)
  if (found !== undefined) return found <= levelsMax ? found : 'over'
  if (levelsMax < 0) return 'over'
  if (store.record(root)?.type === 'file') return 0
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
  return height
}
