/**
 * A removal notice stops a node for good, so only the leader's word counts (consensus/removal.ts): a key
 * holder that is not a voter of the receiver's configuration, or any peer telling the leader, is refused.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { noticeRefusal, REMOVED_FILE_NAME, RemovalNotices } from '../../src/consensus/removal.js'
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
    await liar.notify(leader.node.nodeId, { clusterId, nodeId: leader.node.nodeId, how: 'removed', atMs: Date.now() })
    await waitFor(() => lines.some((l) => l.msg === 'refused a removal notice about this node'), 30_000, 'the notice refused')

    const refusal = lines.find((l) => l.msg === 'refused a removal notice about this node')
    expect(refusal).toMatchObject({ from: learner.node.nodeId, why: 'this node leads' })
    expect(leader.consensus.statusFields().refused).toMatchObject({ removalNotices: 1 })
    expect(existsSync(path.join(leader.dir, REMOVED_FILE_NAME))).toBe(false)
    expect(stopAsked).toBe(false)
    // Still leading, and still committing.
    const result = await leader.consensus.propose({ kind: 'promote', nodeId: learner.node.nodeId, roles: ['scheduler'] }, 'operator')
    expect(result.result.outcome.kind).toBe('applied')
  }, 120_000)
})
