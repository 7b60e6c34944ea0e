/**
 * Goal: a node nobody has subscribed to yet signs no heartbeat (issue 16: gossipsub signs, encodes and hashes
 * a message before it finds it has no peer to send it to; a lone node did that twice a second for nobody),
 * and starts sending them as soon as a member listens. Method: two real nodes, gossipsub's `publish` counted
 * for the membership topic; the lone node's own seq (bumped on every heartbeat round) says rounds went by.
 */
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { membershipTopic } from '../../src/net/libp2p.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Running { node: RevoadaNode, membership: MembershipService, dir: string }

async function start (join?: string, heartbeatIntervalMs = 100): Promise<Running> {
  const membership = new MembershipService()
  const dir = await tempDir()
  const config = testConfig(dir, { ...(join !== undefined ? { join } : {}), membership: { heartbeatIntervalMs } })
  const node = await startNode({ config, services: [membership] })
  return { node, membership, dir }
}

/** Counts gossipsub publishes on `topic` from now on. */
function countPublishes (r: Running, topic: string): () => number {
  const pubsub = r.node.net.services.pubsub as unknown as { publish: (topic: string, ...rest: unknown[]) => Promise<unknown> }
  const original = pubsub.publish.bind(pubsub)
  let published = 0
  pubsub.publish = async (t, ...rest) => {
    if (t === topic) published++
    return await original(t, ...rest)
  }
  return () => published
}

const ownSeq = (r: Running): number => {
  const view = r.membership.view()
  return view.members.find((m) => m.nodeId === view.self)?.state.seq ?? 0
}

describe('a lone node\'s heartbeats', () => {
  const running: Running[] = []
  afterEach(async () => {
    await Promise.all(running.splice(0).map(async (r) => {
      await r.node.stop()
      await fs.rm(r.dir, { recursive: true, force: true })
    }))
  })

  it('should not be signed while nobody subscribes, and be sent once a member does', async () => {
    const first = await start()
    running.push(first)
    const topic = membershipTopic(first.node.cluster.clusterId)
    const publishes = countPublishes(first, topic)
    const from = ownSeq(first)
    await waitFor(() => ownSeq(first) >= from + 10, 10_000, '10 heartbeat rounds of the lone node')
    expect(publishes()).toBe(0)
    expect(first.membership.counters().published).toBe(0)

    const second = await start(first.node.joinString())
    running.push(second)
    await waitFor(() => second.membership.view().members.some((m) => m.nodeId === first.node.nodeId && m.health === 'alive'), 30_000, 'the first node alive at the second')
    expect(publishes()).toBeGreaterThan(0)
    expect(first.membership.counters().published).toBeGreaterThan(0)
  })

  it('should send one at once to the first subscriber, not a period later (a joiner\'s level reaches the leader)', async () => {
    // A period far longer than the wait below: only the heartbeat sent on subscription can arrive in time.
    const periodMs = 120_000
    const first = await start(undefined, periodMs)
    running.push(first)
    const second = await start(first.node.joinString(), periodMs)
    running.push(second)
    const hears = (r: Running, other: Running): boolean => r.membership.view().members.some((m) => m.nodeId === other.node.nodeId && m.health === 'alive')
    await waitFor(() => hears(first, second) && hears(second, first), 20_000, 'each node to hear the other well within one period')
    // The first heartbeat can meet a subscription whose stream is not open yet: a few prompt tries, no more.
    for (const r of [first, second]) expect(r.membership.counters().published).toBeLessThanOrEqual(20)
  })
})
