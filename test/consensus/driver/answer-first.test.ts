/**
 * Goal: a proposal made on the leader is answered before the leader tells the followers its new commit
 * index (issue 16: the two frames and socket writes of that broadcast sat between the last acknowledgement
 * and the answer). Method: record what the leader hands its transport; when the proposal resolves, no
 * append carrying the entry's commit index has left yet; shortly after, both followers know it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { MessageType } from '../../../src/consensus/core/index.js'
import { TappedNetwork, put, startThreeVoters, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

describe('RaftNode answers before broadcasting the commit index', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  it('should resolve a leader proposal before any append with its commit index is sent', async () => {
    const network = new TappedNetwork()
    const [a, b, c] = await startThreeVoters(network, nodes) as [TestNode, TestNode, TestNode]
    for (let round = 0; round < 5; round++) {
      const result = await a.raft.propose(put(`k${round}`, 'v'))
      const told = network.sentByA.filter((m) => m.type === MessageType.App && m.commit >= result.index)
      expect(told, `round ${round}: commit ${result.index} sent before the answer`).toEqual([])
      // The commit index goes out right after (a held commit notice, or the heartbeat that replaced it:
      // src/consensus/commit-notices.ts), and the followers learn it.
      await waitUntil(() => ['b', 'c'].every((to) => network.sentByA.some((m) => m.to === to && m.commit >= result.index &&
        ((m.type === MessageType.App && m.entries.length === 0) || m.type === MessageType.Heartbeat))), 5000, 'the commit sent')
      await waitUntil(() => b.raft.status().commit >= result.index && c.raft.status().commit >= result.index, 5000, 'followers learn the commit')
    }
  })
})
