/**
 * A repeated `map` request costs the server only the bitmap (an audit found each one read, hashed and decoded
 * the manifest again: 28 ms of CPU for 16,384 chunks, for any key holder to repeat). Method: a real store in a
 * temp dir with its manifest reads spied on — repeated and concurrent requests read once, chunks that arrive
 * later still show, a manifest gc deleted is `none` again, and the cache keeps at most MAP_CACHE_CHUNKS_MAX
 * chunk keys, the least recently mapped dropped first; then the same through the content protocol between two
 * in-process nodes.
 */
import { promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ContentStore } from '../../src/content/store.js'
import { MapCache } from '../../src/content/map-cache.js'
import {
  CHUNK_BYTES, CONTENT_PROTOCOL, FILE_CHUNKS_MAX, MAP_CACHE_CHUNKS_MAX, bitmapHas, chunkCid, decodeResponse, encodeManifest, encodeRequest
} from '../../src/content/core/index.js'
import { blake3 } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'
import { ContentCluster } from './helpers.js'

const dirs: string[] = []
let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function openStore (): Promise<ContentStore> {
  const dir = await tempDir('revoada-map-cache-')
  dirs.push(dir)
  return await ContentStore.open({ dir, quotaBytes: 1 << 30, log: silentLogger() })
}

/** A file of `count` 1 KiB chunks whose manifest the store holds, with the chunks in `held`. */
async function fileIn (store: ContentStore, count: number, held: number[] = []): Promise<{ root: CID, chunks: Uint8Array[] }> {
  const chunks = Array.from({ length: count }, () => new Uint8Array(randomBytes(1024)))
  const manifest = encodeManifest({ v: 1, type: 'file', size: count * 1024, chunkBytes: 1024, chunks: chunks.map((c) => blake3(c)) })
  await store.putBlock(manifest.cid, manifest.bytes)
  for (const i of held) await store.putBlock(chunkCid(blake3(chunks[i] as Uint8Array)), chunks[i] as Uint8Array)
  return { root: manifest.cid, chunks }
}

/** A manifest of `count` chunks none of which is held (digests only: cheap at FILE_CHUNKS_MAX). */
async function manifestIn (store: ContentStore, count: number): Promise<CID> {
  const chunks = Array.from({ length: count }, () => new Uint8Array(randomBytes(32)))
  const manifest = encodeManifest({ v: 1, type: 'file', size: count * 1024, chunkBytes: 1024, chunks })
  await store.putBlock(manifest.cid, manifest.bytes)
  return manifest.cid
}

function heldBits (bitmap: Uint8Array | null, count: number): number[] {
  return Array.from({ length: count }, (_, i) => i).filter((i) => bitmap !== null && bitmapHas(bitmap, i))
}

describe('content map cache', () => {
  it('should read a manifest once for repeated and concurrent map requests, and still show chunks that arrive later', async () => {
    const store = await openStore()
    const { root, chunks } = await fileIn(store, 8, [0, 1, 2])
    const reads = vi.spyOn(store, 'manifest')
    const cache = new MapCache(store)
    const first = await Promise.all(Array.from({ length: 5 }, async () => await cache.bitmap(root)))
    for (let i = 0; i < 20; i++) expect(heldBits(await cache.bitmap(root), 8)).toEqual([0, 1, 2])
    expect(first.map((b) => heldBits(b, 8))).toEqual(Array.from({ length: 5 }, () => [0, 1, 2]))
    expect(reads).toHaveBeenCalledTimes(1)
    // Chunks are checked live: one stored since shows at once, without reading the manifest again.
    await store.putBlock(chunkCid(blake3(chunks[5] as Uint8Array)), chunks[5] as Uint8Array)
    expect(heldBits(await cache.bitmap(root), 8)).toEqual([0, 1, 2, 5])
    expect(reads).toHaveBeenCalledTimes(1)
    expect(cache.counters()).toMatchObject({ hits: 21, reads: 1, manifests: 1, chunks: 8 })
    cache.checkInvariants()
  })

  it('should answer none for a manifest gc deleted and for a directory, reading the directory once', async () => {
    const store = await openStore()
    const { root } = await fileIn(store, 4, [1])
    const dir = encodeManifest({ v: 1, type: 'dir', entries: [{ name: 'f', cid: root, size: 4096 }] })
    await store.putBlock(dir.cid, dir.bytes)
    const cache = new MapCache(store)
    expect(heldBits(await cache.bitmap(root), 4)).toEqual([1])
    expect(await cache.bitmap(dir.cid)).toBeNull()
    expect(await cache.bitmap(dir.cid)).toBeNull()
    expect(cache.counters()).toMatchObject({ hits: 1, reads: 2, manifests: 2 })
    // No object names these blocks: gc deletes them all, and the cached keys go with the manifest.
    expect((await store.gc(0)).removedBlocks).toBe(3)
    expect(await cache.bitmap(root)).toBeNull()
    expect(cache.counters()).toMatchObject({ reads: 2, manifests: 1 })
    cache.checkInvariants()
  })

  it('should keep at most MAP_CACHE_CHUNKS_MAX chunk keys, dropping the least recently mapped manifest first', async () => {
    expect(MAP_CACHE_CHUNKS_MAX).toBe(4 * FILE_CHUNKS_MAX)
    const store = await openStore()
    const roots: CID[] = []
    for (let i = 0; i < 5; i++) roots.push(await manifestIn(store, FILE_CHUNKS_MAX))
    const [r0, r1, r2, r3, r4] = roots as [CID, CID, CID, CID, CID]
    const cache = new MapCache(store)
    for (const root of [r0, r1, r2, r3]) await cache.bitmap(root)
    expect(cache.counters()).toMatchObject({ reads: 4, manifests: 4, chunks: MAP_CACHE_CHUNKS_MAX })
    await cache.bitmap(r0) // r0 most recent: r1 is now the least recently mapped
    await cache.bitmap(r4)
    expect(cache.counters()).toMatchObject({ hits: 1, reads: 5, manifests: 4, chunks: MAP_CACHE_CHUNKS_MAX })
    await cache.bitmap(r0)
    expect(cache.counters()).toMatchObject({ hits: 2, reads: 5 })
    await cache.bitmap(r1)
    expect(cache.counters()).toMatchObject({ hits: 2, reads: 6, manifests: 4 })
    cache.checkInvariants()
  })
})

describe('content map requests (in process)', { timeout: 240_000 }, () => {
  it('should answer repeated map requests on the content protocol with one read of the manifest', async () => {
    const [a, c] = await cluster.start(2)
    const added = await a!.content.add(randomBytes(3 * CHUNK_BYTES))
    const store = (a!.content as unknown as { store: ContentStore }).store
    const reads = vi.spyOn(store, 'manifest')
    const lp = lpStream(await c!.node.net.dialProtocol(peerIdFromString(a!.node.nodeId), CONTENT_PROTOCOL))
    for (let i = 0; i < 20; i++) {
      await lp.write(encodeRequest({ type: 'map', cid: added.cidObject }))
      const response = decodeResponse((await lp.read()).subarray())
      expect(response.type === 'map' ? heldBits(response.bitmap, 3) : response.type).toEqual([0, 1, 2])
    }
    expect(reads.mock.calls.filter(([cid]) => cid.toString() === added.cid)).toHaveLength(1)
    expect(a!.content.status().server).toMatchObject({ mapCacheHits: 19, mapManifestReads: 1 })
  })
})
