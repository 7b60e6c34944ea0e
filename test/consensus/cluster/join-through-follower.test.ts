/**
 * A join through a follower with the quiet joiner (docs/MEMBERSHIP.md, "Quiet joiners"): the joiner's only seed is
 * a learner, which publishes no digest (the leader does, to its direct peers only). Goal: with no digest the joiner
 * asks its seed which node leads, dials it and is admitted — without waiting for its fallback (listening to
 * heartbeats after JOINER_DIGEST_STALE_MS) — and ends in the tier its configuration gives it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startCluster, startMember, stopAll, tempDir, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

describe('join through a follower', () => {
  const members: Member[] = []
  afterEach(async () => { await stopAll(members.splice(0)) })

  it('should admit a joiner whose only seed is a learner', async () => {
    members.push(...await startCluster(2))
    const [leader, learner] = members as [Member, Member]
    expect(leader.consensus.node.isLeader()).toBe(true)
    const joiner = await startMember(await tempDir(), { join: learner.node.joinString() })
    members.push(joiner)
    // Whether the joiner ever fell back to heartbeats before its admission (it must not need to).
    let fellBack = false
    await waitFor(() => {
      const { tier, listening } = joiner.membership.tierStatus()
      if (tier === 'joiner' && listening) fellBack = true
      return members.every((m) => {
        const conf = m.consensus.node.configuration()
        return conf.voters.length + conf.learners.length === 3
      })
    }, 90_000, 'the joiner admitted everywhere')
    expect(fellBack).toBe(false)
    await waitFor(() => joiner.membership.tierStatus().tier === 'full' && joiner.membership.tierStatus().listening, 30_000, 'the joiner in full mode')
    expect(joiner.node.net.getPeers().map((p) => p.toString())).toContain(leader.node.nodeId)
  }, 180_000)
})
