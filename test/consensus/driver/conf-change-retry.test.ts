/**
 * Goal: a proposal the leader refused because a configuration change was still pending (one at a time; a
 * joint change is left by a second entry) goes again as soon as a change applies, not at its retry time
 * (issue 16: a dead voter's replacement is a demotion and then a promotion, each a joint change, and the
 * promotion waited up to RETRY_INTERVAL_MS per refusal — seconds of the 25-node heal, docs/bench/scale.md).
 * Method: three voters and two learners with a one-minute retry interval; two voter changes proposed back
 * to back; the second must commit long before a retry could have sent it again.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { LoopbackNetwork, newStorage, put, startNode, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

const RETRY_MS = 60_000

describe('RaftNode retries a configuration change refused for the one before it', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  it('should propose the second of two voter changes once the first is applied and left, without waiting for the retry interval', async () => {
    const network = new LoopbackNetwork()
    const options = { retryIntervalMs: RETRY_MS, operationTimeoutMs: 2 * RETRY_MS }
    const a = startNode(network, 'a', newStorage(), { bootstrap: true, ...options })
    nodes.push(a)
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    for (const id of ['b', 'c', 'd', 'e']) {
      nodes.push(startNode(network, id, newStorage(), options))
      const step = id === 'b' || id === 'c' ? 'add-voter' : 'add-learner'
      a.raft.proposeConfChange({ steps: [{ type: step, nodeId: id }], transition: 'auto', enterJoint: step === 'add-voter' })
      await waitUntil(() => (step === 'add-voter' ? a.raft.configuration().voters : a.raft.configuration().learners).includes(id) && a.raft.configuration().votersOutgoing.length === 0, 5000, `${id} in`)
    }
    // Back to back: the second is refused while the first (and the entry leaving its joint state) is pending.
    const first = a.raft.propose(put('voter', 'd'), { confChange: { steps: [{ type: 'add-voter', nodeId: 'd' }], transition: 'auto', enterJoint: true } })
    const second = a.raft.propose(put('voter', 'e'), { confChange: { steps: [{ type: 'add-voter', nodeId: 'e' }], transition: 'auto', enterJoint: true } })
    await first
    const result = await Promise.race([
      second.then(() => 'committed' as const),
      new Promise<'not yet'>((resolve) => { setTimeout(() => { resolve('not yet') }, RETRY_MS / 3).unref() })
    ])
    expect(result, 'the refused change waited for its retry time').toBe('committed')
    expect(a.raft.counters().confChangesRetried).toBeGreaterThanOrEqual(1)
    await waitUntil(() => a.raft.configuration().votersOutgoing.length === 0, 5000, 'joint state left')
    expect([...a.raft.configuration().voters].sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
  }, 60_000)
})
