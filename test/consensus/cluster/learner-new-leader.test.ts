/**
 * A learner follows a leader its configuration does not know (issue 16): its applied configuration
 * lags — it was down while two voters were added — and the only voter it knows dies. The new leader is a
 * stranger to that configuration; the learner must still accept its Raft stream (it is connected, so it
 * holds the cluster key) and catch up from it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { crash, leaderOf, promoteEtcd, startMember, stopAll, tempDir, waitFor } from './helpers.js'
import type { Member } from './helpers.js'

describe('a lagging learner and a new leader', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should bring a learner whose configuration lags up to date from a leader elected after its old leader died', async () => {
    const a = await startMember(await tempDir())
    members.push(a)
    await waitFor(() => a.consensus.node.isLeader(), 30_000, 'the creator leads')
    const learner = await startMember(await tempDir(), { join: a.node.joinString() })
    members.push(learner)
    const id = learner.node.nodeId
    await waitFor(() => learner.consensus.node.configuration().learners.includes(id) &&
      learner.consensus.node.appliedIndex() === a.consensus.node.appliedIndex(), 60_000, 'the learner admitted and caught up')
    // The learner goes down: its applied configuration stays at "voters: a; learners: itself".
    await learner.node.stop()
    members = members.filter((m) => m !== learner)
    expect(learner.consensus.node.configuration().voters).toEqual([a.node.nodeId])

    const b = await startMember(await tempDir(), { join: a.node.joinString() })
    const c = await startMember(await tempDir(), { join: a.node.joinString() })
    members.push(b, c)
    await waitFor(() => a.consensus.node.configuration().learners.length === 3, 60_000, 'b and c admitted')
    await promoteEtcd(a, b)
    await promoteEtcd(a, c)
    const three = [a, b, c]
    await waitFor(() => three.every((m) => {
      const conf = m.consensus.node.configuration()
      return conf.voters.length === 3 && conf.votersOutgoing.length === 0
    }), 60_000, 'three voters everywhere')
    // The subject here is the lagging learner, not how b and c find each other's addresses (address-window.test.ts):
    // both hear each other first, so that the kill below tests one thing.
    const hears = (m: Member, other: Member): boolean => m.membership.view().members.some((x) => x.nodeId === other.node.nodeId && x.health === 'alive')
    await waitFor(() => hears(b, c) && hears(c, b), 60_000, 'b and c hear each other')

    await crash(a)
    members = members.filter((m) => m !== a)
    await waitFor(() => leaderOf([b, c]) !== undefined, 60_000, 'a new leader among b and c')
    const leader = leaderOf([b, c])!

    // Back from its data dir, through the new leader's addresses: its configuration names neither b nor c.
    const back = await startMember(learner.dir, { join: leader.node.joinString() })
    members.push(back)
    await waitFor(() => {
      const conf = back.consensus.node.configuration()
      const now = leaderOf([b, c])
      return now !== undefined && conf.voters.includes(b.node.nodeId) && conf.voters.includes(c.node.nodeId) &&
        back.consensus.node.appliedIndex() >= now.consensus.node.status().commit &&
        back.consensus.shapeMachine.shapeCid() === now.consensus.shapeMachine.shapeCid()
    }, 60_000, 'the learner caught up from the new leader')
  }, 300_000)
})
