/**
 * The tree heights a store keeps for the nesting limit (src/content/tree-height.ts): a directory tree added
 * bottom-up, the way `revoada content add DIR` walks it, reads each manifest once, not once per directory above
 * it; adding it again and fetching it read nothing more; the cache is bounded, least recently used dropped first,
 * and emptied when the store forgets a block.
 */
import { promises as fs, createReadStream } from 'node:fs'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import type { CID } from 'multiformats/cid'
import { ContentStore, parseRootCid } from '../../src/content/store.js'
import type { ObjectRecord } from '../../src/content/store.js'
import { TreeHeights } from '../../src/content/tree-height.js'
import { Fetch } from '../../src/content/fetch.js'
import { ProviderScores, ProviderTable, encodeManifest } from '../../src/content/core/index.js'
import type { Announcer } from '../../src/content/announcer.js'
import type { NetNode } from '../../src/net/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'

const CHAIN_DIRS = 24
const NOW_MS = 1_000_000

async function open (): Promise<ContentStore> {
  return await ContentStore.open({ dir: await tempDir('revoada-content-'), quotaBytes: 1 << 30, log: silentLogger(), nowMs: () => NOW_MS })
}

/**
 * Adds `target` as `revoada content add` does (src/cli/content-commands.ts `addPath`): entries in name order,
 * each file or subdirectory added before the directory that holds it, symlinks and special files skipped.
 */
async function addPath (store: ContentStore, target: string): Promise<CID> {
  const stat = await fs.stat(target)
  if (stat.isFile()) return parseRootCid((await store.addFile(createReadStream(target))).cid)
  const entries: Array<{ name: string, cid: CID }> = []
  for (const name of (await fs.readdir(target)).sort()) {
    const child = path.join(target, name)
    const childStat = await fs.lstat(child)
    if (!childStat.isFile() && !childStat.isDirectory()) continue
    entries.push({ name, cid: await addPath(store, child) })
  }
  return parseRootCid((await store.addDir(entries)).cid)
}

/**
 * A chain of CHAIN_DIRS directories `c`, each holding a file `f` and a directory `s` with a file `f` of its own:
 * 2 × CHAIN_DIRS directories, the deepest CHAIN_DIRS levels below the top.
 */
async function makeTree (): Promise<string> {
  const top = path.join(await tempDir('revoada-tree-'), 'c')
  let dir = top
  for (let level = 0; level < CHAIN_DIRS; level++) {
    await fs.mkdir(path.join(dir, 's'), { recursive: true })
    await fs.writeFile(path.join(dir, 'f'), `file at level ${level}`)
    await fs.writeFile(path.join(dir, 's', 'f'), `side file at level ${level}`)
    if (level < CHAIN_DIRS - 1) dir = path.join(dir, 'c')
  }
  return top
}

/** Manifest reads by CID, counted from now on. */
function countReads (store: ContentStore): Map<string, number> {
  const reads = new Map<string, number>()
  const manifest = store.manifest.bind(store)
  vi.spyOn(store, 'manifest').mockImplementation(async (cid) => {
    reads.set(cid.toString(), (reads.get(cid.toString()) ?? 0) + 1)
    return await manifest(cid)
  })
  return reads
}

function total (reads: Map<string, number>): number {
  return [...reads.values()].reduce((sum, n) => sum + n, 0)
}

