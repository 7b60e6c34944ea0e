/**
 * Heartbeats toward learners every learnerHeartbeatTicks (issue 16, idle CPU at scale): voters keep one per
 * heartbeatTicks (their election timeout rests on it), caught-up learners get one per learnerHeartbeatTicks,
 * a learner promoted to voter is heartbeated like one from the leader's next heartbeat, and a learner that
 * lags (an append was lost) is heartbeated every tick until it has caught up.
 */
import { describe, expect, it } from 'vitest'
import { MessageType, RawNode, createPrng } from '../../../src/consensus/core/index.js'
import { Cluster, bytes, conf } from './harness.js'

const LEARNER_HEARTBEAT_TICKS = 10

function cluster (): Cluster {
  const c = new Cluster({ voters: ['a', 'b', 'c'], learners: ['d', 'e'], config: { learnerHeartbeatTicks: LEARNER_HEARTBEAT_TICKS } })
  c.elect('a')
  return c
}

/** Ticks the leader `ticks` times, processing and delivering everything; counts heartbeats per recipient. */
function heartbeatsOver (c: Cluster, ticks: number): Map<string, number> {
  const counts = new Map<string, number>()
  for (let i = 0; i < ticks; i++) {
    c.tick('a')
    c.process('a')
    for (const m of c.queue) if (m.type === MessageType.Heartbeat) counts.set(m.to, (counts.get(m.to) ?? 0) + 1)
    c.stabilize()
  }
  return counts
}

describe('heartbeats toward learners', () => {
  it('should heartbeat voters every tick and learners every learnerHeartbeatTicks', () => {
    const c = cluster()
    const counts = heartbeatsOver(c, 3 * LEARNER_HEARTBEAT_TICKS)
    expect(counts.get('b')).toBe(30)
    expect(counts.get('c')).toBe(30)
    expect(counts.get('d')).toBe(3)
    expect(counts.get('e')).toBe(3)
    // Leadership was never in doubt meanwhile.
    expect(c.leaders()).toEqual(['a'])
  })

  it('should heartbeat a promoted learner every tick once the promotion is applied', () => {
    const c = cluster()
    c.get('a').node.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: 'd' }], transition: 'auto' })
    c.stabilize()
    expect(c.get('a').node.status().confState.voters).toContain('d')
    const counts = heartbeatsOver(c, LEARNER_HEARTBEAT_TICKS)
    expect(counts.get('d')).toBe(LEARNER_HEARTBEAT_TICKS)
    expect(counts.get('e')).toBe(1)
  })

  it('should heartbeat a lagging learner every tick until it has caught up', () => {
    const c = cluster()
    heartbeatsOver(c, 1)
    // Every append toward d is lost (the entry's and the commit's); the others commit the entry.
    c.cut.add('a->d')
    c.get('a').node.propose(bytes('x'))
    c.stabilize()
    c.heal()
    const committed = c.get('a').node.status().commit
    expect(c.get('d').node.status().commit).toBeLessThan(committed)
    // The next heartbeat round already reaches d (it lags), and its answer brings the append.
    expect(heartbeatsOver(c, 1).get('d')).toBe(1)
    expect(c.get('d').node.status().commit).toBe(committed)
    expect(c.get('d').state).toEqual(c.get('a').state)
    // Caught up again: back to one heartbeat per learnerHeartbeatTicks.
    expect(heartbeatsOver(c, LEARNER_HEARTBEAT_TICKS).get('d')).toBe(1)
  })

  it('should refuse learnerHeartbeatTicks below heartbeatTicks', () => {
    const empty = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }
    expect(() => new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 2, learnerHeartbeatTicks: 1, random: createPrng(1) }, empty, conf(['a'])))
      .toThrow(expect.objectContaining({ name: 'InvalidRaftConfigError' }))
  })
})
