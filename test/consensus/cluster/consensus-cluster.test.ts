/**
 * Role consensus across real libp2p nodes in one process (issue 6 item 6).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { preSharedKey } from '@libp2p/pnet'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { pnetKey } from '../../../src/net/index.js'
import { RAFT_PROTOCOL } from '../../../src/consensus/transport/wire.js'
import { crash, leaderOf, promoteEtcd, startCluster, startMember, stopAll, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

describe('consensus over libp2p', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  const cids = (list: Member[]): string[] => list.map((m) => m.consensus.shapeMachine.shapeCid())

  it('should elect a leader in 3 nodes and apply a follower\'s proposal on all with identical shape CIDs', async () => {
    members = await startCluster(3)
    const follower = members.find((m) => !m.consensus.node.isLeader())!
    const target = members.find((m) => m !== follower && !m.consensus.node.isLeader())!
    const result = await follower.consensus.propose({ kind: 'promote', nodeId: target.node.nodeId, roles: ['scheduler'] }, 'operator')
    expect(result.result.outcome.kind).toBe('applied')
    expect(result.result.cid).toMatch(/^b/)
    await waitFor(() => new Set(cids(members)).size === 1 && members.every((m) => m.consensus.shapeMachine.shape.holds(target.node.nodeId, 'scheduler')), 10_000, 'same shape everywhere')
  })

  it('should move voters with etcd in 5 nodes and survive losing the leader without losing acknowledged proposals', async () => {
    members = await startCluster(5)
    const [a, b, c] = members
    await promoteEtcd(b!, b!)
    await promoteEtcd(c!, c!)
    await waitFor(() => members.every((m) => m.consensus.node.configuration().voters.length === 3 && m.consensus.node.configuration().votersOutgoing.length === 0), 30_000, '3 voters')
    const acknowledged: string[] = []
    for (const m of members.slice(3)) {
      const r = await m.consensus.propose({ kind: 'promote', nodeId: m.node.nodeId, roles: ['controller-manager'] }, 'operator')
      expect(r.result.outcome.kind).toBe('applied')
      acknowledged.push(m.node.nodeId)
    }
    const old = leaderOf(members)!
    expect([a, b, c]).toContain(old)
    await crash(old)
    const survivors = members.filter((m) => m !== old)
    await waitFor(() => leaderOf(survivors) !== undefined, 30_000, 'a new leader')
    const after = await survivors[survivors.length - 1]!.consensus.propose({ kind: 'promote', nodeId: survivors[survivors.length - 1]!.node.nodeId, roles: ['scheduler'] }, 'operator')
    expect(after.result.outcome.kind).toBe('applied')
    await waitFor(() => new Set(cids(survivors)).size === 1, 30_000, 'survivors agree')
    for (const m of survivors) for (const id of acknowledged) expect(m.consensus.shapeMachine.shape.holds(id, 'controller-manager')).toBe(true)
  }, 180_000)

  it('should bring a restarted node back from its data dir, by snapshot after compaction', async () => {
    members = await startCluster(3, { extra: { raft: { tickMs: 50, electionTicks: 6, heartbeatTicks: 1, snapshotEveryEntries: 10, retainEntries: 2 } } })
    const leader = leaderOf(members)!
    const lagging = members.find((m) => m !== leader)!
    await lagging.node.stop()
    members = members.filter((m) => m !== lagging)
    for (let i = 0; i < 15; i++) {
      const kind = i % 2 === 0 ? 'promote' : 'demote'
      await leader.consensus.propose({ kind, nodeId: members[1]!.node.nodeId, roles: ['scheduler'] }, 'operator')
    }
    expect(leader.consensus.node.status().firstIndex).toBeGreaterThan(lagging.consensus.node.appliedIndex())
    const back = await startMember(lagging.dir, { extra: { raft: { tickMs: 50, electionTicks: 6, heartbeatTicks: 1, snapshotEveryEntries: 10, retainEntries: 2 } } })
    members.push(back)
    await waitFor(() => back.consensus.shapeMachine.shapeCid() === leader.consensus.shapeMachine.shapeCid() &&
      back.consensus.node.appliedIndex() >= leader.consensus.node.status().commit - 1, 15_000, 'caught up')
  })

  it('should keep a peer without the cluster key from opening the raft protocol', async () => {
    members = await startCluster(1)
    const outsider = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      connectionProtector: preSharedKey({ psk: pnetKey(new Uint8Array(32).fill(7)) })
    })
    try {
      const target = members[0]!.node.net.getMultiaddrs()[0]!
      await expect(outsider.dialProtocol(multiaddr(target.toString()), RAFT_PROTOCOL, { signal: AbortSignal.timeout(3000) })).rejects.toBeDefined()
      expect(members[0]!.node.net.getPeers().map(String)).not.toContain(outsider.peerId.toString())
      expect(peerIdFromString(members[0]!.node.nodeId).toString()).toBe(members[0]!.node.nodeId)
    } finally {
      await outsider.stop()
    }
  })
})
