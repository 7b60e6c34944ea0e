/**
 * Goal: the whole simulator (faults, invariants, liveness, linearizability) passes on a fixed range of
 * seeds as part of `npm test`, and a seed replays identically. Method: run seeds 1..SEEDS with the default
 * step count; a failure prints the seed's report (replay command and trace).
 */
import { describe, expect, it } from 'vitest'
import { formatFailure, runSeed } from './simulator.js'

const SEEDS = 20
const STEPS = 800

describe('simulator', () => {
  it('should keep every invariant and a linearizable history when seeds 1..20 run with faults', () => {
    const failures: string[] = []
    let operations = 0
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = runSeed({ seed, steps: STEPS })
      operations += result.stats.completed
      if (!result.ok) failures.push(formatFailure(result).join('\n'))
    }
    expect(failures).toEqual([])
    // The run must have done real work, or the checks above prove nothing.
    expect(operations).toBeGreaterThan(SEEDS * 5)
  })

  it('should print the seed, a replay command and the last events when a seed fails', () => {
    const result = runSeed({ seed: 1, steps: 400, bugs: { voteBeforePersist: true } })
    expect(result.ok).toBe(false)
    const report = formatFailure(result, 'voteBeforePersist')
    expect(report[0]).toMatch(/^FAIL seed=1: /)
    expect(report).toContain('  replay: npm run sim -- --seed 1 --steps 400 --bug voteBeforePersist')
    expect(result.trace.length).toBeGreaterThan(0)
    expect(result.trace.length).toBeLessThanOrEqual(50)
  })

  it('should replay a seed identically when it is run twice', () => {
    const first = runSeed({ seed: 7, steps: 400 })
    const second = runSeed({ seed: 7, steps: 400 })
    expect(second.stats).toEqual(first.stats)
    expect(second.trace).toEqual(first.trace)
  })
})
