/**
 * Goal: a node whose own heartbeat every peer would drop (encoded above MAX_HEARTBEAT_BYTES) refuses to
 * start, named, instead of running unheard: a joiner was never admitted and after --join-timeout blamed the
 * leader; a member that restarted with more labels was judged dead by everyone. Method: labels within the
 * config's per-label limits (32 of them, keys and values at their longest) that together pass 8 KiB; the
 * start fails with HeartbeatTooLargeError. A node with half of them starts, and its largest possible
 * heartbeat (the check's measure: every changing field at its largest) fits and bounds the real one. Listen
 * addresses may be added while the node runs: its heartbeats then carry the first of them that still fit (an
 * address longer than peers accept never), so peers keep hearing it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { addressesThatFit, checkOwnHeartbeat, largestHeartbeat } from '../../src/membership/own-heartbeat.js'
import { MAX_ADDRESS_CHARS, MAX_ADDRESSES, MAX_HEARTBEAT_BYTES, MAX_LABEL_KEY_CHARS, MAX_LABEL_VALUE_CHARS, MAX_LABELS } from '../../src/membership/core/constants.js'
import { parseNodeState } from '../../src/membership/core/index.js'
import type { NodeState } from '../../src/membership/core/index.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const nodes: RevoadaNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async (n) => { await n.stop().catch(() => {}) }))
})

/** `count` labels with keys and values at their longest. */
const longLabels = (count: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i).padEnd(MAX_LABEL_KEY_CHARS, 'k'), 'v'.repeat(MAX_LABEL_VALUE_CHARS)]))

describe('own heartbeat', () => {
  it('should refuse to start with HeartbeatTooLargeError when its heartbeat would pass MAX_HEARTBEAT_BYTES', async () => {
    const start = async (labels: Record<string, string>): Promise<{ node: RevoadaNode, membership: MembershipService }> => {
      const dir = await tempDir('revoada-ownhb-')
      const membership = new MembershipService()
      const node = await startNode({ config: testConfig(dir, { membership: { labels } }), services: [membership] })
      nodes.push(node)
      return { node, membership }
    }
    await expect(start(longLabels(MAX_LABELS))).rejects.toMatchObject({ name: 'HeartbeatTooLargeError' })

    const { membership } = await start(longLabels(MAX_LABELS / 2))
    const self = membership.view().members.find((m) => m.nodeId === membership.view().self)!.state
    const largest = encodeCanonical(largestHeartbeat(self)).length
    expect(largest).toBeLessThanOrEqual(MAX_HEARTBEAT_BYTES)
    expect(encodeCanonical(self).length).toBeLessThan(largest)
    expect(checkOwnHeartbeat(self)).toBe(largest)
    expect(() => checkOwnHeartbeat(self, largest - 1)).toThrow(expect.objectContaining({ name: 'HeartbeatTooLargeError' }))
    expect(() => checkOwnHeartbeat({ ...self, labels: { ...self.labels, '': 'x'.repeat(MAX_LABEL_VALUE_CHARS + 1) } })).toThrow(expect.objectContaining({ name: 'HeartbeatInvalidError' }))
  }, 60_000)

  it('should advertise only the listen addresses that keep its heartbeat acceptable when more are added while it runs', async () => {
    const dir = await tempDir('revoada-ownhb-')
    const membership = new MembershipService()
    const node = await startNode({ config: testConfig(dir, { membership: { labels: longLabels(MAX_LABELS / 2) } }), services: [membership] })
    nodes.push(node)
    const selfState = (): NodeState => membership.view().members.find((m) => m.nodeId === membership.view().self)!.state
    const atStart = selfState().addresses
    expect(atStart.length).toBeGreaterThan(0)

    // Sixteen long (but acceptable) addresses and one longer than any peer accepts, added after the start check.
    const tooLong = `/dns4/${'x'.repeat(MAX_ADDRESS_CHARS)}/tcp/1`
    const added = Array.from({ length: MAX_ADDRESSES }, (_, i) => `/dns4/${String(i).padEnd(200, 'a')}.example/tcp/4001`)
    const listening = [...atStart, tooLong, ...added]
    const net = node.net as { getMultiaddrs: () => Array<{ toString: () => string }> }
    net.getMultiaddrs = () => listening.map((a) => ({ toString: () => a }))
    await waitFor(() => selfState().addresses.length > atStart.length, 20_000, 'a heartbeat with the added addresses')

    const advertised = selfState().addresses
    expect(advertised).toEqual([...atStart, ...added].slice(0, advertised.length))
    expect(advertised.length).toBeLessThan(atStart.length + added.length)
    const largest = largestHeartbeat(selfState())
    expect(parseNodeState(largest)).not.toBeNull()
    expect(encodeCanonical(largest).length).toBeLessThanOrEqual(MAX_HEARTBEAT_BYTES)
    // One more address would not have fitted.
    const next = [...atStart, ...added][advertised.length]!
    expect(encodeCanonical({ ...largest, addresses: [...advertised, next] }).length).toBeGreaterThan(MAX_HEARTBEAT_BYTES)
  }, 60_000)

  it('should keep addresses in order, drop those longer than peers accept, and keep all that fit', () => {
    const self: NodeState = largestHeartbeat({
      nodeId: 'n', clusterId: 'c', addresses: [], roles: [], capacity: { cpuMillis: 1, memoryBytes: 1, storageBytes: 1, pods: 1 }, labels: {},
      version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 0, generation: 1, seq: 1, leaving: false, protocol: 1
    })
    const short = ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2']
    expect(addressesThatFit(self, [short[0]!, 'y'.repeat(MAX_ADDRESS_CHARS + 1), short[1]!])).toEqual(short)
    expect(addressesThatFit(self, Array.from({ length: MAX_ADDRESSES + 3 }, (_, i) => `/ip4/127.0.0.1/tcp/${i}`))).toHaveLength(MAX_ADDRESSES)
    const bytes = encodeCanonical({ ...self, addresses: short }).length
    expect(addressesThatFit(self, short, bytes)).toEqual(short)
    expect(addressesThatFit(self, short, bytes - 1)).toEqual([short[0]])
  })
})
