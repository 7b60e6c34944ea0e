/**
 * `revoada_policy_decisions_total` counts the decisions this process makes. The policy engine's history is
 * read back from the data dir on start (policy/decision-log.ts), so after a restart it already holds up to
 * MAX_DECISIONS records of earlier runs: those were counted by the process that made them and must not be
 * counted again. Method: a MetricsService over a policy engine stub whose history holds records at start.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { MetricsService } from '../../src/metrics/index.js'
import type { ServiceContext } from '../../src/node/service.js'
import type { PolicyEngine } from '../../src/policy/engine.js'
import type { Decision } from '../../src/policy/core/index.js'

let service: MetricsService | undefined
afterEach(async () => {
  await service?.stop()
  service = undefined
})

function decision (kind: string, code: string): Decision {
  return { proposals: [{ command: { kind } }], withheld: [{ code }] } as unknown as Decision
}

/** `name{labels} value` samples of an exposition that start with `prefix`. */
function samples (text: string, prefix: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue
    const at = line.lastIndexOf(' ')
    out[line.slice(prefix.length, at)] = Number(line.slice(at + 1))
  }
  return out
}

describe('revoada_policy_decisions_total', () => {
  it('should count only the decisions made after the start, not those of earlier runs read back from the data dir', async () => {
    const history = [decision('promote', 'damped-node'), decision('demote', 'no-quorum')]
    const policy = { decisions: () => history } as unknown as PolicyEngine
    // The service counts new decisions on a periodic duty: the test runs it by hand.
    const duties: Array<() => void> = []
    const ctx = {
      config: {},
      service: (name: string) => name === 'policy' ? policy : undefined,
      ticker: { every: (_periodMs: number, run: () => void) => { duties.push(run); return () => {} } }
    } as unknown as ServiceContext
    service = new MetricsService()
    await service.start(ctx)
    const prefix = 'revoada_policy_decisions_total'
    for (const run of duties) run()
    expect(samples(await service.metrics.exposition(), prefix)).toEqual({})
    history.push(decision('promote', 'unstable'))
    for (const run of duties) run()
    expect(samples(await service.metrics.exposition(), prefix)).toEqual({ '{kind="proposed:promote"}': 1, '{kind="withheld:unstable"}': 1 })
  })
})
