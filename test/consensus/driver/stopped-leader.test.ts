/**
 * Goal: a driver that stopped — stop() or a halt at apply — names no leader. Membership (`isLeader`) and
 * the address lookup (`leaderId`) read the driver on demand, and a halted leader's process runs on until it
 * exits: they named it leader meanwhile, and peers that asked it were sent to a node that no longer leads.
 * Method: a single-voter leader on the loopback harness, stopped by hand; and one whose machine throws a
 * halting error (ProtocolLevelUnsupportedError) at the entry the test proposes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { ApplyOutcome } from '../../../src/consensus/state-machine.js'
import { KvMachine, LoopbackNetwork, newStorage, put, silentLogger, startNode, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

/** Throws the halting error when it applies the key `halt`. */
class HaltingMachine extends KvMachine {
  override apply (command: Uint8Array): ApplyOutcome<{ previous: string | null }> {
    const outcome = super.apply(command)
    if (this.map.has('halt')) throw Object.assign(new Error('level 99 above this build'), { name: 'ProtocolLevelUnsupportedError' })
    return outcome
  }
}

describe('a stopped raft driver', () => {
  const nodes: TestNode[] = []
  const others: Array<RaftNode<{ previous: string | null }>> = []
  afterEach(() => {
    for (const node of nodes.splice(0)) node.raft.stop()
    for (const node of others.splice(0)) node.stop()
  })

  it('should name no leader once stop() ran', async () => {
    const a = startNode(new LoopbackNetwork(), 'a', newStorage(), { bootstrap: true })
    nodes.push(a)
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    expect(a.raft.leaderId()).toBe('a')
    a.raft.stop()
    expect(a.raft.isLeader()).toBe(false)
    expect(a.raft.leaderId()).toBeNull()
  })

  it('should name no leader once it halted at apply', async () => {
    const network = new LoopbackNetwork()
    const raft = new RaftNode({ id: 'a', tickMs: 10, electionTicks: 10, heartbeatTicks: 1, bootstrap: true }, {
      storage: newStorage(), transport: network.transport('a'), stateMachine: new HaltingMachine(), logger: silentLogger
    })
    raft.start()
    others.push(raft)
    await waitUntil(() => raft.isLeader(), 5000, 'a leads')
    raft.propose(put('halt', '1')).catch(() => {})
    await waitUntil(() => raft.halted !== undefined, 5000, 'a halted')
    expect(raft.isLeader()).toBe(false)
    expect(raft.leaderId()).toBeNull()
  })
})

/**
 * Goal: `status()` of a stopped driver says so and claims nothing: the core keeps its last role, leader and
 * progress, and the API, dashboard and metrics read status() while a halted node's process runs on. Before,
 * a stopped leader's status() still answered role leader, itself as leader and its peers' progress.
 */
describe('status() of a stopped raft driver', () => {
  it('should answer stopped, a follower, no leader and no progress once stop() ran, without throwing', async () => {
    const a = startNode(new LoopbackNetwork(), 'a', newStorage(), { bootstrap: true })
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    expect(a.raft.status()).toMatchObject({ stopped: false, role: 'leader', leader: 'a' })
    const term = a.raft.status().term
    a.raft.stop()
    const status = a.raft.status()
    expect(status).toMatchObject({ stopped: true, role: 'follower', leader: null, leadTransferee: null, term })
    expect(status.progress).toBeUndefined()
  })
})
