/**
 * A fetch whose store refuses a chunk (quota, full disk) ends at once with that error, whatever its providers
 * do next. Method: one Fetch against a real store with a small quota, and one provider played in process on
 * an in-memory stream pair (`streamPair`): it answers the first chunk requests, then holds every answer, as a
 * provider that froze mid-stream does.
 */
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream, streamPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CHUNK_BYTES_MIN, ProviderScores, ProviderTable, chunkCid, decodeRequest, encodeManifest, encodeResponse
} from '../../src/content/core/index.js'
import { ContentStore } from '../../src/content/store.js'
import { Fetch } from '../../src/content/fetch.js'
import type { Announcer } from '../../src/content/announcer.js'
import type { NetNode } from '../../src/net/index.js'
import { RAW_CODE, blake3 } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []
/** Lets go of the answers the provider holds (at the end of each test). */
const releases: Array<() => void> = []

afterEach(async () => {
  for (const release of releases.splice(0)) release()
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

/**
 * Serves `blocks` on `stream`, one answer per request in order; chunk answers beyond the first `chunks.left`
 * are held until `held` settles (a provider that froze: no answer, no reset).
 */
async function serve (stream: Stream, blocks: Map<string, Uint8Array>, chunks: { left: number, asked: number }, held: Promise<void>): Promise<void> {
  const lp = lpStream(stream)
  try {
    for (;;) {
      const request = decodeRequest((await lp.read()).subarray())
      if (request.cid.code === RAW_CODE) {
        chunks.asked++
        if (chunks.left-- <= 0) await held
      }
      const data = blocks.get(request.cid.toString())
      await lp.write(encodeResponse(data === undefined ? { type: 'none', cid: request.cid } : { type: 'block', cid: request.cid, data }))
    }
  } catch {
    // The fetcher reset or closed the stream.
  }
}

describe('a fetch whose store is full', { timeout: 60_000 }, () => {
  it('should end with QuotaExceededError when a chunk passes the quota, while its provider holds its next answers, at no cost to it', async () => {
    // Before, the refused write surfaced only when the same provider's next answer arrived: one that froze
    // kept the fetch until its request timed out (30 s, a failure on its score), then the fetch retried it and
    // ended as FetchFailedError when no chunk had arrived for the stall time, the full store never named.
    const chunkBytes = CHUNK_BYTES_MIN
    const chunks = Array.from({ length: 8 }, () => randomBytes(chunkBytes))
    const manifest = encodeManifest({ v: 1, type: 'file', size: 8 * chunkBytes, chunkBytes, chunks: chunks.map((c) => blake3(c)) })
    const blocks = new Map<string, Uint8Array>([[manifest.cid.toString(), manifest.bytes]])
    for (const c of chunks) blocks.set(chunkCid(blake3(c)).toString(), c)
    const dir = await tempDir('revoada-content-')
    dirs.push(dir)
    // Room for the manifest and three chunks: the fourth chunk written is refused.
    const store = await ContentStore.open({ dir, quotaBytes: manifest.bytes.length + 3 * chunkBytes, log: silentLogger() })
    const provider = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const held = new Promise<void>((resolve) => { releases.push(resolve) })
    // The provider answers the manifest request and four chunk requests, then holds every answer.
    const served = { left: 4, asked: 0 }
    const net = {
      dialProtocol: async () => {
        const [outbound, inbound] = await streamPair()
        void serve(inbound, blocks, served, held)
        return outbound
      }
    } as unknown as NetNode
    const table = new ProviderTable()
    const scores = new ProviderScores()
    table.have(provider, manifest.cid.toString(), 8 * chunkBytes, false, Date.now())
    const fetch = new Fetch(manifest.cid, {
      net, store, table, scores, announcer: { have: async () => {}, want: async () => {} } as unknown as Announcer,
      nodeId: 'me', log: silentLogger(), nowMs: () => Date.now(), startIndex: () => 0,
      // Far below the provider's 30 s request timeout: the fetch would fail as stalled instead of full.
      stallMs: 5_000
    })
    await expect(fetch.run()).rejects.toHaveProperty('name', 'QuotaExceededError')
    expect(served.asked).toBeGreaterThan(4)
    expect(store.usedBytes).toBe(manifest.bytes.length + 3 * chunkBytes)
    // Its record stays partial (a later fetch resumes it once there is room), and its provider did no wrong.
    expect(store.record(manifest.cid)).toMatchObject({ complete: false })
    expect(scores.score(provider, Date.now())).toBe(3)
    expect(fetch.progress).toMatchObject({ state: 'failed', chunksDone: 3, error: { name: 'QuotaExceededError' } })
  })
})
