/**
 * Prometheus metrics of a real node (in-process): etcd-style names with live values on the admin API,
 * and a scrape-only listener whose token opens /metrics and nothing else.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { readApiFile } from '../../src/api/index.js'
import { loadConfig } from '../../src/config/index.js'
import { NodeMetrics } from '../../src/metrics/registry.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import type { StateReading } from '../../src/metrics/registry.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const SCRAPE_TOKEN = 'scrape-token-0123456789'
let node: RevoadaNode | undefined
let dir = ''
afterEach(async () => {
  await node?.stop()
  node = undefined
  if (dir !== '') await fs.rm(dir, { recursive: true, force: true })
})

/** `name{labels} value` samples of an exposition, by full series name. */
function samples (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

describe('metrics', () => {
  it('should expose term, indexes, fsync and apply histograms and member health once a node leads', async () => {
    dir = await tempDir()
    const services = defaultServices()
    node = await startNode({ config: testConfig(dir, { metrics: { listen: '127.0.0.1:0', token: SCRAPE_TOKEN } }), services })
    const api = await readApiFile(dir)
    const admin = async (): Promise<Map<string, number>> => samples(await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${api.token}` } })).text())
    await waitFor(async () => (await admin()).get('revoada_server_is_leader') === 1, 20_000, 'the lone node to lead')
    // One command applied after the metrics service started (the bootstrap entries may apply before it).
    const post = await fetch(`${api.url}/v1/target`, { method: 'POST', headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ preset: 'homelab' }) })
    expect(post.status).toBe(200)
    // A scrape where both indexes agree: the commit index moves when the WAL flush completes and the entry
    // applies on the driver's next batch, a turn later (a witness seal may commit at any time).
    let m = new Map<string, number>()
    await waitFor(async () => {
      m = await admin()
      return (m.get('revoada_server_apply_duration_seconds_count') ?? 0) > 0 && m.get('revoada_server_proposals_applied_total') === m.get('revoada_server_proposals_committed_total')
    }, 20_000, 'an apply timed, the applied index at the committed one')
    expect(m.get('revoada_server_term')).toBeGreaterThanOrEqual(1)
    expect(m.get('revoada_server_has_leader')).toBe(1)
    expect(m.get('revoada_server_leader_changes_seen_total')).toBeGreaterThanOrEqual(1)
    expect(m.get('revoada_server_proposals_committed_total')).toBeGreaterThanOrEqual(2)
    expect(m.get('revoada_disk_wal_fsync_duration_seconds_count')).toBeGreaterThan(0)
    expect(m.get('revoada_server_apply_duration_seconds_count')).toBeGreaterThan(0)
    expect(m.get('revoada_shape_commands_total{outcome="applied"}')).toBeGreaterThanOrEqual(1)
    expect(m.get('revoada_membership_members{state="alive"}')).toBe(1)
    // Layers C and D report through MetricsSource: the chain holds a block per applied command.
    expect(m.get('revoada_chain_height')).toBeGreaterThanOrEqual(2)
    expect(m.get('revoada_content_blobs')).toBe(0)
    expect(m.get('revoada_membership_members{state="dead"}')).toBe(0)
    // The propose wrapper that counts failures passes the caller's options on: a deadline already passed
    // (a resubmitted command's first one, from the batcher) fails at once, proposing nothing, and is counted.
    const consensus = services.find((s) => s.name === 'consensus') as ConsensusService
    const failedBefore = m.get('revoada_server_proposals_failed_total') ?? 0
    await expect(consensus.propose({ kind: 'set-target', target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }, 'operator', { deadlineMs: 0 }))
      .rejects.toThrow(/deadline passed before it was proposed/)
    expect((await admin()).get('revoada_server_proposals_failed_total')).toBe(failedBefore + 1)
    // The attestation layer runs: the height its seals cover is reported (a lone voter's may still be 0).
    expect(m.get('revoada_chain_sealed_height')).toBeGreaterThanOrEqual(0)
    // Counts the net and membership layers keep: a lone node has reopened nothing.
    expect(m.get('revoada_gossip_streams_reopened_total')).toBe(0)
    expect(m.get('revoada_gossip_streams_opened_late_total')).toBe(0)
    expect(m.get('revoada_membership_voters_reconnected_total')).toBe(0)
    expect(m.get('revoada_link_aborts_total')).toBe(0)
    // Why it leads: it campaigned as the only voter. Every cause and reason has a series from the start.
    expect(m.get('revoada_server_campaigns_total{why="only_voter"}')).toBeGreaterThanOrEqual(1)
    expect(['campaigns_total{why="election_timeout"}', 'campaigns_total{why="handed_over"}', 'leader_step_downs_total{reason="higher_term"}',
      'leader_step_downs_total{reason="no_quorum"}'].map((series) => m.get(`revoada_server_${series}`))).toEqual([0, 0, 0, 0])
    // A loaded machine may stall this process: the count is there, whatever it is.
    expect(m.get('revoada_server_stalls_total')).toBeGreaterThanOrEqual(0)
    // The same counts in `status --json`.
    expect(node.status().elections).toMatchObject({ campaigns: { only_voter: m.get('revoada_server_campaigns_total{why="only_voter"}') } })
  })

  it('should expose a count another layer keeps as a counter that follows it', async () => {
    const metrics = new NodeMetrics()
    let reading: StateReading = {}
    metrics.readState(() => reading)
    expect(samples(await metrics.exposition()).get('revoada_gossip_streams_reopened_total')).toBe(0)
    // A gauge no running layer reports is absent rather than a made-up zero.
    expect(samples(await metrics.exposition()).has('revoada_chain_sealed_height')).toBe(false)
    reading = { gossipStreamsReopened: 3, gossipStreamsOpenedLate: 7, votersReconnected: 1, linkPings: 4, linkAborts: 2 }
    let m = samples(await metrics.exposition())
    expect([m.get('revoada_gossip_streams_reopened_total'), m.get('revoada_gossip_streams_opened_late_total'), m.get('revoada_membership_voters_reconnected_total')]).toEqual([3, 7, 1])
    expect([m.get('revoada_link_pings_total'), m.get('revoada_link_aborts_total')]).toEqual([4, 2])
    reading = { gossipStreamsReopened: 5, gossipStreamsOpenedLate: 7, votersReconnected: 1 }
    m = samples(await metrics.exposition())
    expect(m.get('revoada_gossip_streams_reopened_total')).toBe(5)
    // A layer that stops reporting leaves the counter where it was.
    reading = {}
    expect(samples(await metrics.exposition()).get('revoada_gossip_streams_reopened_total')).toBe(5)
  })

  it('should expose labelled counts the consensus layer keeps, each value from 0, following them', async () => {
    const metrics = new NodeMetrics()
    let reading: StateReading = {}
    metrics.readState(() => reading)
    const campaigns = (m: Map<string, number>): Array<number | undefined> =>
      ['election_timeout', 'handed_over'].map((why) => m.get(`revoada_server_campaigns_total{why="${why}"}`))
    expect(campaigns(samples(await metrics.exposition()))).toEqual([undefined, undefined])
    reading = { campaigns: { election_timeout: 1, handed_over: 0 }, stepDowns: { no_quorum: 2 }, stalls: 1 }
    let m = samples(await metrics.exposition())
    expect(campaigns(m)).toEqual([1, 0])
    expect(m.get('revoada_server_leader_step_downs_total{reason="no_quorum"}')).toBe(2)
    expect(m.get('revoada_server_stalls_total')).toBe(1)
    reading = { campaigns: { election_timeout: 3, handed_over: 1 }, stepDowns: { no_quorum: 2 }, stalls: 4 }
    m = samples(await metrics.exposition())
    expect(campaigns(m)).toEqual([3, 1])
    expect(m.get('revoada_server_leader_step_downs_total{reason="no_quorum"}')).toBe(2)
    expect(m.get('revoada_server_stalls_total')).toBe(4)
    // A consensus layer that stops reporting leaves each count where it was.
    reading = {}
    expect(campaigns(samples(await metrics.exposition()))).toEqual([3, 1])
  })

  it('should serve /metrics on the scrape listener with its token only, and that token opens nothing else', async () => {
    dir = await tempDir()
    node = await startNode({ config: testConfig(dir, { metrics: { listen: '127.0.0.1:0', token: SCRAPE_TOKEN } }), services: defaultServices() })
    const api = await readApiFile(dir)
    const url = (node.status().metrics as { scrapeUrl: string }).scrapeUrl
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const bearer = { authorization: `Bearer ${SCRAPE_TOKEN}` }
    expect((await fetch(`${url}/metrics`)).status).toBe(401)
    const ok = await fetch(`${url}/metrics`, { headers: bearer })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('revoada_server_term')
    expect((await fetch(`${url}/v1/status`, { headers: bearer })).status).toBe(404)
    expect((await fetch(`${url}/metrics`, { method: 'POST', headers: bearer })).status).toBe(405)
    // The scrape token is no admin token.
    expect((await fetch(`${api.url}/metrics`, { headers: bearer })).status).toBe(401)
    expect((await fetch(`${api.url}/v1/status`, { headers: bearer })).status).toBe(401)
  })

  it('should refuse a non-loopback scrape listener without a token', () => {
    expect(() => loadConfig({ flags: { metrics: { listen: '0.0.0.0:9101' } } })).toThrow(expect.objectContaining({ name: 'ConfigInvalidError' }))
    expect(loadConfig({ flags: { metrics: { listen: '0.0.0.0:9101', token: SCRAPE_TOKEN } } }).metrics?.listen).toBe('0.0.0.0:9101')
  })
})

