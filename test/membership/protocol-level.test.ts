/**
 * The protocol level in the heartbeat (rolling upgrades, docs/MEMBERSHIP.md): typed and bounded. Absent (a
 * node from before the gate) reads as level 1; a level that is not an integer 1..MAX_PROTOCOL_LEVEL makes
 * the heartbeat malformed (rejected, penalized) rather than trusted.
 */
import { describe, expect, it } from 'vitest'
import { judgeHeartbeat, parseNodeState, MembershipConstants } from '../../src/membership/core/index.js'
import { encodeCanonical } from '../../src/codec/index.js'

const heartbeat = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  nodeId: 'a', clusterId: 'c1', addresses: ['/ip4/127.0.0.1/tcp/1'], roles: ['worker'],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: { zone: 'a' },
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq: 1, leaving: false, ...extra
})
const judge = (decoded: unknown): ReturnType<typeof judgeHeartbeat> =>
  judgeHeartbeat({ decoded, sender: 'a', self: 'self', clusterId: 'c1', lastSeen: undefined })

describe('heartbeat protocol level', () => {
  it('should read an absent level (a node from before the gate) as level 1', () => {
    expect(parseNodeState(heartbeat())?.protocol).toBe(1)
    expect(judge(heartbeat())).toMatchObject({ ok: true, state: { protocol: 1 } })
  })

  it('should carry a level from 1 to MAX_PROTOCOL_LEVEL as advertised', () => {
    for (const protocol of [1, 4, 5, MembershipConstants.MAX_PROTOCOL_LEVEL]) {
      expect(judge(heartbeat({ protocol }))).toMatchObject({ ok: true, state: { protocol } })
    }
  })

  it('should reject a heartbeat whose level is not an integer in range as malformed', () => {
    for (const protocol of [0, -1, 2.5, '4', null, true, [4], { level: 4 }, MembershipConstants.MAX_PROTOCOL_LEVEL + 1, 2 ** 53, Number.NaN]) {
      expect(judge(heartbeat({ protocol }))).toEqual({ ok: false, reason: 'malformed', reject: true })
    }
  })

  it('should keep a heartbeat with a level within the size bound (the level adds a few bytes)', () => {
    expect(encodeCanonical(heartbeat({ protocol: MembershipConstants.MAX_PROTOCOL_LEVEL })).length).toBeLessThan(MembershipConstants.MAX_HEARTBEAT_BYTES)
  })
})
