/**
 * A fetch whose store refuses a chunk (quota, full disk) ends at once with that error, whatever its providers
 * do next. Method: one Fetch against a real store with a small quota, and one provider played in process
 * (scripted-provider.ts) that answers the first chunk requests, then holds every answer, as a provider that
 * froze mid-stream does.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { CHUNK_BYTES_MIN } from '../../src/content/core/index.js'
import { ContentStore } from '../../src/content/store.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'
import type { CID } from 'multiformats/cid'
import { ScriptedProvider, fileBlocks } from './scripted-provider.js'

const DAY_MS = 24 * 3600 * 1000

async function* once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

const dirs: string[] = []
const providers: ScriptedProvider[] = []

afterEach(async () => {
  for (const p of providers.splice(0)) p.release()
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/** A pinned fetch of an 8-chunk file into a store with room for its manifest and 3 chunks: it ends at the quota. */
async function pinnedFetchOverQuota (): Promise<{ root: CID, manifestBytes: number, blocks: Map<string, Uint8Array>, dir: string, store: ContentStore }> {
  const chunkBytes = CHUNK_BYTES_MIN
  const { root, manifestBytes, blocks } = fileBlocks(Array.from({ length: 8 }, () => randomBytes(chunkBytes)), chunkBytes)
  const dir = await tempDir('revoada-content-')
  dirs.push(dir)
  const store = await ContentStore.open({ dir, quotaBytes: manifestBytes + 3 * chunkBytes, log: silentLogger() })
  const provider = await ScriptedProvider.create(blocks)
  providers.push(provider)
  await expect(provider.fetch(root, store, {}, { pin: true }).fetch.run()).rejects.toHaveProperty('name', 'QuotaExceededError')
  return { root, manifestBytes, blocks, dir, store }
}

describe('a fetch whose store is full', { timeout: 60_000 }, () => {
  it('should end with QuotaExceededError when a chunk passes the quota, while its provider holds its next answers, at no cost to it', async () => {
    // Before, the refused write surfaced only when the same provider's next answer arrived: one that froze
    // kept the fetch until its request timed out (30 s, a failure on its score), then the fetch retried it and
    // ended as FetchFailedError when no chunk had arrived for the stall time, the full store never named.
    const chunkBytes = CHUNK_BYTES_MIN
    const { root, manifestBytes, blocks } = fileBlocks(Array.from({ length: 8 }, () => randomBytes(chunkBytes)), chunkBytes)
    const dir = await tempDir('revoada-content-')
    dirs.push(dir)
    // Room for the manifest and three chunks: the fourth chunk written is refused.
    const store = await ContentStore.open({ dir, quotaBytes: manifestBytes + 3 * chunkBytes, log: silentLogger() })
    // The provider answers the manifest request and four chunk requests, then holds every answer.
    const provider = await ScriptedProvider.create(blocks, 4)
    providers.push(provider)
    // A stall time far below the provider's 30 s request timeout: the fetch would fail as stalled instead of full.
    const { fetch, scores } = provider.fetch(root, store, { stallMs: 5_000 })
    await expect(fetch.run()).rejects.toHaveProperty('name', 'QuotaExceededError')
    expect(provider.chunksAsked).toBeGreaterThan(4)
    expect(store.usedBytes).toBe(manifestBytes + 3 * chunkBytes)
    // Its partial record is dropped (the next test), and its provider did no wrong.
    expect(store.record(root)).toBeUndefined()
    expect(scores.score(provider.peer, Date.now())).toBe(3)
    expect(fetch.progress).toMatchObject({ state: 'failed', chunksDone: 3, error: { name: 'QuotaExceededError' } })
  })

  it('should drop the partial record of a fetch that ended at the quota, pinned too, so that gc frees its chunks, and a retry before gc skip them', async () => {
    // Before, the record stayed partial: gc kept everything a partial record reaches and every start resumed
    // it, so an object over the quota held the store full for good (nothing else could be added or fetched),
    // pinned or not, with no way to abandon it. Method: a pinned fetch of 8 chunks into room for 3, then gc, an
    // add, and a retry in a store reopened with room (a restart with a larger quota).
    const { root, blocks, dir, store } = await pinnedFetchOverQuota()
    expect(store.record(root)).toBeUndefined()
    expect(store.list()).toEqual([])

    // A restart with room, before any gc: the fetch starts again, and the 3 chunks verified are not asked again.
    const roomy = await ContentStore.open({ dir, quotaBytes: 1 << 20, log: silentLogger() })
    expect(roomy.list()).toEqual([])
    const again = await ScriptedProvider.create(blocks)
    providers.push(again)
    await expect(again.fetch(root, roomy).fetch.run()).resolves.toMatchObject({ complete: true })
    expect(again.chunksAsked).toBe(5)
  })

  it('should let gc free what a fetch that ended at the quota stored, so the store takes other content again', async () => {
    const { manifestBytes, store } = await pinnedFetchOverQuota()
    const chunkBytes = CHUNK_BYTES_MIN
    expect(store.usedBytes).toBe(manifestBytes + 3 * chunkBytes)
    // Not past its retention: a partial record was kept whatever its age, and nothing is kept now.
    await store.gc(DAY_MS)
    expect(store.usedBytes).toBe(0)
    await expect(store.addFile(once(randomBytes(2 * chunkBytes)))).resolves.toMatchObject({ complete: true })
  })
})
