/**
 * Raft-paper basics on the in-memory harness: election, replication, commit, log matching.
 * Goal: a bug in vote counting, append matching or commit would make these fail.
 */
import { describe, expect, it } from 'vitest'
import { Cluster, bytes } from './harness.js'

describe('RawNode basics', () => {
  it('should elect exactly one leader when one node campaigns', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    expect(c.leaders()).toEqual(['a'])
    for (const h of c.nodes.values()) expect(h.node.status().leader).toBe('a')
  })

  it('should replicate and apply a proposal on every node when a leader exists', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.get('a').node.propose(bytes('x=1'))
    c.stabilize()
    for (const h of c.nodes.values()) expect(h.state).toEqual(['x=1'])
  })

  it('should forward a proposal to the leader when proposed on a follower', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.get('b').node.propose(bytes('from-b'))
    c.stabilize()
    for (const h of c.nodes.values()) expect(h.state).toEqual(['from-b'])
  })

  it('should elect a leader by timeouts alone when nobody campaigns', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'], seed: 7 })
    for (let i = 0; i < 100 && c.leaders().length === 0; i++) { c.tickAll(); c.stabilize() }
    expect(c.leaders()).toHaveLength(1)
  })

  it('should commit on a single-node cluster when it proposes', () => {
    const c = new Cluster({ voters: ['a'] })
    c.elect('a')
    c.get('a').node.propose(bytes('solo'))
    c.stabilize()
    expect(c.get('a').state).toEqual(['solo'])
  })

  it('should apply a retried proposal id once when it is proposed twice', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    const id = { clientId: 'cl', seq: 1 }
    c.get('a').node.propose(bytes('once'), id)
    c.get('a').node.propose(bytes('once'), id)
    c.stabilize()
    for (const h of c.nodes.values()) expect(h.state).toEqual(['once'])
  })

  it('should converge logs when a new leader overwrites an uncommitted suffix', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.isolate('a')
    c.get('a').node.propose(bytes('lost'))
    c.stabilize()
    // b and c must first stop hearing from a (leader stickiness), then b wins.
    c.tick('c', 10)
    c.elect('b')
    expect(c.get('b').node.status().role).toBe('leader')
    c.get('b').node.propose(bytes('kept'))
    c.stabilize()
    c.heal()
    c.tickAll(5)
    c.stabilize()
    for (const h of c.nodes.values()) expect(h.state).toEqual(['kept'])
  })
})
