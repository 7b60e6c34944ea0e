/**
 * Per-peer upload limits (issue 13 "quota and per-peer limits"): a serving node serves at most
 * UPLOAD_STREAMS_PER_PEER_MAX content streams to one requesting peer; the next ones get a typed `busy`
 * answer. A greedy peer holding all of its slots does not keep another peer from fetching, and a fetcher
 * that gets `busy` treats it as "ask again later" — it does not score the provider down, and its fetch
 * finishes once a slot is free.
 */
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CHUNK_BYTES, CONTENT_PROTOCOL, FRAME_BYTES_MAX, UPLOAD_STREAMS_MAX, UPLOAD_STREAMS_PER_PEER_MAX, chunkCid, decodeResponse, encodeRequest
} from '../../src/content/core/index.js'
import type { FileManifest } from '../../src/content/core/index.js'
import { ContentCluster } from './helpers.js'
import type { ContentNode } from './helpers.js'
import { waitFor } from '../node/helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

interface Served { stream: Stream, type: string }

/** Opens a content stream from `from` to `to`, asks for one block and reads the answer's type; keeps the stream open. */
async function openAndAsk (from: ContentNode, to: ContentNode, request: Uint8Array): Promise<Served> {
  const stream = await from.node.net.dialProtocol(peerIdFromString(to.node.nodeId), CONTENT_PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: FRAME_BYTES_MAX, maxBufferSize: 4 * FRAME_BYTES_MAX })
  await lp.write(request)
  return { stream, type: decodeResponse((await lp.read()).subarray()).type }
}

const serverOf = (n: ContentNode): { openStreams: number, connectionStreams: number, rejectedBusy: number } => n.content.status().server as { openStreams: number, connectionStreams: number, rejectedBusy: number }

describe('content upload limits', { timeout: 240_000 }, () => {
  it('should answer busy beyond a peer\'s upload slots, serve other peers meanwhile, and not score busy as a fault', async () => {
    expect(UPLOAD_STREAMS_PER_PEER_MAX).toBeLessThan(UPLOAD_STREAMS_MAX)
    const [a, greedy, other] = await cluster.start(3) as [ContentNode, ContentNode, ContentNode]
    const bytes = randomBytes(4 * CHUNK_BYTES + 99)
    const cid = (await a.content.add(bytes)).cidObject
    const manifest = await a.content.manifest(cid) as FileManifest
    const ask = encodeRequest({ type: 'get', cid: chunkCid(manifest.chunks[0] as Uint8Array) })

    // The greedy peer takes every slot it is allowed, then asks for more.
    const held: Served[] = []
    for (let i = 0; i < UPLOAD_STREAMS_PER_PEER_MAX; i++) held.push(await openAndAsk(greedy, a, ask))
    expect(held.map((h) => h.type)).toEqual(held.map(() => 'block'))
    const extra = await Promise.all([openAndAsk(greedy, a, ask), openAndAsk(greedy, a, ask)])
    expect(extra.map((e) => e.type)).toEqual(['busy', 'busy'])
    expect(serverOf(a).rejectedBusy).toBe(2)
    expect(serverOf(a).openStreams).toBe(UPLOAD_STREAMS_PER_PEER_MAX)

    // The greedy peer's own fetch is answered busy: it waits, without scoring a down ...
    await waitFor(() => greedy.content.providers(cid).some((p) => p.peer === a.node.nodeId), 30_000, 'greedy knows a as a provider')
    const fetching = greedy.content.fetch(cid)
    await waitFor(() => (greedy.content.progress(cid)?.busyAnswers ?? 0) >= 1, 30_000, 'the greedy fetch answered busy')
    expect(serverOf(a).rejectedBusy).toBeGreaterThanOrEqual(3)

    // Another peer is served in full meanwhile.
    await waitFor(() => other.content.providers(cid).some((p) => p.peer === a.node.nodeId), 30_000, 'other knows a as a provider')
    expect(Buffer.from(await other.content.get(cid)).equals(bytes)).toBe(true)
    expect(greedy.content.progress(cid)?.state).not.toBe('failed')
    expect(greedy.content.providers(cid).find((p) => p.peer === a.node.nodeId)?.score ?? 0).toBeGreaterThanOrEqual(0)

    // ... and finishes once it gives its slots back.
    for (const h of [...held, ...extra]) await h.stream.close()
    await fetching
    expect(Buffer.from(await greedy.content.get(cid)).equals(bytes)).toBe(true)
    await waitFor(() => serverOf(a).openStreams === 0 && serverOf(a).connectionStreams === 0, 30_000, 'a holding no content stream, not even half-closed')
  })
})
