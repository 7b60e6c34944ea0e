/**
 * Membership hands `peers.json` the addresses the members of this node's Raft configuration announce in their own
 * heartbeats (membership-service.ts recordAddresses; net/known-peers.ts; docs/MEMBERSHIP.md, "Where a node learns
 * other members' addresses"): a Raft follower need not connect to the other followers, and after a site-wide power
 * cut that the leader does not come back from, followers that never met held each other's ids only. Method: one
 * real node whose injected configuration lists a voter and a learner; heartbeats go straight into its topic
 * validator, as gossipsub hands them over once their signature checked; the file is read after the node stopped.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import type { NodeState, RaftMembers } from '../../src/membership/core/index.js'
import { membershipTopic } from '../../src/net/index.js'
import { KNOWN_PEERS_FILE_NAME } from '../../src/net/constants.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const newPeerId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

const state = (nodeId: string, clusterId: string, seq: number, addresses: string[]): NodeState => ({
  nodeId, clusterId, addresses, roles: [],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: {},
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq, leaving: false, protocol: 1
})

describe('peers.json and the addresses members announce', () => {
  const running: RevoadaNode[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (node) => { await node.stop().catch(() => {}) })) })

  it('should record the configuration\'s voters and learners from their own heartbeats, and nobody else', async () => {
    const raft: { conf: RaftMembers | undefined } = { conf: undefined }
    const membership = new MembershipService({ raftConfiguration: () => raft.conf })
    const dir = await tempDir()
    const node = await startNode({ config: testConfig(dir, { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    const [voter, learner, stranger, early] = await Promise.all(Array.from({ length: 4 }, async () => await newPeerId())) as [PeerId, PeerId, PeerId, PeerId]
    const clusterId = node.cluster.clusterId
    const topic = membershipTopic(clusterId)
    const validate = node.net.services.pubsub.topicValidators.get(topic)!
    const heartbeat = async (from: PeerId, seq: number, addresses: string[]): Promise<void> => {
      await validate(from, { type: 'signed', from, topic, data: encodeCanonical(state(from.toString(), clusterId, seq, addresses)), sequenceNumber: BigInt(seq) } as unknown as Message)
    }
    // Before consensus runs there is no configuration: nobody is recorded from a heartbeat (nor later, unlisted).
    await heartbeat(early, 1, ['/ip4/127.0.0.1/tcp/5'])
    raft.conf = { voters: [node.nodeId, voter.toString()], votersOutgoing: [], learners: [learner.toString()], learnersNext: [] }
    // Nothing listens on these ports: a dial (membership makes the voter a redial target) is refused at once.
    // The voter's list holds an address that names another node and one that is no multiaddr: both left out.
    await heartbeat(voter, 1, [`/ip4/127.0.0.1/tcp/1/p2p/${voter.toString()}`, `/ip4/127.0.0.1/tcp/2/p2p/${stranger.toString()}`, 'not an address', '/ip4/10.9.0.1/tcp/3'])
    await heartbeat(learner, 1, ['/ip4/127.0.0.1/tcp/4'])
    await heartbeat(stranger, 1, ['/ip4/127.0.0.1/tcp/6'])
    await node.stop()
    const file = JSON.parse(await readFile(path.join(dir, KNOWN_PEERS_FILE_NAME), 'utf8')) as Record<string, string[]>
    expect(file).toEqual({
      [voter.toString()]: ['/ip4/127.0.0.1/tcp/1', '/ip4/10.9.0.1/tcp/3'],
      [learner.toString()]: ['/ip4/127.0.0.1/tcp/4']
    })
  })

  it('should record a member heard before the configuration listed it once it does, without waiting for its next heartbeat', async () => {
    const raft: { conf: RaftMembers | undefined } = { conf: undefined }
    const membership = new MembershipService({ raftConfiguration: () => raft.conf })
    const dir = await tempDir()
    const node = await startNode({ config: testConfig(dir, { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    const joiner = await newPeerId()
    const topic = membershipTopic(node.cluster.clusterId)
    const validate = node.net.services.pubsub.topicValidators.get(topic)!
    raft.conf = { voters: [node.nodeId], votersOutgoing: [], learners: [], learnersNext: [] }
    // Heard while it was joining; then its admission applies here, and no heartbeat of it comes after.
    await validate(joiner, { type: 'signed', from: joiner, topic, data: encodeCanonical(state(joiner.toString(), node.cluster.clusterId, 1, ['/ip4/127.0.0.1/tcp/7'])), sequenceNumber: 1n } as unknown as Message)
    raft.conf = { voters: [node.nodeId], votersOutgoing: [], learners: [joiner.toString()], learnersNext: [] }
    const listed = async (): Promise<boolean> => JSON.parse(await readFile(path.join(dir, KNOWN_PEERS_FILE_NAME), 'utf8').catch(() => '{}'))[joiner.toString()] !== undefined
    await waitFor(listed, 5_000, 'the admitted joiner in peers.json')
    await node.stop()
    const file = JSON.parse(await readFile(path.join(dir, KNOWN_PEERS_FILE_NAME), 'utf8')) as Record<string, string[]>
    expect(file).toEqual({ [joiner.toString()]: ['/ip4/127.0.0.1/tcp/7'] })
  })
})
