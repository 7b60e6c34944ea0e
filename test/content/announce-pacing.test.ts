/**
 * The sender paces its announcements (src/content/core/announce-pacer.ts): a node that adds hundreds of
 * objects at once, as `content add DIR` does, gets every one of them into a peer's provider table within a
 * few seconds, not at the next re-announcement 30 s later, and the peer's rate limit drops none of its
 * messages. Real libp2p, two nodes in one process.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ANNOUNCE_INTERVAL_MS } from '../../src/content/core/index.js'
import type { CID } from 'multiformats/cid'
import { contentTopic } from '../../src/content/index.js'
import { ContentCluster } from './helpers.js'
import type { ContentNode } from './helpers.js'
import { waitFor } from '../node/helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

function announceCounter (n: ContentNode, name: string): number {
  return (n.content.status().announce as Record<string, number>)[name] ?? 0
}

describe('content announcement pacing (in process)', { timeout: 240_000 }, () => {
  it('should get 300 objects added at once into a peer\'s provider table well before the re-announcement, with no message rate-limited', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const topic = contentTopic(a.node.cluster.clusterId)
    await waitFor(() => a.node.net.services.pubsub.getSubscribers(topic).some((p) => p.toString() === b.node.nodeId), 30_000, 'b subscribed, as a sees it')

    const objects = 300
    const startedMs = Date.now()
    const cids: CID[] = (await Promise.all(Array.from({ length: objects }, async (_, i) => await a.content.add(new TextEncoder().encode(`object ${i} of the burst`))))).map((r) => r.cidObject)
    const known = (): number => cids.filter((cid) => b.content.providers(cid).some((p) => p.peer === a.node.nodeId && !p.partial)).length
    // A third of the re-announcement interval: the re-announcement cannot be what got them there.
    await waitFor(() => known() === objects, ANNOUNCE_INTERVAL_MS / 3, `b knows a holds all ${objects} objects`)
    const tookMs = Date.now() - startedMs

    expect(announceCounter(b, 'dropped.rate-limited')).toBe(0)
    // Coalesced: far fewer messages than objects (one per 64 items, or per pacing interval while the adds run).
    expect(announceCounter(a, 'sent.have')).toBeLessThan(objects / 4)
    expect(tookMs).toBeLessThan(ANNOUNCE_INTERVAL_MS / 3)
  })
})
