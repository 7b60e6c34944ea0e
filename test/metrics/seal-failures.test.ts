/**
 * Goal: seal proposals that fail are counted in revoada_server_proposals_failed_total with the commands that
 * fail. The attestation layer proposes seals to the Raft node directly, past the consensus service's propose
 * that counts failures, so a leader whose seals never committed showed 0 failed proposals.
 * Method: the registry alone, fed a reading with failed seals and a failed command; then a lone real node
 * with a fast seal interval whose Raft node refuses seal commands (isSealCommand), until the metric and the
 * chain's status count the failures.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { NodeMetrics } from '../../src/metrics/registry.js'
import type { StateReading } from '../../src/metrics/registry.js'
import type { MetricsService } from '../../src/metrics/metrics-service.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import { isSealCommand } from '../../src/attestation/core/block.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const FAILED = 'revoada_server_proposals_failed_total'

async function failedOf (metrics: NodeMetrics): Promise<number | undefined> {
  const line = (await metrics.exposition()).split('\n').find((l) => l.startsWith(`${FAILED} `))
  return line === undefined ? undefined : Number(line.slice(FAILED.length + 1))
}

let node: RevoadaNode | undefined
let dir = ''
afterEach(async () => {
  await node?.stop()
  node = undefined
  if (dir !== '') await fs.rm(dir, { recursive: true, force: true })
})

describe('failed seal proposals', () => {
  it('should add the failed seals the attestation layer reports to the failed commands', async () => {
    const metrics = new NodeMetrics()
    let reading: StateReading = {}
    metrics.readState(() => reading)
    expect(await failedOf(metrics)).toBe(0)
    metrics.proposalsFailed.inc()
    reading = { sealProposalsFailed: 2 }
    expect(await failedOf(metrics)).toBe(3)
    reading = { sealProposalsFailed: 5 }
    expect(await failedOf(metrics)).toBe(6)
    // A layer that stops reporting leaves the count where it was.
    reading = {}
    expect(await failedOf(metrics)).toBe(6)
  })

  it('should count a lone leader\'s seals that its Raft node refuses', async () => {
    dir = await tempDir()
    const services = defaultServices()
    node = await startNode({ config: testConfig(dir, { attestation: { sealIntervalMs: 50 } }), services })
    const consensus = services.find((s) => s.name === 'consensus') as ConsensusService
    const metrics = (services.find((s) => s.name === 'metrics') as MetricsService).metrics
    await waitFor(() => consensus.node.isLeader(), 20_000, 'the lone node to lead')
    const raft = consensus.node
    const propose = raft.propose.bind(raft)
    raft.propose = async (command, options) => {
      if (isSealCommand(command)) throw Object.assign(new Error('seal refused by the test'), { name: 'ProposalDroppedError' })
      return await propose(command, options)
    }
    const before = (await failedOf(metrics)) ?? 0
    // A command after the patch: a block no seal covers, which the leader keeps trying to seal.
    await consensus.propose({ kind: 'set-target', target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }, 'operator')
    await waitFor(async () => ((await failedOf(metrics)) ?? 0) >= before + 2, 20_000, 'two failed seals counted')
    expect((node.status().chain as { sealsFailed: number }).sealsFailed).toBeGreaterThanOrEqual(2)
  }, 60_000)
})
