/**
 * The backoff after a rejection at apply, pure (src/policy/core/rejections.ts): which (command kind, node) pairs a
 * command backs off, the waits, and the gate that holds each proposal of a pair while its wait lasts — the parts of
 * a joined command included, since the gates join them again. The engine's use of it, on a fake clock:
 * test/policy/engine.test.ts "a proposal the state machine rejects at apply".
 */
import { describe, expect, it } from 'vitest'
import { MeshShape, TARGET_PRESETS } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'
import {
  applyGates, DAMPER_DEFAULTS, EMPTY_GATE_STATE, prunedRejections, rejectionDelayMs, rejectionInputs, rejectionKeys, withRejection, withoutRejection,
  REJECTED_RETRY_MS_MAX, REJECTED_RETRY_MS_MIN
} from '../../src/policy/core/index.js'
import type { MemberInfo, Proposal } from '../../src/policy/core/index.js'

const MASTER = ['api-server', 'etcd', 'scheduler', 'controller-manager'] as const
const shape = MeshShape.fromData({ members: [['L', [...MASTER]], ['b', ['etcd']], ['c', ['etcd']], ['d', []]], target: TARGET_PRESETS['ha-three'], protocol: 7 })
const info = (nodeId: string, health: MemberInfo['health'] = 'alive'): MemberInfo => ({
  nodeId, health, labels: {}, capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30, storageBytes: 2 ** 30, pods: 10 }, uptimeMs: 1000
})
const view = [info('L'), info('b'), info('c', 'dead'), info('d')]
const inputs = (command: Command): Map<string, string> => new Map(rejectionKeys(command).map(({ key, nodeId }) => [key, rejectionInputs(nodeId, { shape, view })]))

describe('rejection backoff', () => {
  it('should back off each node a command changes, a replaced node as its demotion', () => {
    expect(rejectionKeys({ kind: 'promote', nodeId: 'a', roles: ['etcd'], with: ['b'] }).map((k) => k.key)).toEqual(['promote a', 'promote b'])
    expect(rejectionKeys({ kind: 'promote', nodeId: 'd', roles: ['etcd'], replacing: 'c' }).map((k) => k.key)).toEqual(['promote d', 'demote c'])
    expect(rejectionKeys({ kind: 'quarantine', nodeId: 'd' }).map((k) => k.key)).toEqual(['quarantine d'])
    expect(rejectionKeys({ kind: 'set-target', target: TARGET_PRESETS['ha-three'] } as Command)).toEqual([])
  })

  it('should wait 250 ms, doubling, at most 30 s, for any count', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 1_000, Number.MAX_SAFE_INTEGER].map(rejectionDelayMs))
      .toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000])
    expect([REJECTED_RETRY_MS_MIN, REJECTED_RETRY_MS_MAX]).toEqual([250, 30_000])
  })

  it('should hold both parts of a rejected replacement until its wait ends, and forget the replaced node\'s wait once its health changes', () => {
    const replacement: Command = { kind: 'promote', nodeId: 'd', roles: ['etcd'], replacing: 'c' }
    const second = withRejection(withRejection(new Map(), { command: replacement, inputs: inputs(replacement), code: 'role-not-held', nowMs: 0 }),
      { command: replacement, inputs: inputs(replacement), code: 'role-not-held', nowMs: 1_000 })
    expect([...second.values()].map((r) => [r.count, r.retryAtMs])).toEqual([[2, 1_500], [2, 1_500]])
    const parts: Proposal[] = [
      { policy: 'p', command: { kind: 'demote', nodeId: 'c', roles: ['etcd'] }, reason: 'replacing-failed', why: 'c died', priority: 'quorum' },
      { policy: 'p', command: { kind: 'promote', nodeId: 'd', roles: ['etcd'] }, reason: 'replacing-failed', why: 'etcd 2/3', priority: 'quorum' }
    ]
    const gate = (nowMs: number, rejections: typeof second): ReturnType<typeof applyGates> =>
      applyGates({ proposals: parts, shape, view, nowMs, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS, rejections })
    expect(gate(1_499, second).withheld.map((w) => [w.code, w.nodeId, w.retryAtMs])).toEqual([['rejected', 'c', 1_500], ['rejected', 'd', 1_500]])
    expect(gate(1_500, second).passed.map((p) => p.command)).toEqual([replacement])
    // c's health changes (no longer dead): its inputs changed, and so did nothing of d's.
    const pruned = prunedRejections(second, { shape, view: view.map((m) => m.nodeId === 'c' ? info('c', 'left') : m) })
    expect([...pruned.keys()]).toEqual(['promote d'])
    expect([...withoutRejection(second, replacement).keys()]).toEqual([])
  })
})
