/**
 * A quiet joiner with real libp2p nodes in one process (docs/MEMBERSHIP.md, "Quiet joiners"; core/joiner.ts): a
 * seed whose (injected) Raft configuration lists only itself leads, and 6 nodes join with its join string at
 * once. Goal: before they are admitted the joiners take the seed's digest instead of heartbeats (no joiner hears
 * another's heartbeat through the seed) and dial nobody but the seed (no joiner is connected to another), while
 * every view shows every node alive and the seed hears every joiner (admission reads their heartbeats). Then
 * the configuration lists them as learners: they end in the tier it gives them (full, at 7 members) and,
 * listening again, connect to every member and see all alive.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import type { RaftMembers } from '../../src/membership/core/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Running { node: RevoadaNode, membership: MembershipService }

const JOINERS = 6

describe('quiet joiners', () => {
  const running: Running[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (r) => { await r.node.stop().catch(() => {}) })) })

  it('should keep joiners off heartbeats and off each other until admitted, then give them the normal tier', async () => {
    const raft: { conf: RaftMembers | undefined, leader: string } = { conf: undefined, leader: '' }
    const start = async (join?: string): Promise<Running> => {
      const dir = await tempDir()
      let self = ''
      const membership = new MembershipService({
        raftConfiguration: () => raft.conf,
        isLeader: () => self !== '' && self === raft.leader,
        // The seed holds etcd (the digest shows it as the one to dial); the joiners hold nothing yet.
        roles: () => self !== '' && self === raft.leader ? ['etcd'] : []
      })
      const node = await startNode({ config: testConfig(dir, { ...(join !== undefined ? { join } : {}), membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
      self = node.nodeId
      return { node, membership }
    }
    const seed = await start()
    running.push(seed)
    raft.leader = seed.node.nodeId
    raft.conf = { voters: [seed.node.nodeId], votersOutgoing: [], learners: [], learnersNext: [] }
    const joiners = await Promise.all(Array.from({ length: JOINERS }, async () => await start(seed.node.joinString())))
    running.push(...joiners)
    const alive = (r: Running, id: string): boolean => r.membership.view().members.some((m) => m.nodeId === id && m.health === 'alive')
    const peersOf = (r: Running): string[] => r.node.net.getPeers().map((p) => p.toString()).sort()
    const allAlive = (): boolean => running.every((r) => running.every((o) => alive(r, o.node.nodeId)))

    await waitFor(() => allAlive() && joiners.every((r) => !r.membership.tierStatus().listening), 60_000, 'every node alive everywhere, the joiners on the digest')
    for (const r of joiners) expect(r.membership.tierStatus()).toEqual({ tier: 'joiner', listening: false })
    expect(seed.membership.tierStatus()).toEqual({ tier: 'full', listening: true })
    // While digests keep coming, no joiner takes a heartbeat — not even before its first tick: its known
    // configuration makes it a joiner before it subscribes — nor dials another.
    const digests = joiners.map((r) => r.membership.counters().digestsAccepted ?? 0)
    await waitFor(() => joiners.every((r, i) => (r.membership.counters().digestsAccepted ?? 0) >= digests[i]! + 3), 30_000, '3 more digests on every joiner')
    expect(joiners.map((r) => r.membership.counters().accepted)).toEqual(joiners.map(() => 0))
    for (const r of joiners) expect(peersOf(r)).toEqual([seed.node.nodeId])
    expect(allAlive()).toBe(true)

    // Admitted as learners: the configuration's tier (full at 7 members), heartbeats again, a connection to everyone.
    raft.conf = { voters: [seed.node.nodeId], votersOutgoing: [], learners: joiners.map((r) => r.node.nodeId), learnersNext: [] }
    await waitFor(() => joiners.every((r) => r.membership.tierStatus().tier === 'full' && r.membership.tierStatus().listening), 30_000, 'the learners in full mode')
    await waitFor(() => running.every((r) => peersOf(r).length === JOINERS), 60_000, 'a connection between every two members')
    await waitFor(allAlive, 30_000, 'every node alive everywhere (full mode)')
  }, 240_000)
})