describe('tree heights', () => {
  // Each `addDir` walked the whole tree below it for the nesting limit, so a bottom-up add read a manifest once
  // for every directory above it: here Σ depth = 2 × (0 + … + 23) + 24 = 576 reads for 48 directories. Method:
  // the tree on disk added as the CLI walks it, counting manifest reads by CID; then added again (a second
  // `content add`), then fetched twice (complete already, so only its height is checked).
  it('should read each manifest at most once when a tree is added bottom-up, and again neither to add it again nor to fetch it', async () => {
    const store = await open()
    const tree = await makeTree()
    const reads = countReads(store)
    const top = await addPath(store, tree)
    // Every directory but the top, once, as an entry of the one above it; no file (its record says file).
    expect(total(reads)).toBe(2 * CHAIN_DIRS - 1)
    expect(Math.max(...reads.values())).toBe(1)
    expect(reads.has(top.toString())).toBe(false)

    reads.clear()
    expect((await addPath(store, tree)).equals(top)).toBe(true)
    expect(total(reads)).toBe(0)

    const deps = {
      net: {} as unknown as NetNode, store, table: new ProviderTable(), scores: new ProviderScores(),
      announcer: { have: async () => {}, want: async () => {} } as unknown as Announcer, nodeId: 'me',
      log: silentLogger(), nowMs: () => NOW_MS, startIndex: () => 0
    }
    // The fetch shares the heights the adds found: it reads the top only, whose height no add needed.
    expect((await new Fetch(top, deps).run()).complete).toBe(true)
    expect([...reads]).toEqual([[top.toString(), 1]])
    expect((await new Fetch(top, deps).run()).complete).toBe(true)
    expect(total(reads)).toBe(1)
  })

  // A tree held complete that the store does not know held in full (it forgot a block since, or restarted) is
  // walked down to its files' chunks by a fetch: still one read per manifest, and none at the next fetch.
  // Method: the tree added as above, the store's knowledge of held trees cleared (as a forgotten block does),
  // then fetched twice, counting manifest reads by CID.
  it('should read each manifest at most once when a fetch walks a tree held complete down to its chunks', async () => {
    const store = await open()
    const top = await addPath(store, await makeTree())
    const deps = {
      net: {} as unknown as NetNode, store, table: new ProviderTable(), scores: new ProviderScores(),
      announcer: { have: async () => {}, want: async () => {} } as unknown as Announcer, nodeId: 'me',
      log: silentLogger(), nowMs: () => NOW_MS, startIndex: () => 0
    }
    store.heldTrees.clear()
    const reads = countReads(store)
    expect((await new Fetch(top, deps).run()).complete).toBe(true)
    // Every directory (2 × CHAIN_DIRS) and every file (one per directory), once each.
    expect(total(reads)).toBe(4 * CHAIN_DIRS)
    expect(Math.max(...reads.values())).toBe(1)
    // Known held now: the next fetch checks only the top's height (no walk found it), and the one after reads nothing.
    reads.clear()
    expect((await new Fetch(top, deps).run()).complete).toBe(true)
    expect([...reads]).toEqual([[top.toString(), 1]])
    expect((await new Fetch(top, deps).run()).complete).toBe(true)
    expect(total(reads)).toBe(1)
  })

  // The cache is bounded (STYLE §13), and what it keeps says a tree is held: a walk that began before the store
  // forgot a block must not record what it found. Method: a cache of 2; then a store's cache after gc.
  it('should keep at most its bound, least recently used dropped first, nothing a walk found before a clear, and none after gc deletes a block', async () => {
    const [a, b, c, d] = [0, 1, 2, 3].map((n) => encodeManifest({ v: 1, type: 'file', size: 0, chunkBytes: 1024 + n, chunks: [] }).cid) as [CID, CID, CID, CID]
    const heights = new TreeHeights(2)
    heights.set(a, 1, heights.epoch)
    heights.set(b, 2, heights.epoch)
    expect(heights.get(a)).toBe(1) // a is now the most recently used
    heights.set(c, 3, heights.epoch)
    expect([heights.get(a), heights.get(b), heights.get(c), heights.size]).toEqual([1, undefined, 3, 2])
    const epoch = heights.epoch
    heights.clear()
    heights.set(d, 4, epoch)
    expect([heights.get(d), heights.size]).toEqual([undefined, 0])

    const store = await open()
    const top = await addPath(store, await makeTree())
    expect(store.treeHeights.size).toBe(2 * CHAIN_DIRS - 1)
    await store.addFile((async function * () { yield new Uint8Array([1, 2, 3]) })())
    const record = store.record(top) as ObjectRecord
    await store.setRecord(top, { type: record.type, size: record.size, pinned: true })
    // Everything else unpinned and past a retention of -1 ms: the lone file's blocks go, and every height with them.
    expect((await store.gc(-1)).removedBlocks).toBeGreaterThan(0)
    expect(store.treeHeights.size).toBe(0)
  })
})
