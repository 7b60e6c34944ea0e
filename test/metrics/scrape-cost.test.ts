/**
 * A scrape runs on the node's event loop, so its cost must not grow with what the node holds.
 * - The layers' state (Raft status, the membership view, the content and chain readings) is read once per
 *   scrape; it was read again by each of the 18 metrics that show part of it. Method: a counting reader.
 * - The content store may hold OBJECTS_MAX (100,000) objects, and copying and sorting all their records to
 *   count them took 70 to 150 ms on our machines. Method: a lone node whose store index is given 100,000 more
 *   records just before one exposition (no timer runs inside it: the collectors are synchronous), counting the
 *   records read meanwhile; they are removed right after, before any other content work can see them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { NodeMetrics } from '../../src/metrics/index.js'
import type { MetricsService } from '../../src/metrics/index.js'
import type { ObjectRecord } from '../../src/content/index.js'
import { OBJECTS_MAX } from '../../src/content/core/constants.js'
import { tempDir, testConfig } from '../node/helpers.js'

let node: RevoadaNode | undefined
let dir = ''
afterEach(async () => {
  await node?.stop()
  node = undefined
  if (dir !== '') await fs.rm(dir, { recursive: true, force: true })
  dir = ''
})

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

  it('should read no object record to report the content gauges, however many the store holds', async () => {
    dir = await tempDir()
    const services = defaultServices()
    node = await startNode({ config: testConfig(dir), services })
    const metrics = (services.find((s) => s.name === 'metrics') as MetricsService).metrics
    const content = services.find((s) => s.name === 'content') as unknown as { store: { index: { records: Map<string, ObjectRecord> } } }
    const records = content.store.index.records
    const held = records.size
    const fakes = Array.from({ length: OBJECTS_MAX }, (_, i) => `fake-${i}`)
    let read = 0
    const values = records.values.bind(records)
    records.values = function * () {
      for (const record of values()) { read++; yield record }
    } as unknown as typeof values
    let text = ''
    try {
      for (const cid of fakes) records.set(cid, { cid, type: 'file', size: 1, addedAtMs: 0, lastUsedMs: 0 } as unknown as ObjectRecord)
      text = await metrics.exposition()
    } finally {
      for (const cid of fakes) records.delete(cid)
      records.values = values
    }
    expect(text).toContain(`revoada_content_blobs ${held + OBJECTS_MAX}\n`)
    expect(read).toBe(0)
  })
})
