/**
 * Quorum arithmetic against a naive reference on random configurations (etcd quorum/quick_test.go).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jointCommitted, jointVoteResult, majorityCommitted } from '../../../src/consensus/core/quorum.js'

/** Naive: the largest index i such that a strict majority has match >= i. */
function naiveCommitted (voters: string[], match: Map<string, number>): number {
  if (voters.length === 0) return Number.MAX_SAFE_INTEGER
  let best = 0
  for (const candidate of voters.map((id) => match.get(id) ?? 0)) {
    const count = voters.filter((id) => (match.get(id) ?? 0) >= candidate).length
    if (count * 2 > voters.length) best = Math.max(best, candidate)
  }
  return best
}

const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
const arbVoters = fc.subarray(ids, { minLength: 0, maxLength: 7 })
const arbMatch = fc.array(fc.nat({ max: 20 }), { minLength: 7, maxLength: 7 })
  .map((values) => new Map(ids.map((id, i) => [id, values[i] ?? 0])))

describe('quorum', () => {
  it('should agree with the naive committed index when voters and matches are random', () => {
    fc.assert(fc.property(arbVoters, arbMatch, (voters, match) => {
      expect(majorityCommitted(voters, (id) => match.get(id) ?? 0)).toBe(naiveCommitted(voters, match))
    }), { numRuns: 2000 })
  })

  it('should take the minimum of both halves when the configuration is joint', () => {
    fc.assert(fc.property(arbVoters, arbVoters, arbMatch, (incoming, outgoing, match) => {
      fc.pre(incoming.length > 0)
      const conf = { voters: incoming, votersOutgoing: outgoing, learners: [], learnersNext: [], autoLeave: false }
      const expected = Math.min(naiveCommitted(incoming, match), naiveCommitted(outgoing, match))
      expect(jointCommitted(conf, (id) => match.get(id) ?? 0)).toBe(expected)
    }), { numRuns: 2000 })
  })

  it('should decide a joint vote only when both halves decide when votes are partial', () => {
    const conf = { voters: ['a', 'b', 'c'], votersOutgoing: ['c', 'd', 'e'], learners: [], learnersNext: [], autoLeave: false }
    expect(jointVoteResult(conf, new Map([['a', true], ['b', true]]))).toBe('pending')
    expect(jointVoteResult(conf, new Map([['a', true], ['c', true], ['d', true]]))).toBe('won')
    expect(jointVoteResult(conf, new Map([['d', false], ['e', false], ['a', true], ['b', true]]))).toBe('lost')
  })
})
