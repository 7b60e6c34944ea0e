/**
 * Goal: a proposal forwarded to a leader that then dies is handed to the next leader as soon as one is
 * known, not at its retry time (issue 16: behind such a proposal a node's next batch of operator commands
 * waited up to RETRY_INTERVAL_MS, which doubled the failover time bench:consensus measures). Method: three
 * voters with a one-minute retry interval; the leader is cut off right after a follower forwarded it a
 * proposal; the proposal must commit under the new leader long before a retry could have sent it again.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { LoopbackNetwork, newStorage, put, startNode, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

const RETRY_MS = 60_000

describe('RaftNode hands pending proposals to a new leader at once', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  it('should commit a proposal lost with its leader under the next leader without waiting for the retry interval', async () => {
    const network = new LoopbackNetwork()
    const options = { retryIntervalMs: RETRY_MS, operationTimeoutMs: 2 * RETRY_MS }
    const a = startNode(network, 'a', newStorage(), { bootstrap: true, ...options })
    nodes.push(a)
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    for (const id of ['b', 'c']) {
      nodes.push(startNode(network, id, newStorage(), options))
      a.raft.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: id }], transition: 'auto', enterJoint: true })
      await waitUntil(() => a.raft.configuration().voters.includes(id) && a.raft.configuration().votersOutgoing.length === 0, 5000, `${id} voter`)
    }
    const b = nodes[1] as TestNode
    await waitUntil(() => b.raft.status().leader === 'a', 5000, 'b knows a leads')
    // b forwards to a; a is cut off before the forward arrives (delivery is on a later turn), so it is lost.
    const started = Date.now()
    const proposal = b.raft.propose(put('k', 'v'))
    network.isolate('a', ['b', 'c'])
    const result = await Promise.race([
      proposal,
      new Promise<'not yet'>((resolve) => { setTimeout(() => { resolve('not yet') }, RETRY_MS / 3).unref() })
    ])
    expect(result, 'the proposal waited for its retry time').not.toBe('not yet')
    expect(Date.now() - started).toBeLessThan(RETRY_MS)
    expect(b.machine.map.get('k')).toBe('v')
    expect(['b', 'c']).toContain(b.raft.status().leader)
  })
})
