/**
 * `forget` abandons a partial fetch: before it, gc kept everything a partial record reaches and every start
 * resumed it, and nothing but a fetch to the end let it go. Method: real libp2p, two nodes in one process; the
 * holder serves each chunk 300 ms late, so the fetcher's record is partial when it is forgotten.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { CHUNK_BYTES } from '../../src/content/core/index.js'
import Fastify from 'fastify'
import { registerContentRoutes } from '../../src/content/routes.js'
import { ContentCluster } from './helpers.js'
import { waitFor } from '../node/helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

describe('content forget (in process)', { timeout: 240_000 }, () => {
  it('should end a running fetch, drop its partial pinned record for good, and let gc free its blocks', async () => {
    const [a, b] = await cluster.start(2, [{ testOnlyServeDelayMs: 300 }, {}])
    const cid = (await a!.content.add(randomBytes(8 * CHUNK_BYTES))).cidObject
    const fetching = b!.content.fetch(cid, { pin: true })
    fetching.catch(() => {})
    await waitFor(() => (b!.content.progress(cid)?.chunksDone ?? 0) >= 1, 60_000, 'a chunk fetched')
    expect(b!.content.record(cid)).toMatchObject({ complete: false, pinned: true })

    await expect(b!.content.forget(cid)).resolves.toMatchObject({ complete: false, pinned: true })
    await expect(fetching).rejects.toHaveProperty('name', 'FetchAbortedError')
    expect(b!.content.record(cid)).toBeUndefined()
    expect(b!.content.status().usedBytes as number).toBeGreaterThan(0)
    await b!.content.gc()
    expect(b!.content.status().usedBytes).toBe(0)
    await expect(b!.content.forget(cid)).rejects.toHaveProperty('name', 'ContentNotFoundError')

    // Not resumed at the next start.
    await cluster.stop(b!)
    const again = await cluster.add({ dir: b!.dir })
    expect(again.content.record(cid)).toBeUndefined()
    expect(again.content.progress(cid)).toBeUndefined()
  })

  it('should forget a record through POST /v1/content/:cid/forget, and answer NotFound for one not held', async () => {
    const [a] = await cluster.start(1)
    const cid = (await a!.content.add(randomBytes(1000))).cidObject
    const app = Fastify()
    registerContentRoutes(app, a!.content)
    try {
      const forgotten = await app.inject({ method: 'POST', url: `/v1/content/${cid.toString()}/forget` })
      expect(forgotten.statusCode).toBe(200)
      expect(forgotten.json()).toMatchObject({ cid: cid.toString(), complete: true })
      expect(a!.content.record(cid)).toBeUndefined()
      const again = await app.inject({ method: 'POST', url: `/v1/content/${cid.toString()}/forget` })
      expect(again.statusCode).toBe(404)
      expect(again.json()).toMatchObject({ error: 'NotFound' })
    } finally {
      await app.close()
    }
  })
})
