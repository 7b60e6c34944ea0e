/**
 * A member that subscribes to the content topic and unsubscribes over and over cannot make this node
 * re-announce everything it holds every 0.5 s: a re-announcement on a new subscription comes at most once
 * per ANNOUNCE_ON_SUBSCRIBE_INTERVAL_MS, and a peer that joins still learns what the node holds from it,
 * well before the periodic re-announcement. Method: real libp2p, nodes in one process; one member churns its
 * subscription for 4 s (each step waits until the holder sees it), and the items the holder hands its
 * announcement pacer are counted (sent, waiting, replaced a waiting one, or dropped). A joiner subscribes only
 * once admitted: before, the re-announcement its subscription brought came before its admission and was
 * refused (its configuration listed nobody yet), and it learned what the holder has 30 s later.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { ANNOUNCE_INTERVAL_MS } from '../../src/content/core/index.js'
import { contentTopic } from '../../src/content/index.js'
import { ContentCluster } from './helpers.js'
import type { ContentNode } from './helpers.js'
import { waitFor } from '../node/helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

/** Every item the node handed its announcement pacer so far. */
function itemsAnnounced (n: ContentNode): number {
  const counters = n.content.status().announce as Record<string, number>
  return ['sent.items', 'queued.items', 'coalesced.items', 'overflowed.items'].reduce((sum, name) => sum + (counters[name] ?? 0), 0)
}

function subscribed (holder: ContentNode, peer: ContentNode, topic: string): boolean {
  return holder.node.net.services.pubsub.getSubscribers(topic).some((p) => p.toString() === peer.node.nodeId)
}

describe('content re-announcement on a subscription (in process)', { timeout: 240_000 }, () => {
  it('should re-announce at most once per interval while a member churns its subscription, and still tell a peer that joins', async () => {
    const [a, b] = await cluster.start(2) as [ContentNode, ContentNode]
    const topic = contentTopic(a.node.cluster.clusterId)
    await waitFor(() => subscribed(a, b, topic), 30_000, 'b subscribed, as a sees it')
    const objects = 200
    const cids: CID[] = []
    for (let i = 0; i < objects; i++) cids.push((await a.content.add(new TextEncoder().encode(`held object ${i}`))).cidObject)
    const known = (n: ContentNode): number => cids.filter((cid) => n.content.providers(cid).some((p) => p.peer === a.node.nodeId)).length
    await waitFor(() => known(b) === objects, ANNOUNCE_INTERVAL_MS, 'b knows what a holds')

    const before = itemsAnnounced(a)
    const churnUntilMs = Date.now() + 4_000
    let cycles = 0
    while (Date.now() < churnUntilMs) {
      b.node.net.services.pubsub.unsubscribe(topic)
      await waitFor(() => !subscribed(a, b, topic), 10_000, 'b unsubscribed, as a sees it')
      b.node.net.services.pubsub.subscribe(topic)
      await waitFor(() => subscribed(a, b, topic), 10_000, 'b subscribed again, as a sees it')
      cycles++
    }
    const announced = itemsAnnounced(a) - before
    // Each re-announcement hands every object held; unbounded, a churn of 4 s made one every 0.5 s (8).
    expect(cycles).toBeGreaterThan(8)
    expect(announced).toBeLessThanOrEqual(2 * objects)

    // What the re-announcement is for: a peer that joins learns what a holds from it, without a want, well
    // before the periodic re-announcement.
    const joinedMs = Date.now()
    const c = await cluster.add({ join: a.node.joinString() })
    await waitFor(() => known(c) === objects, ANNOUNCE_INTERVAL_MS / 2, 'c knows what a holds')
    expect(Date.now() - joinedMs).toBeLessThan(ANNOUNCE_INTERVAL_MS / 2)
  })

  it('should tell a node that joins what it holds soon after its admission, though the node subscribed before it', async () => {
    // No churn: the holder's re-announcement on a subscription comes 0.5 s after the joiner subscribes. A joiner
    // refuses every have until its configuration lists the author, and its admission takes longer than that: had
    // it subscribed at its start, it refused that re-announcement and learned what a holds only from the 30 s one.
    const [a] = await cluster.start(1) as [ContentNode]
    const cids: CID[] = []
    for (let i = 0; i < 20; i++) cids.push((await a.content.add(new TextEncoder().encode(`held before the join ${i}`))).cidObject)
    const joinedMs = Date.now()
    const c = await cluster.add({ join: a.node.joinString() })
    const known = (): number => cids.filter((cid) => c.content.providers(cid).some((p) => p.peer === a.node.nodeId)).length
    await waitFor(() => known() === cids.length, ANNOUNCE_INTERVAL_MS / 2, 'c knows what a holds')
    expect(Date.now() - joinedMs).toBeLessThan(ANNOUNCE_INTERVAL_MS / 2)
    // Nothing reached it that it had to refuse: it subscribed once its configuration listed it (and a).
    expect((c.content.status().announce as Record<string, number>)['dropped.not-member'] ?? 0).toBe(0)
  })
})
