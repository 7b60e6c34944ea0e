/**
 * Goal: a node whose own heartbeat every peer would drop (encoded above MAX_HEARTBEAT_BYTES) refuses to
 * start, named, instead of running unheard: a joiner was never admitted and after --join-timeout blamed the
 * leader; a member that restarted with more labels was judged dead by everyone. Method: labels within the
 * config's per-label limits (32 of them, keys and values at their longest) that together pass 8 KiB; the
 * start fails with HeartbeatTooLargeError. A node with half of them starts, and its largest possible
 * heartbeat (the check's measure: every changing field at its largest) fits and bounds the real one.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { MembershipService } from '../../src/membership/membership-service.js'
import { checkOwnHeartbeat, largestHeartbeat } from '../../src/membership/own-heartbeat.js'
import { MAX_HEARTBEAT_BYTES, MAX_LABEL_KEY_CHARS, MAX_LABEL_VALUE_CHARS, MAX_LABELS } from '../../src/membership/core/constants.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { tempDir, testConfig } from '../node/helpers.js'

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
})
