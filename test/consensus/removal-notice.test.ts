/**
 * A removal notice stops a node for good, so only the leader's word counts (consensus/removal.ts): a key
 * holder that is not a voter of the receiver's configuration, or any peer telling the leader, is refused.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { lpStream } from '@libp2p/utils'
import { noticeRefusal, REMOVAL_NOTICE_PROTOCOL, REMOVED_FILE_NAME, RemovalNotices } from '../../src/consensus/removal.js'
import type { NetNode } from '../../src/net/index.js'
import { capturingLogger } from '../node/helpers.js'
import { startMember, stopAll, tempDir, waitFor } from './cluster/helpers.js'
import type { Member } from './cluster/helpers.js'

describe('noticeRefusal', () => {
  const conf = { self: 'L1', conf: { voters: ['V1', 'V2', 'V3'], votersOutgoing: ['V4'], learners: ['L1', 'L2'], learnersNext: [], autoLeave: false }, leader: null }

  it('should take a notice from a voter of this node\'s configuration, the outgoing ones included', () => {
    expect(noticeRefusal('V1', conf)).toBeUndefined()
    expect(noticeRefusal('V4', conf)).toBeUndefined()
    expect(noticeRefusal('V2', { ...conf, leader: 'V1' })).toBeUndefined() // a learner's stale leader is no guide
  })

  it('should refuse a notice from a non-voter, to a leader, and to a voter from anyone but its leader', () => {
    expect(noticeRefusal('L2', conf)).toBe('the sender is not a voter of this node\'s configuration')
    expect(noticeRefusal('V2', { ...conf, self: 'V1', leader: 'V1' })).toBe('this node leads')
    expect(noticeRefusal('V2', { ...conf, self: 'V1', leader: 'V3' })).toBe('this node follows another leader')
    expect(noticeRefusal('V3', { ...conf, self: 'V1', leader: 'V3' })).toBeUndefined()
    expect(noticeRefusal('V2', { ...conf, self: 'V1', leader: null })).toBeUndefined() // a voter with no leader: a removed one back
  })
})

describe('a removal notice on the wire', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should keep a leader running when a learner tells it it was removed', async () => {
    const { log, lines } = capturingLogger('warn')
    const leader = await startMember(await tempDir(), { log })
    members.push(leader)
    await waitFor(() => leader.consensus.node.isLeader(), 10_000, 'the creator leads')
    const learner = await startMember(await tempDir(), { join: leader.node.joinString() })
    members.push(learner)
    await waitFor(() => leader.consensus.node.configuration().learners.includes(learner.node.nodeId), 60_000, 'the learner admitted')
    let stopAsked = false
    void leader.node.stopRequested.then(() => { stopAsked = true })

    const clusterId = leader.node.status().clusterId
    const liar = new RemovalNotices(learner.node.net, { clusterId, nodeId: learner.node.nodeId }, capturingLogger().log)
    // Three in a row: each counted, the refusal logged once per sender and interval (no line per notice).
    for (let i = 0; i < 3; i++) await liar.notify(leader.node.nodeId, { clusterId, nodeId: leader.node.nodeId, how: 'removed', atMs: Date.now() })
    await waitFor(() => (leader.consensus.statusFields().refused as { removalNotices: number }).removalNotices === 3, 30_000, 'the notices refused')
    log.warn('after the notices')
    await waitFor(() => lines.some((l) => l.msg === 'after the notices'), 10_000, 'the log flushed')

    const refusals = lines.filter((l) => l.msg === 'refused a removal notice about this node')
    expect(refusals).toHaveLength(1)
    expect(refusals[0]).toMatchObject({ from: learner.node.nodeId, why: 'this node leads' })
    expect(existsSync(path.join(leader.dir, REMOVED_FILE_NAME))).toBe(false)
    expect(stopAsked).toBe(false)
    // Still leading, and still committing.
    const result = await leader.consensus.propose({ kind: 'promote', nodeId: learner.node.nodeId, roles: ['scheduler'] }, 'operator')
    expect(result.result.outcome.kind).toBe('applied')
  }, 120_000)
})

describe('removal notices a key holder floods', () => {
  const started: Array<{ stop: () => Promise<void> | void }> = []
  afterEach(async () => { for (const s of started.splice(0).reverse()) await s.stop() })

  it('should count every malformed or foreign notice and log it once per peer and interval', async () => {
    const node = async (): Promise<Libp2p> => await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    const a = await node(); const b = await node()
    started.push(a, b)
    await a.dial(b.getMultiaddrs()[0]!)
    const { log, lines } = capturingLogger('warn')
    const notices = new RemovalNotices(b as unknown as NetNode, { clusterId: 'c1', nodeId: b.peerId.toString() }, log)
    const heard: unknown[] = []
    await notices.start((record) => { heard.push(record) })
    started.push(notices)
    // Any key holder may open the protocol: 20 notices that are not JSON, 20 about another node.
    const bodies = [...Array<string>(20).fill('not json'), ...Array.from({ length: 20 }, () => JSON.stringify({ clusterId: 'c1', nodeId: 'someone-else', how: 'removed', atMs: 1 }))]
    for (const body of bodies) {
      const stream = await a.dialProtocol(b.peerId, REMOVAL_NOTICE_PROTOCOL)
      await lpStream(stream).write(new TextEncoder().encode(body))
      // Closed by b: reset for a malformed notice, closed for one it read and ignored.
      await stream.close().catch(() => {})
      await waitFor(() => stream.status !== 'open', 10_000, 'the notice handled')
    }
    log.warn('end of the flood')
    await waitFor(() => lines.some((l) => l.msg === 'end of the flood'), 10_000, 'the log flushed')
    expect(heard).toEqual([])
    const noticeLines = lines.filter((l) => typeof l.msg === 'string' && (l.msg as string).includes('removal notice'))
    // One line per kind (malformed, not about this node) from this peer, not one per notice.
    expect(noticeLines).toHaveLength(2)
    await waitFor(() => notices.counters().ignored === bodies.length, 10_000, 'every notice counted')
  }, 60_000)
})
