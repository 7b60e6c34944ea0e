/**
 * `RaftNode.priorTermsApplied()`, which the policy engine asks before a new leader evaluates: true as soon as
 * the next entry to apply is of the leader's own term, before its own first entry is applied — after the usual
 * election the new leader had applied everything its predecessor committed, and waiting a round trip for its
 * own entry only delayed a dead voter's replacement.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { LoopbackNetwork, newStorage, startNode, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

describe('RaftNode.priorTermsApplied', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const n of nodes.splice(0)) n.raft.stop() })

  it('should hold for a new leader that applied its predecessor\'s entries, before its own first entry applies', async () => {
    const network = new LoopbackNetwork()
    const a = startNode(network, 'a', newStorage(), { bootstrap: true })
    const b = startNode(network, 'b', newStorage())
    const c = startNode(network, 'c', newStorage())
    nodes.push(a, b, c)
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    for (const id of ['b', 'c']) {
      a.raft.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: id }], transition: 'auto' })
      await waitUntil(() => a.raft.configuration().voters.includes(id) && a.raft.configuration().votersOutgoing.length === 0, 5000, `${id} a voter`)
    }
    await waitUntil(() => b.raft.appliedIndex() === a.raft.appliedIndex() && b.raft.status().commit === a.raft.status().commit, 5000, 'b applied all a committed')
    expect(a.raft.priorTermsApplied()).toBe(true)
    const seen: Array<{ prior: boolean, term: number }> = []
    b.raft.onStateChange((status) => {
      if (status.role === 'leader' && seen.length === 0) seen.push({ prior: b.raft.priorTermsApplied(), term: status.term })
    })
    const before = b.raft.status().term
    a.raft.transferLeadership('b')
    await waitUntil(() => seen.length > 0, 5000, 'b leads')
    // At its first state change as leader its own first entry is appended, not applied, and nothing earlier waits.
    expect(seen[0]!.term).toBeGreaterThan(before)
    expect(seen[0]!.prior).toBe(true)
  })
})
