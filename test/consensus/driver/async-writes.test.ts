/**
 * The driver with asynchronous storage writes (the WAL flush runs off the event loop): nothing answers a
 * client before its entry is durable on a majority, the leader's own unflushed append never counts, and
 * the loop keeps replicating while a flush hangs.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
import { LoopbackNetwork, put, startThreeVoters, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

/** MemoryStorage whose flushes can be held: a held flush settles only when released. */
class GatedStorage extends MemoryStorage {
  held = false
  private waiting: Array<() => void> = []

  override async syncAsync (): Promise<void> {
    if (!this.held) return await super.syncAsync()
    await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.sync()
  }

  get waitingFlushes (): number {
    return this.waiting.length
  }

  release (): void {
    this.held = false
    for (const resolve of this.waiting.splice(0)) resolve()
  }
}

describe('RaftNode with asynchronous storage writes', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  const cluster = async (network: LoopbackNetwork, leaderStorage: MemoryStorage): Promise<TestNode[]> => await startThreeVoters(network, nodes, leaderStorage)

  it('should answer no proposal while the leader\'s flush hangs and one follower is down, and answer once it completes', async () => {
    const network = new LoopbackNetwork()
    const storage = new GatedStorage()
    const [a, b, c] = await cluster(network, storage) as [TestNode, TestNode, TestNode]
    network.isolate(c.id, [a.id, b.id])
    storage.held = true
    let answered = false
    const target = a.raft.status().lastIndex + 1 // the proposal's entry (appended at the next batch)
    const proposal = a.raft.propose(put('held', '1')).then((r) => { answered = true; return r })
    proposal.catch(() => {}) // a failed assertion below stops the node: no unhandled rejection then
    // b received the entry and acknowledged it durably; a replicated it before flushing its own copy.
    await waitUntil(() => a.raft.status().progress?.b?.match === target, 5000, 'b acknowledged the entry')
    expect(storage.waitingFlushes).toBe(1)
    expect(a.raft.status().commit).toBeLessThan(target)
    expect(b.raft.status().commit).toBeLessThan(target)
    expect(answered).toBe(false)
    expect(a.machine.map.has('held')).toBe(false)
    storage.release()
    const result = await proposal
    expect(result.index).toBe(target)
    expect(a.machine.map.get('held')).toBe('1')
  })

  it('should keep replicating, answer what the followers made durable, and batch several Readies into one flush while a flush hangs', async () => {
    const network = new LoopbackNetwork()
    const storage = new GatedStorage()
    const [a, b, c] = await cluster(network, storage) as [TestNode, TestNode, TestNode]
    storage.held = true
    const flushesBefore = a.raft.counters().walFlushes
    const proposals = Array.from({ length: 20 }, (_, i) => a.raft.propose(put(`k${i}`, 'v')))
    // With b and c up, a majority holds each entry durably without a's flush: all commit meanwhile, and
    // a answers them while its own flush still hangs (thesis §10.2.1).
    await Promise.all(proposals)
    expect(storage.waitingFlushes).toBe(1)
    expect(a.raft.status().commit).toBe(a.raft.status().lastIndex)
    expect(b.raft.status().lastIndex).toBe(a.raft.status().lastIndex)
    expect(c.raft.status().lastIndex).toBe(a.raft.status().lastIndex)
    expect(a.machine.map.size).toBe(20)
    storage.release()
    await waitUntil(() => a.raft.status().progress?.a?.match === a.raft.status().lastIndex, 5000, 'a counts its own copy once flushed')
    // At most the hung flush plus one covering every Ready written while it hung.
    expect(a.raft.counters().walFlushes - flushesBefore).toBeLessThanOrEqual(2)
    expect(a.raft.counters().walFlushedEntries).toBeGreaterThanOrEqual(20)
  })
})
