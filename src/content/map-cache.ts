/**
 * @module content/map-cache
 * The server's answer to a `map` request (docs/CONTENT.md §5): which chunks of a file it holds. Reading the
 * manifest means a disk read, a BLAKE3 check and a strict decode, about 7 ms for one of 16,384 chunks, and
 * turning its digests into store keys about as much again; a key holder repeating `map` requests made the
 * server pay both every time (an audit measured 28 ms of CPU a request). So the store keys of recently mapped
 * manifests are kept, least recently mapped dropped first, bounded by their total chunk count
 * (MAP_CACHE_CHUNKS_MAX), and a repeated `map` costs only the bitmap. Nothing needs invalidating: a CID names
 * one manifest forever. What changes is checked live at every request: whether the manifest is still held
 * (gc may have deleted it: then `none`, as before) and which chunks are (one map lookup each).
 */
import type { CID } from 'multiformats/cid'
import { assert } from '../util/assert.js'
import { FILE_CHUNKS_MAX, MAP_CACHE_CHUNKS_MAX, makeBitmap } from './core/index.js'
import type { ContentStore } from './store.js'

/** The store keys of a file manifest's chunks, in order; null for a directory (its `map` is `none`). */
type ChunkKeys = string[] | null

export interface MapCacheCounters {
  /** `map` requests answered from the cache. */
  hits: number
  /** Manifests read (and decoded) for a `map` request. */
  reads: number
}

export class MapCache {
  /** root CID → its chunk keys, least recently mapped first (a Map keeps insertion order). */
  private readonly entries = new Map<string, ChunkKeys>()
  /** Reads in progress, so concurrent requests for one root read it once. */
  private readonly loading = new Map<string, Promise<ChunkKeys | undefined>>()
  /** Invariant: chunks === Σ weight(entries) <= chunksMax. */
  private chunks = 0
  private readonly counts: MapCacheCounters = { hits: 0, reads: 0 }

  constructor (
    private readonly store: Pick<ContentStore, 'hasBlock' | 'manifest' | 'blockKey' | 'hasBlockKey'>,
    private readonly chunksMax = MAP_CACHE_CHUNKS_MAX
  ) {
    // Any one manifest fits, so a miss always leaves its keys cached.
    assert(chunksMax >= FILE_CHUNKS_MAX, () => `map cache of ${chunksMax} chunks holds no largest manifest`)
  }

  /** The bitmap of the chunks of file `root` held now; null when `root` is no file manifest held here. */
  async bitmap (root: CID): Promise<Uint8Array | null> {
    const key = root.toString()
    if (!this.store.hasBlock(root)) {
      // Deleted by gc (or never held): answered `none`, and its keys need not stay.
      this.drop(key)
      return null
    }
    let keys = this.entries.get(key)
    if (keys !== undefined) {
      this.counts.hits++
      // Most recently mapped now: re-inserted at the end.
      this.entries.delete(key)
      this.entries.set(key, keys)
    } else {
      const read = await this.read(key, root)
      if (read === undefined) return null
      keys = read
    }
    if (keys === null) return null
    const held = keys
    return makeBitmap(held.length, (i) => this.store.hasBlockKey(held[i] as string))
  }

  counters (): MapCacheCounters & { manifests: number, chunks: number } {
    return { ...this.counts, manifests: this.entries.size, chunks: this.chunks }
  }

  /** Test hook (STYLE §12). */
  checkInvariants (): void {
    let chunks = 0
    for (const keys of this.entries.values()) chunks += weight(keys)
    assert(chunks === this.chunks, () => `map cache counts ${this.chunks} chunks, holds ${chunks}`)
    assert(this.chunks <= this.chunksMax, () => `map cache holds ${this.chunks} chunks, at most ${this.chunksMax}`)
  }

  /** Reads `root`'s manifest once for all concurrent requests; undefined when it is unreadable or no manifest. */
  private async read (key: string, root: CID): Promise<ChunkKeys | undefined> {
    const running = this.loading.get(key)
    if (running !== undefined) return await running
    const promise = (async () => {
      this.counts.reads++
      const manifest = await this.store.manifest(root).catch(() => null)
      // Not cached: a block that failed its check was deleted, and may be fetched again.
      if (manifest === null) return undefined
      const keys = manifest.type === 'file' ? manifest.chunks.map((digest) => this.store.blockKey(digest)) : null
      this.insert(key, keys)
      return keys
    })()
    this.loading.set(key, promise)
    try {
      return await promise
    } finally {
      this.loading.delete(key)
    }
  }

  private insert (key: string, keys: ChunkKeys): void {
    this.drop(key)
    const added = weight(keys)
    while (this.chunks + added > this.chunksMax) {
      assert(this.entries.size > 0, 'an entry to drop: one manifest fits in the cache')
      this.drop(this.entries.keys().next().value as string)
    }
    this.entries.set(key, keys)
    this.chunks += added
    assert(this.chunks <= this.chunksMax, 'map cache within its bound')
  }

  private drop (key: string): void {
    const keys = this.entries.get(key)
    if (keys === undefined) return
    this.entries.delete(key)
    this.chunks -= weight(keys)
  }
}

/** What an entry counts against MAP_CACHE_CHUNKS_MAX: its chunks, and at least 1 (a directory, an empty file). */
function weight (keys: ChunkKeys): number {
  return Math.max(1, keys?.length ?? 0)
}
