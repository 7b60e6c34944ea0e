/**
 * The decision-record fuzz target reaches what its checks judge (test/fuzz/targets/decision-record.ts): gossip
 * records accepted and refused, and file records kept and skipped. A target whose inputs were all refused would
 * check nothing of the log or the printer however long it ran. 1,500 inputs of a fixed seed must reach each, and
 * crash none.
 */
import { describe, expect, it } from 'vitest'
import { fuzzTarget } from './engine.js'
import { DECISION_STATS, decisionRecordTarget } from './targets/decision-record.js'

describe('decision-record fuzz target', () => {
  it('should accept and refuse gossip records, and keep and skip file records, within 1,500 inputs', async () => {
    for (const key of Object.keys(DECISION_STATS) as Array<keyof typeof DECISION_STATS>) DECISION_STATS[key] = 0
    const report = await fuzzTarget(decisionRecordTarget, { seed: 38, runs: 1_500 })
    await decisionRecordTarget.close?.()
    expect(report.failures.map((f) => `run ${f.run}: ${f.error.message}`)).toEqual([])
    const unreached = Object.entries(DECISION_STATS).filter(([, count]) => count === 0).map(([name]) => name)
    expect(unreached).toEqual([])
  }, 120_000)
})
