/**
 * The signed-proposal target reaches the states its role oracles judge (test/fuzz/targets/signed-proposal-roles.ts):
 * a fuzz target that never builds a pinned holder, an applied unpin, a rejoin or a replacement checks nothing
 * about them however long it runs. 1,500 inputs of a fixed seed must reach each case at least once, and crash none.
 */
import { describe, expect, it } from 'vitest'
import { fuzzTarget } from './engine.js'
import { ROLE_STATS } from './targets/signed-proposal-roles.js'
import { signedProposalTarget } from './targets/signed-proposal.js'

describe('signed-proposal fuzz target', () => {
  it('should reach pinned holders, unpins, rejoins, replacements and removed nodes refused within 1,500 inputs', async () => {
    for (const key of Object.keys(ROLE_STATS) as Array<keyof typeof ROLE_STATS>) ROLE_STATS[key] = 0
    const report = await fuzzTarget(signedProposalTarget, { seed: 38, runs: 1_500 })
    expect(report.failures.map((f) => `run ${f.run}: ${f.error.message}`)).toEqual([])
    const unreached = Object.entries(ROLE_STATS).filter(([, count]) => count === 0).map(([name]) => name)
    expect(unreached).toEqual([])
  }, 120_000)
})
