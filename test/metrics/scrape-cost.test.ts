/**
 * A scrape runs on the node's event loop, so its cost must not grow with what the node holds.
 * - The layers' state (Raft status, the membership view, the content and chain readings) is read once per
 *   scrape; it was read again by each of the 18 metrics that show part of it. Method: a counting reader.
 */
import { describe, expect, it } from 'vitest'
import { NodeMetrics } from '../../src/metrics/index.js'

describe('scrape cost', () => {
  it('should read the layers\' state once per scrape, not once per metric', async () => {
    const metrics = new NodeMetrics()
    let readings = 0
    metrics.readState(() => {
      readings++
      return { term: 2, members: { alive: 3 }, contentBlobs: 1, chainHeight: 4, campaigns: { election_timeout: 1 }, stalls: 0 }
    })
    const text = await metrics.exposition()
    expect(text).toContain('revoada_chain_height 4\n')
    expect(readings).toBe(1)
    await metrics.exposition()
    expect(readings).toBe(2)
  })
})
