/**
 * The content announce topic is scored by gossipsub (src/net/libp2p.ts invalidOnlyTopicScore): an
 * announcement the content validator rejects — malformed, or over GOSSIP_MESSAGE_BYTES_MAX — costs the
 * peer that sent it gossipsub score, so a member that keeps sending garbage is graylisted. A valid
 * announcement costs nothing.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { encode } from '@ipld/dag-cbor'
import { GOSSIP_MESSAGE_BYTES_MAX } from '../../src/content/core/index.js'
import { contentTopic } from '../../src/content/index.js'
import { ContentCluster } from './helpers.js'
import type { ContentNode } from './helpers.js'
import { waitFor } from '../node/helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

/** a's gossipsub score of b. */
function scoreOf (a: ContentNode, b: ContentNode): number {
  return (a.node.net.services.pubsub as unknown as { score: { score(id: string): number } }).score.score(b.node.nodeId)
}

function drops (a: ContentNode, reason: string): number {
  return (a.content.status().announce as Record<string, number>)[`dropped.${reason}`] ?? 0
}

describe('content topic scoring', { timeout: 240_000 }, () => {
  it('should lower the gossipsub score of a member sending malformed or oversize announcements', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const topic = contentTopic(a.node.cluster.clusterId)
    const pubsub = b.node.net.services.pubsub
    await waitFor(() => pubsub.getSubscribers(topic).some((p) => p.toString() === a.node.nodeId), 30_000, 'a subscribed, as b sees it')

    // A valid announcement is accepted and costs nothing.
    const added = await b.content.add(randomBytes(2000))
    await waitFor(() => a.content.providers(added.cidObject).length === 1, 30_000, 'a records b as a provider')
    expect(scoreOf(a, b)).toBeGreaterThanOrEqual(0)

    await pubsub.publish(topic, encode({ v: 1, t: 'give-me-everything' }))
    await waitFor(() => scoreOf(a, b) < 0, 30_000, 'b penalised for the malformed announcement')
    expect(drops(a, 'malformed')).toBe(1)

    // The penalty decays; an oversize announcement costs score again.
    await waitFor(() => scoreOf(a, b) >= 0, 60_000, 'the penalty decayed')
    await pubsub.publish(topic, new Uint8Array(GOSSIP_MESSAGE_BYTES_MAX + 1))
    await waitFor(() => scoreOf(a, b) < 0, 30_000, 'b penalised for the oversize announcement')
    expect(drops(a, 'too-large')).toBe(1)
  })
})
