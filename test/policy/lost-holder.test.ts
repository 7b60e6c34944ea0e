/**
 * The policy engine evaluates at once, without its debounce, when membership declares a holder of a
 * control-plane role dead or gone (src/policy/engine.ts `lostHolder`): a lost voter's replacement starts
 * from the verdict, not a debounce later. Any other event (a join, a suspicion, a lost worker) is debounced.
 */
import { describe, expect, it } from 'vitest'
import { lostHolder } from '../../src/policy/engine.js'
import { MeshShape } from '../../src/consensus/shape/core/index.js'
import type { MembershipEvent } from '../../src/membership/core/index.js'

const SHAPE = MeshShape.fromData({
  members: [['voter', ['api-server', 'etcd']], ['scheduler', ['scheduler']], ['worker', []]],
  target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 0, minWorkers: 0 }
})
const event = (kind: MembershipEvent['kind'], nodeId: string): MembershipEvent => ({ kind, nodeId, atMs: 0, generation: 1 })

describe('lostHolder', () => {
  it('should be true for a role holder declared dead or left, and false otherwise', () => {
    expect(lostHolder([event('dead', 'voter')], SHAPE)).toBe(true)
    expect(lostHolder([event('joined', 'x'), event('left', 'scheduler')], SHAPE)).toBe(true)
    expect(lostHolder([event('suspect', 'voter'), event('recovered', 'scheduler')], SHAPE)).toBe(false)
    expect(lostHolder([event('dead', 'worker'), event('dead', 'unknown')], SHAPE)).toBe(false)
  })
})
