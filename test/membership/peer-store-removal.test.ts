/**
 * The peer store entries membership makes for the members it hears of (docs/MEMBERSHIP.md, "Where a node learns
 * other members' addresses"; docs/SECURITY.md, "Gossip"), on one real node whose injected configuration lists it
 * and one other member. Method: heartbeats go straight into its topic validator, as gossipsub hands them over once
 * their signature checked, signed by identities made here (a cluster-key holder can sign with as many as it likes);
 * an injected clock takes the members past their retention. Goal: the entry of a made-up member goes with its
 * removal from the table, while a member of the configuration and a redial target keep theirs (Raft, content and
 * the redial loop dial them by PeerId).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { MembershipConstants } from '../../src/membership/core/index.js'
import type { NodeState, RaftMembers } from '../../src/membership/core/index.js'
import { membershipTopic } from '../../src/net/index.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const newPeerId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

/** A first heartbeat that announces a planned stop: the member is `left` at once, and removed after retention. */
const leavingState = (nodeId: string, clusterId: string, port: number): NodeState => ({
  nodeId, clusterId, addresses: [`/ip4/127.0.0.1/tcp/${port}`], roles: [],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: {},
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq: 1, leaving: true, protocol: 1
})

describe('membership\'s peer store entries', () => {
  const running: RevoadaNode[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (node) => { await node.stop().catch(() => {}) })) })

  it('should delete a made-up member\'s entry at its removal, and keep a configuration member\'s and a redial target\'s', async () => {
    const fake = { nowMs: 1_000_000 }
    const raft: { conf: RaftMembers | undefined } = { conf: undefined }
    const membership = new MembershipService({ raftConfiguration: () => raft.conf, nowMs: () => fake.nowMs })
    const node = await startNode({ config: testConfig(await tempDir(), { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    const [listed, target, ...madeUp] = await Promise.all(Array.from({ length: 10 }, async () => await newPeerId()))
    raft.conf = { voters: [node.nodeId], votersOutgoing: [], learners: [listed!.toString()], learnersNext: [] }
    const clusterId = node.cluster.clusterId
    const topic = membershipTopic(clusterId)
    const validate = node.net.services.pubsub.topicValidators.get(topic)!
    const stored = async (id: PeerId): Promise<boolean> => await node.net.peerStore.has(id)
    const everyone = [listed!, target!, ...madeUp]
    for (const [i, id] of everyone.entries()) {
      // Port 1 upwards on loopback: nothing listens there, so a dial is refused at once.
      await validate(id, { type: 'signed', from: id, topic, data: encodeCanonical(leavingState(id.toString(), clusterId, i + 1)), sequenceNumber: 1n } as unknown as Message)
    }
    // One of the made-up members is a redial target (a seed, peers.json, or a peer that connected once).
    node.redialer.addPeer(target!.toString())
    await waitFor(async () => (await Promise.all(everyone.map(stored))).every(Boolean), 10_000, 'every member\'s addresses in the peer store')

    fake.nowMs += MembershipConstants.REMOVE_AFTER_MS_DEFAULT + 1000
    await waitFor(() => membership.view().members.length === 1, 10_000, 'the members removed after retention')
    expect(membership.recentEvents().filter((e) => e.kind === 'removed')).toHaveLength(everyone.length)
    await waitFor(async () => !(await Promise.all(madeUp.map(stored))).some(Boolean), 5_000, 'the made-up members\' entries deleted')
    expect(await stored(listed!)).toBe(true)
    expect(await stored(target!)).toBe(true)
    expect(membership.counters().storedPeers).toBe(0)
  })
})
