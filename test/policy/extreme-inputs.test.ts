/**
 * The pure policies and gates given hostile or extreme snapshots (issue 5: bounded, pure): no members, one,
 * MAX_MEMBERS; every member suspect or dead; times that went back (a member alive since after "now") or sit at
 * the edge of the safe integers. Each evaluation must return (no throw that would stop the engine's tick) with
 * output bounded by the members: at most two commands per member per policy, at most one voter change passed.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MeshShape, TARGET_PRESETS, transition } from '../../src/consensus/shape/core/index.js'
import { MAX_MEMBERS } from '../../src/consensus/shape/core/constants.js'
import { applyGates, autoReplacement, formation, movesVoters, STRATEGIES, DAMPER_DEFAULTS, EMPTY_GATE_STATE } from '../../src/policy/core/index.js'
import type { Health, MemberInfo, Policy, PolicyInput } from '../../src/policy/core/index.js'

const member = (nodeId: string, health: Health): MemberInfo => ({
  nodeId, health, labels: { zone: `z${nodeId.length % 3}` }, capacity: { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30, storageBytes: 1e10, pods: 110 }, uptimeMs: 1000
})

/**
 * `n` members under ha-three: the first holds every control-plane role, the next four etcd (5 voters: two above
 * the target), the next two the scheduler, the rest nothing.
 */
function formed (n: number): MeshShape {
  const all = ['api-server', 'etcd', 'scheduler', 'controller-manager']
  const rolesOf = (i: number): string[] => i === 0 ? all : i < 5 ? ['etcd'] : i < 7 ? ['scheduler'] : []
  const members = Array.from({ length: n }, (_, i): [string, string[]] => [`n${String(i).padStart(4, '0')}`, rolesOf(i)])
  return MeshShape.fromData({ members, target: TARGET_PRESETS['ha-three'] })
}

const POLICIES: Policy[] = [autoReplacement(), ...STRATEGIES.map((strategy) => formation({ strategy }))]

/** Every policy, then the gates; asserts the bounds. */
function evaluateAll (input: PolicyInput): void {
  const members = input.shape.memberIds().length
  for (const policy of POLICIES) {
    const out = policy.evaluate(input)
    expect(out.proposals.length).toBeLessThanOrEqual(2 * members)
    const gated = applyGates({ proposals: out.proposals, shape: input.shape, view: input.view, nowMs: input.nowMs, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS })
    expect(gated.passed.filter((p) => movesVoters(p.command, input.shape)).length).toBeLessThanOrEqual(1)
    // Whatever is proposed is a command the shape can judge (applied or rejected, never a throw).
    for (const p of gated.passed) expect(['applied', 'rejected']).toContain(transition(input.shape as MeshShape, p.command).kind)
  }
}

describe('policies given extreme inputs', () => {
  it.each([0, 1, 2, MAX_MEMBERS])('should return bounded output for %i member(s) whether all alive, all suspect or all dead', (n) => {
    const shape = formed(n)
    for (const health of ['alive', 'suspect', 'dead'] as const) {
      const view = shape.memberIds().map((id) => member(id, health))
      evaluateAll({ view, shape, nowMs: 1e9, aliveSinceMs: new Map(view.map((m) => [m.nodeId, 0])), caughtUp: new Set(shape.memberIds()) })
    }
  })

  it('property: any mix of health, unknown members and times (alive since after now, the edge of the safe integers) neither throws nor exceeds the bounds', () => {
    const time = fc.oneof(fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: 1e7 }))
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.array(fc.record({
      health: fc.constantFrom<Health | 'unlisted'>('alive', 'suspect', 'dead', 'left', 'unlisted'), aliveSince: fc.option(time), flapped: fc.option(time), gained: fc.option(time)
    }), { minLength: 40, maxLength: 40 }), time, (n, traits, nowMs) => {
      const shape = formed(n)
      const ids = shape.memberIds()
      const at = (i: number): typeof traits[number] => traits[i % traits.length]!
      const view = ids.flatMap((id, i) => at(i).health === 'unlisted' ? [] : [member(id, at(i).health as Health)])
      // Members membership never heard of are in the view too (unlistedMembers adds them): here also made-up ones.
      view.push(member('stranger', 'alive'))
      const pick = (key: 'aliveSince' | 'flapped' | 'gained'): Array<[string, number]> => ids.flatMap((id, i) => { const t = at(i)[key]; return t === null ? [] : [[id, t]] })
      evaluateAll({
        view, shape, nowMs, aliveSinceMs: new Map(pick('aliveSince')), flappedAtMs: new Map(pick('flapped')),
        gainedAtMs: new Map(pick('gained').map(([id, t]) => [`${id} etcd`, t])), leaderId: ids[0] ?? 'nobody', caughtUp: new Set(ids.filter((_, i) => i % 2 === 0))
      })
    }), { numRuns: 200 })
  })
})
