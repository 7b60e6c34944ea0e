/**
 * A member whose dials are refused (issue 16): after a kill -9 the survivors' redial loops get ECONNREFUSED
 * from the dead process's port within a second (nothing listens there), while phi waits out the spread of a
 * loaded machine's heartbeat arrivals — at 50 nodes on 2 cores the new leader suspected the killed leader only
 * after 3–12 s of silence (σ up to 1.2 s; docs/bench/scale.md). A refusal while every connection is closed lets
 * a member be suspect once silent for its mean interval; death still waits the confirmation time. Guards:
 * nothing else counts as a refusal (a timeout, an abort, a failed handshake, one address of several), a
 * refusal while a connection is open is ignored, and a heartbeat or a new connection ends it — a frozen or
 * starved process still accepts TCP, so it is judged by phi as before.
 */
import { describe, expect, it } from 'vitest'
import { MemberTable } from '../../src/membership/core/index.js'
import type { NodeState } from '../../src/membership/core/index.js'
import { refusedEverywhere } from '../../src/net/dial-errors.js'

const state = (nodeId: string, seq: number): NodeState => ({
  nodeId, clusterId: 'c1', addresses: ['/ip4/127.0.0.1/tcp/1'], roles: ['worker'],
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: {},
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq, leaving: false
})

/** a beats every 500 ms until 5000 ms; returns when this table first suspects it (ticks every 100 ms up to 30 s). */
function suspectAt (prepare: (t: MemberTable) => void, after?: (t: MemberTable, ms: number) => void): number | undefined {
  const t = new MemberTable({ self: state('self', 1) })
  for (let ms = 0; ms <= 5000; ms += 500) t.heartbeat(state('a', ms + 1), ms)
  prepare(t)
  for (let ms = 5100; ms <= 30_000; ms += 100) {
    after?.(t, ms)
    const suspect = t.tick(ms).find((e) => e.kind === 'suspect')
    if (suspect !== undefined) return suspect.atMs
  }
  return undefined
}

describe('a member whose dials are refused', () => {
  it('should be suspect once silent for its mean interval, where the connection-close hint alone waits for phi', () => {
    const refused = suspectAt((t) => { t.connectionClosed('a'); t.dialRefused('a') })
    const closed = suspectAt((t) => { t.connectionClosed('a') })
    // Mean interval 500 ms (the window's seeds and ten beats of 500): suspect at 5500, not at phi's ≈ 7 s.
    expect(refused).toBe(5500)
    expect(closed).toBeGreaterThan(6000)
  })

  it('should ignore a refusal while a connection is open, and end it on a heartbeat or a new connection', () => {
    const plain = suspectAt(() => {})
    // Connected (no close seen): a refused dial to a stale address says nothing, then or after its connection closes.
    expect(suspectAt((t) => { t.dialRefused('a') })).toBe(plain)
    expect(suspectAt((t) => { t.dialRefused('a'); t.connectionClosed('a') })).toBe(suspectAt((t) => { t.connectionClosed('a') }))
    // Heard again, then silent: judged by phi as before.
    expect(suspectAt((t) => { t.connectionClosed('a'); t.dialRefused('a') }, (t, ms) => { if (ms === 5200) { t.heartbeat(state('a', 9000), ms); t.connectionClosed('a') } }))
      .toBeGreaterThan(6500)
    // Connected again (a restarted process listening again), then its connection closes: phi again.
    expect(suspectAt((t) => { t.connectionClosed('a'); t.dialRefused('a') }, (t, ms) => { if (ms === 5200) { t.connectionOpened('a', ms); t.connectionClosed('a') } }))
      .toBe(suspectAt((t) => { t.connectionClosed('a') }))
  })

  it('should call only ECONNREFUSED on every address a refusal', () => {
    const refused = Object.assign(new Error('connection error 127.0.0.1:43449: connect ECONNREFUSED 127.0.0.1:43449'), { name: 'ConnectionFailedError' })
    expect(refusedEverywhere(refused)).toBe(true)
    expect(refusedEverywhere(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true)
    expect(refusedEverywhere(new Error('dial failed', { cause: refused }))).toBe(true)
    expect(refusedEverywhere(new AggregateError([refused, refused], 'all addresses failed'))).toBe(true)
    // One address refused, another timed out (the process may listen there): not a refusal.
    expect(refusedEverywhere(new AggregateError([refused, Object.assign(new Error('timed out'), { name: 'TimeoutError' })]))).toBe(false)
    for (const other of [Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }), Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:4001'), { code: 'ETIMEDOUT' }),
      Object.assign(new Error('connect EHOSTUNREACH 10.0.0.1:4001'), { code: 'EHOSTUNREACH' }), Object.assign(new Error('handshake failed'), { name: 'EncryptionFailedError' }),
      new AggregateError([]), null, 'ECONNREFUSED']) {
      expect(refusedEverywhere(other)).toBe(false)
    }
  })
})
