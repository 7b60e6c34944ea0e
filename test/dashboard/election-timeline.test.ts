/**
 * The dashboard's timeline names this node's own election lines (why it campaigned, stepped down or
 * stalled), those logged before the dashboard started and those logged while it runs. In-process node, its
 * admin API.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import type { NodeService } from '../../src/node/service.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import { ELECTION_LOG_INTERVAL_MS } from '../../src/consensus/constants.js'
import { apiGet } from '../../src/api/index.js'
import type { DashboardState } from '../../src/dashboard/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

/** Well past the default election timeout (5 ticks of 100 ms), the threshold of the stall line. */
const STALL_MS = 2_000
let node: RevoadaNode | undefined
afterEach(async () => {
  await node?.stop()
  node = undefined
})

describe('the dashboard timeline and this node\'s election lines', () => {
  it('should show a lone node\'s campaign as the only voter, logged before the dashboard started, and a stall logged while it runs', async () => {
    const dir = await tempDir()
    // The dashboard starts only once the node has logged its campaign, so that line comes from before it.
    const services = defaultServices()
    let consensus: ConsensusService | undefined
    const waitForCampaign: NodeService = {
      name: 'wait-for-campaign',
      start: async (ctx) => {
        consensus = ctx.service<ConsensusService>('consensus')
        await waitFor(() => consensus?.node.recentElectionLines().some((line) => line.kind === 'campaign') === true, 20_000, 'the campaign line')
      },
      stop: async () => {}
    }
    services.splice(services.findIndex((service) => service.name === 'dashboard'), 0, waitForCampaign)
    node = await startNode({ config: testConfig(dir), services })
    const elections = async (): Promise<DashboardState['timeline']> =>
      (await apiGet(dir, '/v1/dashboard/state') as DashboardState).timeline.filter((e) => e.kind === 'election')
    await waitFor(async () => (await elections()).length > 0, 20_000, 'an election entry')
    // Newest first; a stall of its own on a loaded machine may have come after the campaign.
    const entry = (await elections()).find((e) => e.text.startsWith('campaigned'))
    expect(entry?.nodeId).toBe(node.nodeId)
    expect(entry?.text).toMatch(/^campaigned at term \d+: the only voter, with no leader$/)

    // A line logged while the page is up arrives too: this process, leading, stalls for longer than an
    // election timeout (the test blocks the event loop it shares with the node). A stall the load caused
    // and logged within the line's interval would hold the next one back: that interval is waited out first.
    const lastStallAt = (): number => consensus?.node.recentElectionLines().filter((line) => line.kind === 'stall').at(-1)?.atMs ?? 0
    await waitFor(() => Date.now() - lastStallAt() > ELECTION_LOG_INTERVAL_MS, ELECTION_LOG_INTERVAL_MS + 5_000, 'the stall line\'s interval')
    const until = Date.now() + STALL_MS
    while (Date.now() < until) { /* the node's ticker cannot run */ }
    const gapOf = (text: string): number => Number(/^stalled (\d+) ms/.exec(text)?.[1] ?? 0)
    await waitFor(async () => (await elections()).some((e) => gapOf(e.text) >= STALL_MS), 20_000, 'the stall entry')
    const stall = (await elections()).find((e) => gapOf(e.text) >= STALL_MS)
    expect(stall?.text).toMatch(/^stalled \d+ ms as leader \(no tick ran\)$/)
  })
})
