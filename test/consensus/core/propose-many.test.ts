/**
 * RawNode.proposeMany (group commit at the proposer): many commands become one append and one App per
 * follower on a leader, and as few forwarded Props as the message size allows on a follower; all are
 * committed and applied once, in order.
 */
import { describe, expect, it } from 'vitest'
import { MessageType } from '../../../src/consensus/core/index.js'
import { Cluster, bytes } from './harness.js'

describe('RawNode.proposeMany', () => {
  it('should append a batch on the leader and send it in one App per follower', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    const a = c.get('a')
    const before = a.node.status().lastIndex
    a.node.proposeMany(Array.from({ length: 10 }, (_, i) => ({ data: bytes(`v${i}`), proposalId: { clientId: 'a/1', seq: i + 1 } })))
    expect(a.node.status().lastIndex).toBe(before + 10)
    c.process('a')
    const apps = c.queue.filter((m) => m.type === MessageType.App && m.entries.length > 0)
    expect(apps.map((m) => [m.to, m.entries.length]).sort()).toEqual([['b', 10], ['c', 10]])
    c.stabilize()
    for (const id of ['a', 'b', 'c']) expect(c.get(id).state.slice(-10)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`))
  })

  it('should forward a batch from a follower in Props no larger than the message size limit', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'], config: { maxSizePerMsgBytes: 300 } })
    c.elect('a')
    const b = c.get('b')
    b.node.proposeMany(Array.from({ length: 6 }, (_, i) => ({ data: new Uint8Array(100).fill(i), proposalId: { clientId: 'b/1', seq: i + 1 } })))
    c.process('b')
    const props = c.queue.filter((m) => m.type === MessageType.Prop)
    expect(props.length).toBeGreaterThan(1)
    expect(props.reduce((n, m) => n + m.entries.length, 0)).toBe(6)
    c.stabilize()
    expect(c.get('a').node.status().commit).toBe(c.get('a').node.status().lastIndex)
    expect(c.get('c').state.length).toBeGreaterThanOrEqual(6)
  })

  it('should refuse the whole batch with ProposalDroppedError when no leader is known', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    expect(() => c.get('a').node.proposeMany([{ data: bytes('x') }, { data: bytes('y') }]))
      .toThrow(expect.objectContaining({ name: 'ProposalDroppedError' }))
    expect(c.get('a').node.status().droppedProposals).toBe(2)
  })
})
