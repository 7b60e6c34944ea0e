/**
 * The address lookup over real libp2p nodes in one process (membership/address-lookup.ts): nodes that joined
 * through one seed hold no address of each other (no heartbeats run here), and a configuration naming them
 * makes each ask the leader and reach the other. A lying answerer and a malformed request change nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { ADDRESS_LOOKUP_PROTOCOL, AddressLookupService } from '../../src/membership/address-lookup.js'
import type { RaftMembers } from '../../src/membership/core/index.js'
import type { NodeService } from '../../src/node/service.js'
import type { Ticker } from '../../src/util/ticker.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { capturingLogger, tempDir, testConfig, waitFor } from '../node/helpers.js'

interface Running { node: RevoadaNode, lookup: AddressLookupService }

describe('address lookup', () => {
  const running: RevoadaNode[] = []
  afterEach(async () => { await Promise.all(running.splice(0).map(async (n) => { await n.stop().catch(() => {}) })) })

  const raft: { conf: RaftMembers | undefined, leader: string | null } = { conf: undefined, leader: null }
  const start = async (join?: string, log = capturingLogger('info').log): Promise<Running> => {
    const lookup = new AddressLookupService({ raftConfiguration: () => raft.conf, leader: () => raft.leader })
    const node = await startNode({ config: testConfig(await tempDir(), join !== undefined ? { join } : {}), services: [lookup], log })
    running.push(node)
    return { node, lookup }
  }
  const hasAddresses = async (at: RevoadaNode, of: RevoadaNode): Promise<boolean> =>
    await at.net.peerStore.get(peerIdFromString(of.nodeId)).then((p) => p.addresses.length > 0, () => false)

  it('should give two members that joined through the leader each other\'s addresses once the configuration names them', async () => {
    raft.conf = undefined
    const leader = await start()
    const b = await start(leader.node.joinString())
    const c = await start(leader.node.joinString())
    const connectedTo = (n: RevoadaNode, other: RevoadaNode): boolean => n.net.getConnections(peerIdFromString(other.nodeId)).length > 0
    await waitFor(() => connectedTo(b.node, leader.node) && connectedTo(c.node, leader.node), 30_000, 'b and c connected to the leader')
    // The window: b and c know of each other through nothing — no heartbeat, no connection, no peer store entry.
    expect(await hasAddresses(b.node, c.node)).toBe(false)
    expect(await hasAddresses(c.node, b.node)).toBe(false)

    // b is a voter (it needs everyone), c a learner (it needs the voters).
    raft.leader = leader.node.nodeId
    raft.conf = { voters: [leader.node.nodeId, b.node.nodeId], votersOutgoing: [], learners: [c.node.nodeId], learnersNext: [] }
    await waitFor(async () => await hasAddresses(b.node, c.node) && await hasAddresses(c.node, b.node), 30_000, 'b and c hold each other\'s addresses')
    expect(leader.lookup.counters().answered).toBeGreaterThanOrEqual(2)
    expect(b.lookup.counters().learned).toBeGreaterThanOrEqual(1)
    // What they learned reaches the other: a dial by PeerId alone.
    await b.node.net.dial(peerIdFromString(c.node.nodeId))
    await waitFor(() => connectedTo(c.node, b.node), 30_000, 'c sees b\'s connection')
  }, 120_000)

  it('should ask as soon as its configuration changes, not at the next periodic check', async () => {
    // The periodic check never runs here (a ticker that never fires): a leader that dies within one check
    // interval (200 ms) of a promotion is what it models. b and c then never held each other's addresses,
    // and after the leader's death nobody could reach either (voter-new-leader.test.ts, once in ~40 runs).
    raft.conf = undefined
    const frozen: Ticker = { every: () => () => {} }
    const changed = new Set<() => void>()
    const startFrozen = async (join?: string): Promise<Running> => {
      const lookup = new AddressLookupService({
        raftConfiguration: () => raft.conf,
        leader: () => raft.leader,
        watchConfiguration: (listener) => { changed.add(listener); return () => { changed.delete(listener) } }
      })
      const service: NodeService = { name: lookup.name, start: async (ctx) => { await lookup.start({ ...ctx, ticker: frozen }) }, stop: async () => { await lookup.stop() } }
      const node = await startNode({ config: testConfig(await tempDir(), join !== undefined ? { join } : {}), services: [service], log: capturingLogger('info').log })
      running.push(node)
      return { node, lookup }
    }
    const leader = await startFrozen()
    const b = await startFrozen(leader.node.joinString())
    const c = await startFrozen(leader.node.joinString())
    const connectedTo = (n: RevoadaNode, other: RevoadaNode): boolean => n.net.getConnections(peerIdFromString(other.nodeId)).length > 0
    await waitFor(() => connectedTo(b.node, leader.node) && connectedTo(c.node, leader.node), 30_000, 'b and c connected to the leader')
    expect(await hasAddresses(b.node, c.node)).toBe(false)
    raft.leader = leader.node.nodeId
    raft.conf = { voters: [leader.node.nodeId, b.node.nodeId], votersOutgoing: [], learners: [c.node.nodeId], learnersNext: [] }
    for (const listener of changed) listener()
    await waitFor(async () => await hasAddresses(b.node, c.node) && await hasAddresses(c.node, b.node), 10_000, 'b and c hold each other\'s addresses')
    expect(b.lookup.counters().learned).toBeGreaterThanOrEqual(1)
    expect(c.lookup.counters().learned).toBeGreaterThanOrEqual(1)
  }, 120_000)

  it('should tell a joiner which node leads and where, and tell nothing when it knows no leader', async () => {
    raft.conf = undefined
    raft.leader = null
    const leader = await start()
    const follower = await start(leader.node.joinString())
    const joiner = await start(follower.node.joinString())
    await waitFor(() => joiner.node.net.getConnections(peerIdFromString(follower.node.nodeId)).length > 0, 30_000, 'the joiner connected to its seed')
    // A follower that knows no leader yet (an election): no answer to act on.
    expect(await joiner.lookup.askLeader(follower.node.nodeId)).toBeUndefined()
    // The joiner has never heard of the leader: no connection, no address.
    expect(await hasAddresses(joiner.node, leader.node)).toBe(false)
    raft.leader = leader.node.nodeId
    expect(await joiner.lookup.askLeader(follower.node.nodeId)).toBe(leader.node.nodeId)
    expect(await hasAddresses(joiner.node, leader.node)).toBe(true)
    expect(joiner.lookup.counters().leadersLearned).toBe(1)
    // What it learned reaches the leader: a dial by PeerId alone.
    await joiner.node.net.dial(peerIdFromString(leader.node.nodeId))
    // Asked directly, the leader names itself.
    expect(await joiner.lookup.askLeader(leader.node.nodeId)).toBe(leader.node.nodeId)
    // A seed that names something that is no PeerId: ignored, counted, nothing to dial.
    await follower.node.net.unhandle(ADDRESS_LOOKUP_PROTOCOL)
    await follower.node.net.handle(ADDRESS_LOOKUP_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(encodeCanonical({ peers: [], leader: { id: 'not-a-peer-id', addresses: ['/ip4/127.0.0.1/tcp/9'] } }))
      await stream.close()
    })
    expect(await joiner.lookup.askLeader(follower.node.nodeId)).toBeUndefined()
    expect(joiner.lookup.counters().malformedAnswers).toBe(1)
  }, 120_000)

  it('should store nothing from an answer that names a peer not asked for, and keep answering after a malformed request', async () => {
    raft.conf = undefined
    const liar = await start()
    const { log, lines } = capturingLogger('info')
    const asker = await start(liar.node.joinString(), log)
    const other = await start(liar.node.joinString())
    await waitFor(() => asker.node.net.getConnections(peerIdFromString(liar.node.nodeId)).length > 0, 30_000, 'the asker connected to the liar')
    // The liar answers every lookup with an address for a peer nobody asked about (and one for the asked peer).
    await liar.node.net.unhandle(ADDRESS_LOOKUP_PROTOCOL)
    await liar.node.net.handle(ADDRESS_LOOKUP_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(encodeCanonical({ peers: [{ id: other.node.nodeId, addresses: ['/ip4/127.0.0.1/tcp/9'] }, { id: liar.node.nodeId, addresses: ['/ip4/127.0.0.1/tcp/9'] }] }))
      await stream.close()
    })
    raft.leader = liar.node.nodeId
    raft.conf = { voters: [liar.node.nodeId, asker.node.nodeId], votersOutgoing: [], learners: [other.node.nodeId], learnersNext: [] }
    await waitFor(() => asker.lookup.counters().malformedAnswers >= 1, 30_000, 'the lie seen')
    expect(lines.some((l) => l.msg === 'address lookup failed' && String(l.err).includes('malformed'))).toBe(true)
    expect(await hasAddresses(asker.node, other.node)).toBe(false)

    // A malformed request (not CBOR) to an honest node: refused and counted, and the node answers the next one.
    const otherAddress = other.node.net.getMultiaddrs()[0]!
    const stream = await asker.node.net.dialProtocol(otherAddress, ADDRESS_LOOKUP_PROTOCOL)
    await lpStream(stream).write(new Uint8Array([0xff, 0x00, 0x13]))
    await waitFor(() => other.lookup.counters().malformedRequests === 1, 30_000, 'the malformed request refused')
    const again = await asker.node.net.dialProtocol(otherAddress, ADDRESS_LOOKUP_PROTOCOL)
    const lp = lpStream(again)
    await lp.write(encodeCanonical({ ids: [other.node.nodeId] }))
    const answer = await lp.read()
    expect(answer.byteLength).toBeGreaterThan(0)
    await waitFor(() => other.lookup.counters().answered === 1, 30_000, 'the next request answered')
  }, 120_000)
})
