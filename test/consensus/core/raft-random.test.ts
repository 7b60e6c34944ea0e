/**
 * Randomized stress of the core on the in-memory harness (a small, fast cousin of the simulator in
 * test/consensus/sim): random ticks, delivery order, loss, duplication, partitions, restarts,
 * compactions, proposals, transfers and membership changes, with every invariant checked after every
 * processed Ready, and every ReadIndex result checked against the commit index when it was asked.
 * Then the network heals and the cluster must converge to identical state machines.
 * Debugging knobs: RAFT_RANDOM_SEEDS, RAFT_RANDOM_FIRST (first seed), RAFT_RANDOM_STATS=1, RAFT_RANDOM_TRACE=1.
 */
import { describe, expect, it } from 'vitest'
import { createPrng } from '../../../src/consensus/core/index.js'
import { Cluster, bytes } from './harness.js'

const SEEDS = Number(process.env.RAFT_RANDOM_SEEDS ?? 40)
const STEPS = 1500

function runSeed (seed: number): Cluster {
  const prng = createPrng(seed)
  const rnd = (n: number): number => prng.nextInt(n)
  const ids = ['a', 'b', 'c', 'd', 'e']
  const c = new Cluster({ voters: ['a', 'b', 'c'], learners: ['d'], seed, config: { maxSizePerMsgBytes: 64, maxInflightMsgs: 4, snapshotChunkBytes: 16 } })
  c.addNode('e')
  if (process.env.RAFT_RANDOM_TRACE === '1') c.trace = []
  let proposal = 0
  for (let step = 0; step < STEPS; step++) {
    const roll = rnd(100)
    const id = ids[rnd(ids.length)]!
    const h = c.get(id)
    try {
      if (roll < 45) h.node.tick()
      else if (roll < 60) h.node.propose(bytes(`p${proposal++}`), { clientId: id, seq: proposal })
      else if (roll < 63) c.isolate(id)
      else if (roll < 68) c.heal()
      else if (roll < 70) c.restart(id, c.genesis)
      else if (roll < 72 && h.node.status().applied > 0) c.compact(id, rnd(3))
      else if (roll < 73) h.node.transferLeadership(ids[rnd(3)]!)
      else if (roll < 75) {
        const target = ids[rnd(ids.length)]!
        const type = (['add-voter', 'add-learner', 'remove'] as const)[rnd(3)]!
        const steps = rnd(3) === 0 ? [] : [{ type, nodeId: target }]
        h.node.proposeConfChange({ steps, transition: rnd(2) === 0 ? 'auto' : 'explicit' })
      } else if (roll < 80) c.readIndex(id, `r${step}`)
    } catch (err) {
      const name = (err as Error).name
      if (name !== 'ProposalDroppedError' && name !== 'ConfChangeRejectedError' && name !== 'TransferRejectedError') throw err
    }
    for (const node of ids) c.process(node)
    c.deliverRandom(rnd, 10, 5)
  }
  c.heal()
  for (let round = 0; round < 300; round++) {
    c.tickAll()
    c.stabilize()
  }
  if (process.env.RAFT_RANDOM_STATS === '1') {
    const l = c.get(c.leaders()[0] ?? 'a')
    if (c.trace !== undefined) console.log(c.trace.filter((l) => /^[bc] /.test(l)).slice(-400).join('\n'))
    if (c.leaders().length === 0) for (const h of c.nodes.values()) console.log(JSON.stringify(h.node.status()), JSON.stringify(h.conf))
    console.log(`seed ${seed} term=${l.node.status().term} applied=${l.appliedIndex} state=${l.state.length} ` +
      `first=${l.node.status().firstIndex} conf=${JSON.stringify(l.conf)} snaps=${[...c.nodes.values()].filter((h) => h.store.snapshot !== undefined).length}`)
  }
  return c
}

describe('RawNode under random faults', () => {
  it('should keep every invariant and converge when faults heal', () => {
    let served = 0
    for (let seed = Number(process.env.RAFT_RANDOM_FIRST ?? 1); seed <= SEEDS; seed++) {
      let c: Cluster
      try {
        c = runSeed(seed)
      } catch (err) {
        throw new Error(`seed ${seed}: ${(err as Error).stack ?? String(err)}`)
      }
      expect(c.leaders().length, `seed ${seed} leaders`).toBe(1)
      served += [...c.nodes.values()].reduce((sum, h) => sum + h.readStates.length, 0)
      const leader = c.get(c.leaders()[0]!)
      const members = new Set([...leader.conf.voters, ...leader.conf.learners])
      for (const h of c.nodes.values()) {
        if (!members.has(h.id)) continue
        expect(h.state, `seed ${seed} node ${h.id}`).toEqual(leader.state)
        expect(new Set(h.state).size, `seed ${seed} node ${h.id} exactly once`).toBe(h.state.length)
      }
    }
    // The stale-read check above must have had reads to judge.
    expect(served).toBeGreaterThan(SEEDS)
  })
})
