/**
 * Which members a tiered observer keeps connections to (core/links.ts): deterministic, symmetric between
 * observers, bounded, and the observers connected among themselves, over random configurations (seeded).
 */
import { describe, expect, it } from 'vitest'
import { keptPeers, observerRing, voterMustRelay } from '../../src/membership/core/index.js'
import type { RaftMembers } from '../../src/membership/core/index.js'
import { createPrng } from '../../src/consensus/core/index.js'

function randomConf (seed: number): { conf: RaftMembers, observers: string[], k: number } {
  const prng = createPrng(seed)
  const id = (): string => `12D3KooW${Array.from({ length: 12 }, () => 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ123456789'[prng.nextInt(57)]).join('')}`
  const voters = Array.from({ length: 1 + prng.nextInt(5) }, id)
  const observers = Array.from({ length: 1 + prng.nextInt(60) }, id)
  // Some configurations are joint: a few learners only in the next half, a voter leaving to learner.
  const split = prng.nextInt(observers.length + 1)
  const joint = prng.nextInt(3) === 0
  const conf: RaftMembers = {
    voters,
    votersOutgoing: joint ? [voters[0]!] : [],
    learners: observers.slice(0, split),
    learnersNext: joint ? [...observers.slice(split), voters[0]!] : observers.slice(split)
  }
  if (!joint) return { conf: { ...conf, learners: observers, learnersNext: [] }, observers, k: 1 + prng.nextInt(4) }
  return { conf, observers, k: 1 + prng.nextInt(4) }
}

/** Observers reachable from `from` over observer–observer links only. */
function reachable (from: string, edges: Map<string, Set<string>>): Set<string> {
  const seen = new Set([from])
  const queue = [from]
  while (queue.length > 0) {
    for (const next of edges.get(queue.shift()!) ?? []) if (!seen.has(next)) { seen.add(next); queue.push(next) }
  }
  return seen
}

describe('observer links', () => {
  it('should keep every voter and 2k ring neighbours, symmetric, bounded and connected among observers', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const { conf, observers, k } = randomConf(seed)
      const voters = new Set([...conf.voters, ...conf.votersOutgoing])
      const kept = new Map(observers.map((o) => [o, keptPeers(conf, o, k)!]))
      const edges = new Map<string, Set<string>>()
      for (const [o, peers] of kept) {
        const where = `seed ${seed}, ${observers.length} observers, k ${k}, observer ${o}`
        expect(peers, where).toBeDefined()
        expect(keptPeers(conf, o, k), where).toEqual(peers) // deterministic
        for (const v of voters) expect(peers.has(v), where).toBe(true)
        expect(peers.has(o), where).toBe(false)
        const ring = [...peers].filter((p) => !voters.has(p))
        expect(ring.length, where).toBe(Math.min(2 * k, observers.length - 1)) // bounded (exactly 2k when there are that many)
        for (const p of ring) expect(kept.get(p)!.has(o), `${where}: ${p} does not keep it back`).toBe(true) // symmetric
        edges.set(o, new Set(ring))
      }
      expect(reachable(observers[0]!, edges).size, `seed ${seed}: observers not connected among themselves`).toBe(observers.length)
    }
  })

  it('should keep everything (undefined) for a voter and for a node outside the configuration', () => {
    const conf: RaftMembers = { voters: ['v1', 'v2'], votersOutgoing: ['v3'], learners: ['a', 'b', 'c'], learnersNext: ['v3'] }
    expect(keptPeers(conf, 'v1', 2)).toBeUndefined()
    expect(keptPeers(conf, 'v3', 2)).toBeUndefined() // leaving the voters: still votes in the joint configuration
    expect(keptPeers(conf, 'joiner', 2)).toBeUndefined()
    expect(observerRing(conf)).toEqual(['a', 'b', 'c'])
  })

  it('should give both ends of a link the same answer whatever order the configuration lists members in', () => {
    const learners = Array.from({ length: 20 }, (_, i) => `n${String(i).padStart(2, '0')}`)
    const a: RaftMembers = { voters: ['v1', 'v2', 'v3'], votersOutgoing: [], learners, learnersNext: [] }
    const b: RaftMembers = { ...a, voters: ['v3', 'v1', 'v2'], learners: [...learners].reverse() }
    for (const o of learners) expect(keptPeers(a, o, 2)).toEqual(keptPeers(b, o, 2))
    expect([...keptPeers(a, 'n00', 2)!].sort()).toEqual(['n01', 'n02', 'n18', 'n19', 'v1', 'v2', 'v3'])
  })

  it('should let a voter relay only while someone but voters listens', () => {
    const conf: RaftMembers = { voters: ['v1', 'v2'], votersOutgoing: ['v3'], learners: ['a', 'b'], learnersNext: [] }
    expect(voterMustRelay(['v2', 'v3'], 'a', conf)).toBe(false) // only voters listen: each has a direct copy
    expect(voterMustRelay(['v2', 'a'], 'a', conf)).toBe(false) // the author itself needs no copy
    expect(voterMustRelay(['v2', 'b'], 'a', conf)).toBe(true) // an observer back on heartbeats
    expect(voterMustRelay(['v2', 'joiner'], 'a', conf)).toBe(true) // a joiner, outside the configuration
  })
})
