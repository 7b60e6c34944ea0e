/**
 * The driver's state listeners hear every applied configuration change, not only role and leader changes:
 * the consensus service asks its transport then whether each open inbound Raft stream may stay (a member
 * removed from the configuration must not keep the stream it had).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ConfState } from '../../../src/consensus/core/index.js'
import { LoopbackNetwork, newStorage, startNode, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

describe('RaftNode state listeners', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const n of nodes.splice(0)) n.raft.stop() })

  it('should tell its state listeners of a configuration change that moved neither the leader nor a role', async () => {
    const network = new LoopbackNetwork()
    const a = startNode(network, 'a', newStorage(), { bootstrap: true })
    const b = startNode(network, 'b', newStorage())
    nodes.push(a, b)
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    a.raft.proposeConfChange({ steps: [{ type: 'add-learner', nodeId: 'b' }], transition: 'auto' })
    await waitUntil(() => b.raft.status().leader === 'a' && b.raft.configuration().learners.includes('b'), 5000, 'b a learner following a')

    const heard: Record<string, ConfState[]> = { a: [], b: [] }
    for (const n of [a, b]) n.raft.onStateChange((status) => { heard[n.id]!.push(status.confState) })
    // A learner that never starts: the leader and the roles stay as they are on both nodes.
    a.raft.proposeConfChange({ steps: [{ type: 'add-learner', nodeId: 'c' }], transition: 'auto' })
    await waitUntil(() => [a, b].every((n) => n.raft.configuration().learners.includes('c')), 5000, 'c a learner on a and b')
    expect(a.raft.isLeader()).toBe(true)
    expect(b.raft.status().leader).toBe('a')
    for (const n of [a, b]) expect(heard[n.id]!.some((conf) => conf.learners.includes('c'))).toBe(true)
  })
})
