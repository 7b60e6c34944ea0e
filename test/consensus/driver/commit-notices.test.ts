/**
 * Goal: at one client a leader no longer sends a commit-only append per commit to each follower: the next
 * append (or heartbeat) carries the commit index (issue 16: two frames and socket writes per commit, and a
 * wake-up of each follower). A follower whose own forwarded proposal was committed is still told at once,
 * since its caller waits for it to apply. Method: record what the leader hands its transport while proposals
 * run one after another, through the leader and through a follower; the hold is long (60 s), so only a
 * replacement or the forwarded rule can end it within the test.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { MessageType } from '../../../src/consensus/core/index.js'
import type { Message, NodeId } from '../../../src/consensus/core/index.js'
import { TappedNetwork, put, startThreeVoters, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

class NoticeNetwork extends TappedNetwork {
  commitOnlyTo (to: NodeId, from: number): Message[] {
    return this.sentByA.slice(from).filter((m) => m.to === to && m.type === MessageType.App && m.commitOnly === true)
  }
}

const HOLD_LONGER_THAN_THE_TEST_MS = 60_000

describe('RaftNode holds commit notices', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  it('should let the next append or heartbeat carry the commit index of proposals made on the leader', async () => {
    const network = new NoticeNetwork()
    const [a, b, c] = await startThreeVoters(network, nodes, undefined, { commitNoticeHoldMs: HOLD_LONGER_THAN_THE_TEST_MS }) as [TestNode, TestNode, TestNode]
    const from = network.sentByA.length
    let index = 0
    for (let round = 0; round < 10; round++) index = (await a.raft.propose(put(`k${round}`, 'v'))).index
    await waitUntil(() => b.raft.status().commit >= index && c.raft.status().commit >= index, 10_000, 'followers learn the last commit')
    expect(network.commitOnlyTo('b', from)).toEqual([])
    expect(network.commitOnlyTo('c', from)).toEqual([])
  })

  it('should tell a follower at once that its forwarded proposal committed', async () => {
    const network = new NoticeNetwork()
    const [, b] = await startThreeVoters(network, nodes, undefined, { commitNoticeHoldMs: HOLD_LONGER_THAN_THE_TEST_MS }) as [TestNode, TestNode, TestNode]
    const from = network.sentByA.length
    for (let round = 0; round < 5; round++) {
      const { index } = await b.raft.propose(put(`k${round}`, 'v'))
      // b answered its caller, so it applied `index`: told by a commit notice, not a later heartbeat.
      expect(network.commitOnlyTo('b', from).some((m) => m.commit >= index), `round ${round}`).toBe(true)
    }
    expect(network.commitOnlyTo('c', from)).toEqual([])
  })
})
