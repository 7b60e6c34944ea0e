/**
 * What a joiner takes from digests it cannot check (docs/MEMBERSHIP.md, "Quiet joiners", trust; docs/SECURITY.md),
 * on one real node whose injected configuration does not list it. Method: digests and heartbeats go straight into
 * its topic validators, as gossipsub hands them over once their signature checked, signed by identities made here
 * (any cluster-key holder can make as many). Goal: a lying insider's digest does not outlast the lie — the member's
 * own heartbeat, and once admitted a voter's digest, replace whatever generation it planted — and what the joiner
 * keeps of digests (its senders, the members whose addresses it took) stays bounded whatever the signers send.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import type { MembershipServiceInit } from '../../src/membership/membership-service.js'
import { digestRecord, fullEntry, MembershipConstants } from '../../src/membership/core/index.js'
import type { NodeState, RaftMembers } from '../../src/membership/core/index.js'
import { membershipDigestTopic, membershipTopic } from '../../src/net/index.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Joiner { node: RevoadaNode, membership: MembershipService, raft: { conf: RaftMembers } }

const newPeerId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

const stateOf = (nodeId: string, clusterId: string, generation: number, seq: number): NodeState => ({
  nodeId, clusterId, addresses: ['/ip4/127.0.0.1/tcp/1'], roles: ['worker'],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: {},
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation, seq, leaving: false, protocol: 1
})

describe('a joiner\'s unchecked digests', () => {
  const running: RevoadaNode[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (node) => { await node.stop().catch(() => {}) })) })

  /** A node whose configuration lists only `leader`: a joiner, connected to nobody (it stays on the digest). */
  async function startJoiner (leader: PeerId, init: MembershipServiceInit = {}): Promise<Joiner> {
    const raft = { conf: { voters: [leader.toString()], votersOutgoing: [], learners: [], learnersNext: [] } as RaftMembers }
    const membership = new MembershipService({ raftConfiguration: () => raft.conf, ...init })
    const node = await startNode({ config: testConfig(await tempDir(), { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    expect(membership.tierStatus()).toEqual({ tier: 'joiner', listening: false })
    return { node, membership, raft }
  }

  /** Hands `record`, signed by `from`, to the node's validator of `topic`. */
  async function deliver (node: RevoadaNode, topic: string, from: PeerId, record: unknown): Promise<unknown> {
    const validate = node.net.services.pubsub.topicValidators.get(topic)
    if (validate === undefined) throw new Error(`no validator for ${topic}`)
    return await validate(from, { type: 'signed', from, topic, data: encodeCanonical(record), sequenceNumber: 1n } as unknown as Message)
  }

  const generationOf = (j: Joiner, id: string): number | undefined => j.membership.view().members.find((m) => m.nodeId === id)?.state.generation

  it('should take a member\'s own heartbeat once admitted, whatever generation a lying insider\'s digest gave it', async () => {
    const [leader, member, liar] = await Promise.all([newPeerId(), newPeerId(), newPeerId()])
    const j = await startJoiner(leader)
    const clusterId = j.node.cluster.clusterId
    const digests = membershipDigestTopic(clusterId)
    const digest = (from: PeerId, seq: number, states: NodeState[]): unknown =>
      digestRecord({ clusterId, from: from.toString(), generation: 1, seq, members: states.map((s) => fullEntry('alive', s)) })
    const m = member.toString()
    await deliver(j.node, digests, leader, digest(leader, 1, [stateOf(leader.toString(), clusterId, 1, 5), stateOf(m, clusterId, 3, 10)]))
    expect(generationOf(j, m)).toBe(3)
    // An insider lists the member at the largest generation there is: the joiner's view shows it (it has no way
    // to tell), but the word is the liar's.
    await deliver(j.node, digests, liar, digest(liar, 1, [stateOf(m, clusterId, Number.MAX_SAFE_INTEGER, 1)]))
    expect(generationOf(j, m)).toBe(Number.MAX_SAFE_INTEGER)

    // Admitted (full mode at 2 members): it listens, and the member's own heartbeat is what counts.
    j.raft.conf = { voters: [leader.toString()], votersOutgoing: [], learners: [j.node.nodeId], learnersNext: [] }
    await waitFor(() => j.membership.tierStatus().listening, 10_000, 'the admitted joiner listens')
    expect(j.membership.tierStatus().tier).toBe('full')
    await deliver(j.node, membershipTopic(clusterId), member, stateOf(m, clusterId, 3, 11))
    expect(j.membership.counters()['dropped.stale-generation']).toBeUndefined()
    expect(j.membership.counters().accepted).toBe(1)
    expect(generationOf(j, m)).toBe(3)
    // Its next heartbeats too; a replay of one it sent is still dropped.
    await deliver(j.node, membershipTopic(clusterId), member, stateOf(m, clusterId, 3, 12))
    await deliver(j.node, membershipTopic(clusterId), member, stateOf(m, clusterId, 3, 12))
    expect(j.membership.counters().accepted).toBe(2)
    expect(j.membership.counters()['dropped.replay']).toBe(1)
  })

  it('should take the leader\'s digest once admitted as an observer, whatever generation a lying insider\'s digest gave a member', async () => {
    const [leader, member, liar] = await Promise.all([newPeerId(), newPeerId(), newPeerId()])
    // Tiered above 1 member: admitted, it observes (the leader's digests are checked against its configuration).
    const j = await startJoiner(leader, { tieredAboveMembers: 1 })
    const clusterId = j.node.cluster.clusterId
    const digests = membershipDigestTopic(clusterId)
    const digest = (from: PeerId, seq: number, states: NodeState[]): unknown =>
      digestRecord({ clusterId, from: from.toString(), generation: 1, seq, members: states.map((s) => fullEntry('alive', s)) })
    const m = member.toString()
    const l = leader.toString()
    await deliver(j.node, digests, leader, digest(leader, 1, [stateOf(l, clusterId, 1, 5), stateOf(m, clusterId, 3, 10)]))
    await deliver(j.node, digests, liar, digest(liar, 1, [stateOf(l, clusterId, 1, 5), stateOf(m, clusterId, Number.MAX_SAFE_INTEGER, 1)]))
    expect(generationOf(j, m)).toBe(Number.MAX_SAFE_INTEGER)

    j.raft.conf = { voters: [l], votersOutgoing: [], learners: [j.node.nodeId], learnersNext: [] }
    await waitFor(() => j.membership.tierStatus().tier === 'observer', 10_000, 'the admitted joiner observes')
    await deliver(j.node, digests, leader, digest(leader, 2, [stateOf(l, clusterId, 1, 6), stateOf(m, clusterId, 3, 11)]))
    expect(generationOf(j, m)).toBe(3)
    // The member dies: the leader's verdict reaches the observer.
    await deliver(j.node, digests, leader, digestRecord({ clusterId, from: l, generation: 1, seq: 3, members: [fullEntry('alive', stateOf(l, clusterId, 1, 7)), fullEntry('dead', stateOf(m, clusterId, 3, 11))] }))
    expect(j.membership.view().members.find((x) => x.nodeId === m)?.health).toBe('dead')
  })
})

describe('a joiner\'s digest bookkeeping', () => {
  const running: RevoadaNode[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (node) => { await node.stop().catch(() => {}) })) })

  it('should keep its digest senders and the members whose addresses it took bounded, whatever any signer sends', async () => {
    const leader = await newPeerId()
    const fake = { nowMs: 1_000_000 }
    const conf: RaftMembers = { voters: [leader.toString()], votersOutgoing: [], learners: [], learnersNext: [] }
    const membership = new MembershipService({ raftConfiguration: () => conf, nowMs: () => fake.nowMs })
    const node = await startNode({ config: testConfig(await tempDir(), { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    expect(membership.tierStatus().tier).toBe('joiner')
    const clusterId = node.cluster.clusterId
    const topic = membershipDigestTopic(clusterId)
    const deliver = async (from: PeerId, seq: number, ids: string[]): Promise<void> => {
      const record = digestRecord({ clusterId, from: from.toString(), generation: 1, seq, members: ids.map((id) => fullEntry('alive', stateOf(id, clusterId, 1, 1))) })
      const validate = node.net.services.pubsub.topicValidators.get(topic)!
      await validate(from, { type: 'signed', from, topic, data: encodeCanonical(record), sequenceNumber: 1n } as unknown as Message)
    }
    const counter = (name: string): number => membership.counters()[name] ?? 0

    // Signers beyond the bound: the least recently heard are forgotten (a replay from the newest is still dropped).
    const signers = await Promise.all(Array.from({ length: MembershipConstants.MAX_DIGEST_SENDERS + 8 }, async () => await newPeerId()))
    for (const signer of signers) await deliver(signer, 1, [])
    expect(counter('digestsAccepted')).toBe(signers.length)
    expect(counter('digestSenders')).toBe(MembershipConstants.MAX_DIGEST_SENDERS)
    await deliver(signers[signers.length - 1]!, 1, [])
    expect(counter('dropped.digest-replay')).toBe(1)

    // One signer lists a full table of made-up members, then another full set: addresses are kept only for the
    // members the (bounded) table holds, and forgotten with them.
    const liar = signers[0]!
    const batch = (round: number): string[] => Array.from({ length: MembershipConstants.MAX_MEMBERS }, (_, i) => `made-up-${round}-${i}`)
    await deliver(liar, 2, batch(1))
    expect(counter('knownAddresses')).toBe(MembershipConstants.MAX_MEMBERS)
    await deliver(liar, 3, batch(2))
    expect(counter('knownAddresses')).toBeLessThanOrEqual(MembershipConstants.MAX_MEMBERS)
    // The first set, unlisted since, is dead; removed after retention, its addresses are forgotten too.
    fake.nowMs += MembershipConstants.REMOVE_AFTER_MS_DEFAULT + 1000
    await waitFor(() => membership.view().members.length === 1, 10_000, 'the made-up members removed')
    expect(counter('knownAddresses')).toBe(0)
    await deliver(liar, 4, batch(3))
    expect(counter('knownAddresses')).toBe(MembershipConstants.MAX_MEMBERS)
  })
})
