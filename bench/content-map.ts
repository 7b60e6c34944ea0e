/**
 * @module bench/content-map
 * What a server spends on one `map` request for a file of FILE_CHUNKS_MAX (16,384) chunks, a quarter of them
 * held: the path before the map cache (read the manifest, check its BLAKE3, decode it, then a store lookup per
 * chunk digest, as src/content/server.ts did for every request) against MapCache (src/content/map-cache.ts:
 * the first request reads once, every later one only builds the bitmap). One process, a real store in a temp
 * dir, no network: the per-request CPU the audit measured, without libp2p around it. Prints the median wall
 * time and the CPU per request of each, and with `--expose-gc` the heap a full cache holds.
 * Usage: `npm run build && node --expose-gc dist/bench/content-map.js` (BENCH_MAP_REQUESTS, default 200)
 */
import '../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { CID } from 'multiformats/cid'
import { ContentStore } from '../src/content/store.js'
import { MapCache } from '../src/content/map-cache.js'
import { FILE_CHUNKS_MAX, MAP_CACHE_CHUNKS_MAX, chunkCid, encodeManifest, makeBitmap } from '../src/content/core/index.js'
import { blake3 } from '../src/codec/index.js'
import { silentLogger } from '../src/log/index.js'
import { machineDescription, median, printTable } from './lib/stats.js'

const REQUESTS = Number(process.env.BENCH_MAP_REQUESTS ?? 200)
const CHUNK_BYTES = 1024

/** A file manifest of FILE_CHUNKS_MAX chunks in `store`, every `heldEvery`-th chunk held. */
async function bigFile (store: ContentStore, heldEvery: number): Promise<CID> {
  const digests: Uint8Array[] = []
  for (let i = 0; i < FILE_CHUNKS_MAX; i++) {
    const chunk = new Uint8Array(randomBytes(CHUNK_BYTES))
    digests.push(blake3(chunk))
    if (i % heldEvery === 0) await store.putBlock(chunkCid(digests[i] as Uint8Array), chunk)
  }
  const manifest = encodeManifest({ v: 1, type: 'file', size: FILE_CHUNKS_MAX * CHUNK_BYTES, chunkBytes: CHUNK_BYTES, chunks: digests })
  await store.putBlock(manifest.cid, manifest.bytes)
  return manifest.cid
}

/** The server's answer before the map cache, line for line. */
async function uncachedBitmap (store: ContentStore, root: CID): Promise<Uint8Array | null> {
  const manifest = await store.manifest(root).catch(() => null)
  if (manifest === null || manifest.type !== 'file') return null
  const chunks = manifest.chunks
  return makeBitmap(chunks.length, (i) => store.hasDigest(chunks[i] as Uint8Array))
}

/** Median wall ms per request and mean CPU ms per request (user + system) over REQUESTS sequential requests. */
async function measure (request: () => Promise<unknown>): Promise<{ wallMs: number, cpuMs: number }> {
  const walls: number[] = []
  const cpu = process.cpuUsage()
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now()
    await request()
    walls.push(performance.now() - start)
  }
  const used = process.cpuUsage(cpu)
  return { wallMs: median(walls), cpuMs: (used.user + used.system) / 1000 / REQUESTS }
}

function heapMib (): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return undefined
  gc()
  gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}

async function main (): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-bench-map-'))
  try {
    const store = await ContentStore.open({ dir, quotaBytes: 1 << 30, log: silentLogger() })
    const root = await bigFile(store, 4)
    const cache = new MapCache(store)
    // Warm both paths (JIT, page cache), then time them.
    for (let i = 0; i < 10; i++) await uncachedBitmap(store, root)
    const firstStart = performance.now()
    const first = await cache.bitmap(root)
    const firstMs = performance.now() - firstStart
    const expected = await uncachedBitmap(store, root)
    if (first === null || expected === null || Buffer.compare(first, expected) !== 0) throw new Error('the cached bitmap differs from the uncached one')
    const before = await measure(async () => await uncachedBitmap(store, root))
    const after = await measure(async () => await cache.bitmap(root))
    console.log(`${await machineDescription()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
    console.log(`${REQUESTS} map requests for one file of ${FILE_CHUNKS_MAX} chunks (${FILE_CHUNKS_MAX / 4} held), sequential`)
    printTable(['path', 'median wall ms/request', 'CPU ms/request'], [
      ['uncached (server before the map cache)', before.wallMs.toFixed(2), before.cpuMs.toFixed(2)],
      ['map cache, first request (reads once)', firstMs.toFixed(2), '–'],
      ['map cache, repeated', after.wallMs.toFixed(2), after.cpuMs.toFixed(2)]
    ])
    console.log(`repeated requests: ${(before.cpuMs / after.cpuMs).toFixed(1)}× less CPU; manifest reads by the cache: ${cache.counters().reads}`)
    // A full cache: MAP_CACHE_CHUNKS_MAX chunk keys (manifests of digests only; no chunks needed). Its heap is
    // what is freed when it is released.
    const roots: CID[] = []
    for (let m = 0; m < MAP_CACHE_CHUNKS_MAX / FILE_CHUNKS_MAX; m++) {
      const digests = Array.from({ length: FILE_CHUNKS_MAX }, () => new Uint8Array(randomBytes(32)))
      const manifest = encodeManifest({ v: 1, type: 'file', size: FILE_CHUNKS_MAX * CHUNK_BYTES, chunkBytes: CHUNK_BYTES, chunks: digests })
      await store.putBlock(manifest.cid, manifest.bytes)
      roots.push(manifest.cid)
    }
    let full: MapCache | undefined = new MapCache(store)
    for (const r of roots) await full.bitmap(r)
    const held = full.counters()
    const heapWith = heapMib()
    full = undefined
    const heapWithout = heapMib()
    console.log(heapWith === undefined || heapWithout === undefined
      ? `full cache: ${held.chunks} chunk keys in ${held.manifests} manifests (run with --expose-gc for its heap)`
      : `full cache: ${held.chunks} chunk keys in ${held.manifests} manifests hold ${(heapWith - heapWithout).toFixed(1)} MiB of heap`)
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

await main()
