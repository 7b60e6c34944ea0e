/**
 * A member table filled by made-up members (docs/SECURITY.md; MAX_MEMBERS), on one real node whose injected
 * configuration lists it and one member not heard yet. Method: heartbeats go straight into its topic validator, as
 * gossipsub hands them over once their signature checked, signed by identities made here (a cluster-key holder
 * can sign with as many as it likes, through one connection). Goal: a member of the configuration is heard when
 * the table is full of members nobody admitted — one of those makes room — while a newcomer nobody admitted is
 * still dropped.
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

const stateOf = (nodeId: string, clusterId: string): NodeState => ({
  nodeId, clusterId, addresses: [], roles: [],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: {},
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq: 1, leaving: false, protocol: 1
})

/**
 * How a test feeds `node` heartbeats and reads its table: `deliver` hands a heartbeat signed by `from` straight to
 * the membership topic's validator; `counter` reads a membership counter; `tracked` lists the members but itself.
 */
function tableProbe (node: RevoadaNode, membership: MembershipService): {
  deliver: (from: PeerId) => Promise<unknown>, counter: (name: string) => number, tracked: () => string[]
} {
  const clusterId = node.cluster.clusterId
  const topic = membershipTopic(clusterId)
  const validate = node.net.services.pubsub.topicValidators.get(topic)!
  return {
    deliver: async (from) =>
      await validate(from, { type: 'signed', from, topic, data: encodeCanonical(stateOf(from.toString(), clusterId)), sequenceNumber: 1n } as unknown as Message),
    counter: (name) => membership.counters()[name] ?? 0,
    tracked: () => membership.view().members.map((m) => m.nodeId).filter((id) => id !== node.nodeId)
  }
}

describe('a full member table', () => {
  const running: RevoadaNode[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (node) => { await node.stop().catch(() => {}) })) })

  it('should make room for a member of the configuration by forgetting one nobody admitted, and still drop a newcomer', async () => {
    const [member, early] = await Promise.all([newPeerId(), newPeerId()])
    const raft: { conf: RaftMembers | undefined } = { conf: undefined }
    const membership = new MembershipService({ raftConfiguration: () => raft.conf })
    const node = await startNode({ config: testConfig(await tempDir(), { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    raft.conf = { voters: [node.nodeId], votersOutgoing: [], learners: [member.toString(), early.toString()], learnersNext: [] }
    const { deliver, counter, tracked } = tableProbe(node, membership)

    // A member of the configuration heard first (the least recently heard of all), then a key holder fills the
    // table with made-up members, one heartbeat each.
    await deliver(early)
    const madeUp = await Promise.all(Array.from({ length: MembershipConstants.MAX_MEMBERS - 1 }, async () => await newPeerId()))
    for (const id of madeUp) await deliver(id)
    expect(tracked()).toHaveLength(MembershipConstants.MAX_MEMBERS)
    await deliver(await newPeerId())
    expect(counter('dropped.table-full')).toBe(1)

    // The configuration's other member is heard: the made-up member heard least recently is forgotten (`removed`),
    // not the admitted one heard before it.
    await deliver(member)
    expect(counter('dropped.table-full')).toBe(1)
    expect(membership.view().members.find((m) => m.nodeId === member.toString())?.health).toBe('alive')
    expect(tracked()).toHaveLength(MembershipConstants.MAX_MEMBERS)
    expect(tracked()).not.toContain(madeUp[0]!.toString())
    expect(tracked()).toContain(early.toString())
    expect(membership.recentEvents().filter((e) => e.kind === 'removed').map((e) => e.nodeId)).toEqual([madeUp[0]!.toString()])
    // A newcomer nobody admitted still finds the table full.
    await deliver(await newPeerId())
    expect(counter('dropped.table-full')).toBe(2)
  })

  it('should neither forget nor drop a member the applied shape names while its learner change is pending', async () => {
    // A member whose `add-member` has applied and whose learner step has not (admission-loop.ts: two commits for a
    // wave) is in the shape, not in the configuration. Forgotten or dropped for made-up members, it is missing from
    // the view, and the policy counts a shape member missing from the view dead after its grace (unlisted.ts).
    const [member, pending, later] = await Promise.all([newPeerId(), newPeerId(), newPeerId()])
    const raft: { conf: RaftMembers | undefined } = { conf: undefined }
    const shape = new Set([pending.toString(), later.toString()])
    const membership = new MembershipService({ raftConfiguration: () => raft.conf, inShape: (id) => shape.has(id) })
    const node = await startNode({ config: testConfig(await tempDir(), { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    raft.conf = { voters: [node.nodeId], votersOutgoing: [], learners: [member.toString()], learnersNext: [] }
    const { deliver, counter, tracked } = tableProbe(node, membership)

    // The pending member is heard first (the least recently heard of all), then made-up members fill the table.
    await deliver(pending)
    const madeUp = await Promise.all(Array.from({ length: MembershipConstants.MAX_MEMBERS - 1 }, async () => await newPeerId()))
    for (const id of madeUp) await deliver(id)
    expect(tracked()).toHaveLength(MembershipConstants.MAX_MEMBERS)
    // A member of the configuration makes room: a made-up member goes, not the pending one.
    await deliver(member)
    expect(tracked()).toContain(pending.toString())
    expect(tracked()).not.toContain(madeUp[0]!.toString())
    // Another member the shape names, heard only now, gets room too.
    await deliver(later)
    expect(counter('dropped.table-full')).toBe(0)
    expect(tracked()).toContain(later.toString())
    expect(tracked()).not.toContain(madeUp[1]!.toString())
    expect(tracked()).toHaveLength(MembershipConstants.MAX_MEMBERS)
  })

  it('should make room for a connected joiner, whose admission waits for its heartbeat', async () => {
    // Above protocol level 1 the leader admits a connected peer only once it heard its heartbeat (admission.ts
    // sortByLevel). Made-up members heartbeating on keep a full table full: every joiner's heartbeat was dropped,
    // and no joiner was ever admitted. A connected peer passed the cluster-key handshake with its own key: not one of
    // the identities a key holder signs with through its one connection.
    const raft: { conf: RaftMembers | undefined } = { conf: undefined }
    const membership = new MembershipService({ raftConfiguration: () => raft.conf })
    const node = await startNode({ config: testConfig(await tempDir(), { membership: { heartbeatIntervalMs: 200 } }), services: [membership] })
    running.push(node)
    raft.conf = { voters: [node.nodeId], votersOutgoing: [], learners: [], learnersNext: [] }
    const joiner = await startNode({ config: testConfig(await tempDir(), { join: node.joinString() }), services: [] })
    running.push(joiner)
    await waitFor(() => node.net.getConnections(joiner.net.peerId).length > 0, 10_000, 'the joiner connected')
    const { deliver, counter, tracked } = tableProbe(node, membership)

    const madeUp = await Promise.all(Array.from({ length: MembershipConstants.MAX_MEMBERS }, async () => await newPeerId()))
    for (const id of madeUp) await deliver(id)
    expect(tracked()).toHaveLength(MembershipConstants.MAX_MEMBERS)
    await deliver(joiner.net.peerId)
    expect(counter('dropped.table-full')).toBe(0)
    expect(tracked()).toContain(joiner.nodeId)
    expect(tracked()).not.toContain(madeUp[0]!.toString())
  })
})
