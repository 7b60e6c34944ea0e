/**
 * A connected voter whose heartbeat subscription this node's gossipsub lost (core/voter-subscriptions.ts): the
 * node's heartbeats never reach it again — flood publishing sends to known subscribers only — until this node
 * reconnects to it, which makes both ends restate their subscriptions. At 50 nodes this left a voter deaf to
 * two live observers for good (docs/MEMBERSHIP.md, "A voter's lost subscription").
 */
import { promises as fs } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { votersToReconnect } from '../../src/membership/core/index.js'
import type { RaftMembers } from '../../src/membership/core/index.js'
import { membershipTopic } from '../../src/net/libp2p.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const conf = (voters: string[], learners: string[] = []): RaftMembers => ({ voters, votersOutgoing: [], learners, learnersNext: [] })

describe('votersToReconnect', () => {
  it('should name a connected voter missing from the subscribers once both its absence and its connection are older than the grace', () => {
    const missingSinceMs = new Map<string, number>()
    const input = (nowMs: number, subscribed: (p: string) => boolean = (p) => p === 'v2') => ({
      conf: conf(['self', 'v1', 'v2', 'v3'], ['l']), self: 'self', connectedSinceMs: new Map([['v1', 0], ['v2', 0], ['l', 0], ['v3', 9_000]]),
      subscribed, missingSinceMs, nowMs, graceMs: 5_000
    })
    expect(votersToReconnect(input(1_000))).toEqual([]) // v1 (and v3) first seen missing
    expect(votersToReconnect(input(5_999))).toEqual([])
    expect(votersToReconnect(input(6_000))).toEqual(['v1']) // v3's connection is too young; l is no voter
    expect(votersToReconnect(input(7_000))).toEqual([]) // v1 starts a new spell
    expect(votersToReconnect(input(14_000))).toEqual(['v1', 'v3'])
    // A voter that subscribes again (or disconnects) is forgotten.
    expect(votersToReconnect(input(15_000, () => true))).toEqual([])
    expect(missingSinceMs.size).toBe(0)
    expect(votersToReconnect({ ...input(20_000), conf: undefined })).toEqual([])
  })
})

interface Running { node: RevoadaNode, membership: MembershipService, dir: string }

describe('a voter\'s lost subscription', () => {
  const running: Running[] = []
  afterEach(async () => {
    await Promise.all(running.splice(0).map(async (r) => {
      await r.node.stop()
      await fs.rm(r.dir, { recursive: true, force: true })
    }))
  })

  it('should reconnect to the voter, after which its subscription is known again and it hears this node', async () => {
    let voters: string[] = []
    const start = async (join?: string): Promise<Running> => {
      const membership = new MembershipService({ raftConfiguration: () => conf(voters) })
      const dir = await tempDir()
      const node = await startNode({ config: testConfig(dir, { ...(join !== undefined ? { join } : {}), membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
      const r = { node, membership, dir }
      running.push(r)
      return r
    }
    const a = await start()
    const b = await start(a.node.joinString())
    voters = [a.node.nodeId, b.node.nodeId]
    const topic = membershipTopic(a.node.cluster.clusterId)
    const bSubscribedAtA = (): boolean => a.node.net.services.pubsub.getSubscribers(topic).some((p) => p.toString() === b.node.nodeId)
    const seqAtB = (): number => b.membership.view().members.find((m) => m.nodeId === a.node.nodeId)?.state.seq ?? 0
    await waitFor(() => bSubscribedAtA() && seqAtB() > 0, 30_000, 'a knows b subscribes, b hears a')

    // a's gossipsub forgets b's subscription (a SUBSCRIBE gone astray): a's heartbeats stop reaching b.
    const topics = (a.node.net.services.pubsub as unknown as { topics: Map<string, Set<string>> }).topics
    topics.get(topic)?.delete(b.node.nodeId)
    expect(bSubscribedAtA()).toBe(false)
    const seqBefore = seqAtB()

    await waitFor(() => bSubscribedAtA(), 20_000, 'a knows b subscribes again')
    expect(a.membership.counters().votersReconnected).toBeGreaterThanOrEqual(1)
    await waitFor(() => seqAtB() >= seqBefore + 10, 20_000, 'b hears a again')
  }, 90_000)
})
