/**
 * Appends that carry only the commit index (issue 16): a leader marks an App without entries `commitOnly`
 * when the follower has acknowledged everything up to it (replicate state), and a follower whose log
 * matches answers nothing — the answer would tell the leader nothing new. A probe, or an append the
 * follower cannot match, is still answered.
 */
import { describe, expect, it } from 'vitest'
import { MessageType } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { decodeFrame, encodeFrame } from '../../../src/consensus/transport/wire.js'
import { Cluster, bytes } from './harness.js'

/** Runs every node's Ready once and returns what was queued meanwhile (still queued for delivery). */
function processAll (c: Cluster): Message[] {
  const before = c.queue.length
  for (const id of c.nodes.keys()) c.process(id)
  return c.queue.slice(before)
}

describe('commit-only appends', () => {
  it('should mark the commit-index append to an up-to-date follower, which applies it and answers nothing', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.get('a').node.propose(bytes('x'), { clientId: 'a/1', seq: 1 })
    processAll(c)
    c.deliver() // the Apps with the entry reach b and c
    processAll(c)
    c.deliver() // their acknowledgements reach a, which commits
    const sent = processAll(c)
    const commitApps = sent.filter((m) => m.type === MessageType.App && m.entries.length === 0)
    expect(commitApps.map((m) => [m.to, m.commitOnly])).toEqual([['b', true], ['c', true]])
    const index = c.get('a').node.status().commit
    c.deliver()
    const answers = processAll(c)
    expect(answers.filter((m) => m.type === MessageType.AppResp)).toEqual([])
    for (const id of ['b', 'c']) expect(c.get(id).node.status().commit).toBe(index)
    for (const id of ['b', 'c']) expect(c.get(id).state).toEqual(['x'])
    // It survives the wire; a frame without the flag stays without it (older peers ignore the key).
    const app = commitApps[0] as Message
    expect(decodeFrame(encodeFrame(app)).commitOnly).toBe(true)
    expect(decodeFrame(encodeFrame({ ...app, commitOnly: undefined })).commitOnly).toBeUndefined()
  })

  it('should still answer a commit-only append it cannot match (a missed App), and never mark a probe', () => {
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    c.get('a').node.propose(bytes('y'), { clientId: 'a/1', seq: 1 })
    processAll(c)
    expect(c.queue.filter((m) => m.to === 'c').length).toBeGreaterThan(0)
    c.queue = c.queue.filter((m) => m.to !== 'c') // c misses the App with the entry
    c.deliver()
    processAll(c)
    c.deliver() // b's acknowledgement commits the entry
    const sent = processAll(c)
    expect(sent.filter((m) => m.to === 'c' && m.type === MessageType.App).map((m) => m.commitOnly)).toEqual([true])
    c.deliver()
    const answers = processAll(c)
    // c cannot match (it never got the entry): it rejects, and the rejection goes out.
    expect(answers.filter((m) => m.type === MessageType.AppResp && m.from === 'c').map((m) => m.reject)).toEqual([true])
    c.deliver()
    // The leader probes c: that App is answered whatever it carries, so it is never marked.
    const probe = processAll(c).filter((m) => m.to === 'c' && m.type === MessageType.App)
    expect(probe.length).toBeGreaterThan(0)
    expect(probe.every((m) => m.commitOnly !== true)).toBe(true)
    c.stabilize()
    expect(c.get('c').state).toEqual(['y'])
    expect(c.get('a').node.status().progress?.c?.state).toBe('replicate')
  })

  it('should keep every follower converging under random loss and duplication with no acknowledgement of commit-only appends', () => {
    let seed = 7
    const next = (max: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % max }
    const c = new Cluster({ voters: ['a', 'b', 'c'] })
    c.elect('a')
    for (let i = 0; i < 60; i++) {
      if (c.leaders().length === 1) {
        const leader = c.get(c.leaders()[0] as string).node
        try { leader.propose(bytes(`v${i}`), { clientId: 'w/1', seq: i + 1 }) } catch { /* no leader now */ }
      }
      for (const id of c.nodes.keys()) c.process(id)
      c.deliverRandom(next, 10, 5)
      if (i % 5 === 0) c.tickAll()
    }
    for (let i = 0; i < 30; i++) { c.tickAll(); c.stabilize() }
    const commits = [...c.nodes.values()].map((h) => h.node.status().commit)
    expect(new Set(commits).size).toBe(1)
    const states = [...c.nodes.values()].map((h) => JSON.stringify(h.state))
    expect(new Set(states).size).toBe(1)
  })
})
