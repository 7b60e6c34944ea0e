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
import { ScriptedProvider, fileBlocks } from './scripted-provider.js'

const dirs: string[] = []
const providers: ScriptedProvider[] = []

afterEach(async () => {
  for (const p of providers.splice(0)) p.release()
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

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
    // Its record stays partial (a later fetch resumes it once there is room), and its provider did no wrong.
    expect(store.record(root)).toMatchObject({ complete: false })
    expect(scores.score(provider.peer, Date.now())).toBe(3)
    expect(fetch.progress).toMatchObject({ state: 'failed', chunksDone: 3, error: { name: 'QuotaExceededError' } })
  })
})
