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
import { newVoterWatch, votersToReconnect } from '../../src/membership/core/index.js'
import type { RaftMembers, VoterSubscriptionInput, VoterWatch } from '../../src/membership/core/index.js'
import { membershipTopic } from '../../src/net/libp2p.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const conf = (voters: string[], learners: string[] = []): RaftMembers => ({ voters, votersOutgoing: [], learners, learnersNext: [] })

describe('votersToReconnect', () => {
  const input = (watch: VoterWatch, nowMs: number, extra: { subscribed?: (p: string) => boolean, voters?: string[], connected?: Map<string, number> } = {}): VoterSubscriptionInput => ({
    conf: conf(extra.voters ?? ['self', 'v1', 'v2', 'v3'], ['l']),
    self: 'self',
    connectedSinceMs: extra.connected ?? new Map([['v1', 0], ['v2', 0], ['l', 0], ['v3', 9_000]]),
    subscribed: extra.subscribed ?? ((p) => p === 'v2'),
    watch,
    nowMs,
    graceMs: 5_000,
    retryMs: 30_000
  })

  it('should name a connected voter missing from the subscribers once it has been a voter, connected and missing for the grace', () => {
    const watch = newVoterWatch()
    expect(votersToReconnect(input(watch, 1_000))).toEqual([]) // v1 and v3 first seen (as voters, and missing)
    expect(votersToReconnect(input(watch, 5_999))).toEqual([])
    expect(votersToReconnect(input(watch, 6_000))).toEqual(['v1']) // v3's connection is too young; l is no voter
    expect(votersToReconnect(input(watch, 14_000))).toEqual(['v3'])
    // v1 again only after the retry period.
    expect(votersToReconnect(input(watch, 35_999))).toEqual([])
    expect(votersToReconnect(input(watch, 36_000))).toEqual(['v1'])
  })

  it('should wait for a voter promoted a moment ago, and forget a voter that subscribes, disconnects or is no voter', () => {
    const watch = newVoterWatch()
    expect(votersToReconnect(input(watch, 100_000, { voters: ['self', 'v2'] }))).toEqual([])
    // v1 connected long ago, missing as a learner; promoted now: the grace counts from its promotion.
    expect(votersToReconnect(input(watch, 101_000))).toEqual([])
    expect(votersToReconnect(input(watch, 105_999))).toEqual([])
    expect(votersToReconnect(input(watch, 106_000))).toEqual(['v1', 'v3'])
    expect(votersToReconnect(input(watch, 107_000, { subscribed: () => true }))).toEqual([])
    expect(watch.missingSinceMs.size).toBe(0)
    expect(votersToReconnect(input(watch, 108_000, { voters: ['self'] }))).toEqual([])
    expect([watch.voterSinceMs.size, watch.reconnectedAtMs.size]).toEqual([0, 0])
    expect(votersToReconnect({ ...input(watch, 200_000), conf: undefined })).toEqual([])
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

    // Without a's heartbeats b suspects a and pings its connection; on a loaded machine that ping can time out,
    // and b's hang-up would restate the subscriptions before a's own reconnection: b's pings answer here.
    const ping = b.node.net.services.ping as unknown as { ping: (...args: unknown[]) => Promise<number> }
    ping.ping = async () => 1
    // a's gossipsub forgets b's subscription (a SUBSCRIBE gone astray): a's heartbeats stop reaching b.
    const topics = (a.node.net.services.pubsub as unknown as { topics: Map<string, Set<string>> }).topics
    topics.get(topic)?.delete(b.node.nodeId)
    expect(bSubscribedAtA()).toBe(false)
    const seqBefore = seqAtB()

    await waitFor(() => bSubscribedAtA(), 40_000, 'a knows b subscribes again')
    expect(a.membership.counters().votersReconnected).toBeGreaterThanOrEqual(1)
    await waitFor(() => seqAtB() >= seqBefore + 10, 20_000, 'b hears a again')
  }, 90_000)
})
