/**
 * Goal: beyond HEARTBEAT_FULL_RATE_MEMBERS the heartbeat period grows with the member count, so the
 * cluster-wide heartbeat rate stays bounded (issue 16), and the growth never makes a live member suspect:
 * a sender that lengthens its period in one step to the ceiling is still heard within the acceptable pause
 * of a receiver whose window holds only base-period samples.
 */
import { describe, expect, it } from 'vitest'
import { heartbeatIntervalMs, MemberTable, MembershipConstants as C, PhiAccrualDetector } from '../../src/membership/core/index.js'
import type { NodeState } from '../../src/membership/core/index.js'

const BASE = C.HEARTBEAT_INTERVAL_MS_DEFAULT
const PAUSE = C.ACCEPTABLE_PAUSE_MS_DEFAULT

const state = (nodeId: string, seq = 1): NodeState => ({
  nodeId, clusterId: 'c1', addresses: ['/ip4/127.0.0.1/tcp/1'], roles: ['worker'],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: {},
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq, leaving: false
})

describe('heartbeat interval', () => {
  it('should keep the base period up to the full-rate member count, then bound the cluster-wide rate', () => {
    for (const n of [1, 3, 10, C.HEARTBEAT_FULL_RATE_MEMBERS]) expect(heartbeatIntervalMs(BASE, n, PAUSE)).toBe(BASE)
    const fullRate = C.HEARTBEAT_FULL_RATE_MEMBERS / BASE // heartbeats per ms, cluster-wide
    for (const n of [20, 25, 40]) {
      const interval = heartbeatIntervalMs(BASE, n, PAUSE)
      expect(interval).toBeGreaterThan(BASE)
      expect(n / interval).toBeCloseTo(fullRate, 3)
    }
    // The ceiling: base + acceptable pause, whatever the size.
    expect(heartbeatIntervalMs(BASE, 50, PAUSE)).toBe(BASE + PAUSE)
    expect(heartbeatIntervalMs(BASE, 1000, PAUSE)).toBe(BASE + PAUSE)
    expect(heartbeatIntervalMs(200, 1000, PAUSE)).toBe(1200)
  })

  it('should not suspect a sender that jumps from the base period to the ceiling at once', () => {
    const detector = new PhiAccrualDetector({ windowSize: C.PHI_WINDOW_SIZE, minStdDeviationMs: C.MIN_STD_DEVIATION_MS_DEFAULT, acceptablePauseMs: PAUSE, firstHeartbeatEstimateMs: BASE })
    let t = 0
    for (let i = 0; i < C.PHI_WINDOW_SIZE; i++) detector.heartbeat(t += BASE)
    const ceiling = heartbeatIntervalMs(BASE, 1000, PAUSE)
    for (let i = 0; i < 3 * C.PHI_WINDOW_SIZE; i++) {
      // Just before the next beat is due, phi is far below the threshold: from the first long gap on.
      expect(detector.phi(t + ceiling - 1)).toBeLessThan(1)
      detector.heartbeat(t += ceiling)
    }
    // Silence is still detected, later: the window has adapted to the ceiling.
    expect(detector.phi(t + ceiling + PAUSE + 6 * C.MIN_STD_DEVIATION_MS_DEFAULT)).toBeGreaterThan(C.PHI_THRESHOLD_DEFAULT)
  })

  it('should count live members and seed members heard of later with the period in force', () => {
    const table = new MemberTable({ self: state('self') })
    expect(table.liveCount()).toBe(1)
    table.heartbeat(state('a'), 0)
    table.heartbeat(state('b'), 0)
    expect(table.liveCount()).toBe(3)
    // b falls silent: suspect still counts, dead does not.
    for (let ms = BASE; ms <= 10 * BASE; ms += BASE) table.heartbeat(state('a', ms), ms)
    table.tick(10 * BASE)
    expect(table.view(10 * BASE).members.find((m) => m.nodeId === 'b')?.health).toBe('suspect')
    expect(table.liveCount()).toBe(3)
    table.tick(10 * BASE + C.DEAD_AFTER_SUSPECT_MS_DEFAULT)
    expect(table.liveCount()).toBe(2)
    // A member first heard while the period is 1.5 s is not suspected while its next beat may still come
    // within the acceptable pause (seeded with the base period it would be, 1 s earlier).
    table.setHeartbeatIntervalMs(BASE + PAUSE)
    table.heartbeat(state('c'), 20_000)
    expect(table.tick(20_000 + BASE + PAUSE + PAUSE - 1).filter((e) => e.nodeId === 'c')).toEqual([])
  })
})
