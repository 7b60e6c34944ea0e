/**
 * Operator intent (issue 12 items 2 and 3), on the pure policy:
 * - a promote beyond the target is a conflict whose message gives the counts and what the policy would do;
 *   a change that agrees with the target (a swap back to the target) is not;
 * - pinned assignments are scaled around and never undone; a dead pinned holder still loses the role;
 * - a scale-down demotes the holder the ranking likes least, never the one just promoted, and on equal
 *   merit not the leader.
 */
import { describe, expect, it } from 'vitest'
import { MeshShape, TARGET_PRESETS, transition } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'
import { autoReplacement, intentConflict } from '../../src/policy/core/index.js'
import type { Health, MemberInfo, PolicyInput } from '../../src/policy/core/index.js'

const member = (nodeId: string, health: Health = 'alive', cpuMillis = 2000): MemberInfo => ({
  nodeId, health, labels: { zone: 'a' }, capacity: { cpuMillis, memoryBytes: 4 * 2 ** 30, storageBytes: 1e10, pods: 110 }, uptimeMs: 1000
})

function apply (shape: MeshShape, ...commands: Command[]): MeshShape {
  for (const command of commands) {
    const r = transition(shape, command)
    if (r.kind !== 'applied') throw new Error(`${command.kind}: ${r.message}`)
    shape = r.shape
  }
  return shape
}

/** n0..n4; n0, n1, n2 hold api-server and etcd; n0 also scheduler and controller-manager (ha-three at target). */
function haThree (): MeshShape {
  const ids = ['n0', 'n1', 'n2', 'n3', 'n4']
  return apply(MeshShape.empty(), { kind: 'bootstrap', nodeId: 'n0' }, ...ids.slice(1).map((nodeId): Command => ({ kind: 'add-member', nodeId })),
    { kind: 'set-target', target: TARGET_PRESETS['ha-three'] },
    { kind: 'promote', nodeId: 'n1', roles: ['api-server', 'etcd'] }, { kind: 'promote', nodeId: 'n2', roles: ['api-server', 'etcd'] })
}

const policy = autoReplacement({ stabilizationMs: 0 })
const ids = ['n0', 'n1', 'n2', 'n3', 'n4']
const input = (shape: MeshShape, extra: Partial<PolicyInput> = {}): PolicyInput & { shape: MeshShape } => ({
  view: ids.map((id) => member(id)), nowMs: 1e6, aliveSinceMs: new Map(ids.map((id) => [id, 0])), ...extra, shape
})

describe('operator intent', () => {
  it('should call a promote beyond the target a conflict and say what the policy would do', () => {
    const shape = haThree()
    const conflict = intentConflict({ ...input(shape), command: { kind: 'promote', nodeId: 'n3', roles: ['etcd'] }, policies: [policy], leaderId: 'n0' })
    expect(conflict).not.toBeNull()
    // n0 holds four roles: the ranking likes it least (merit beats the leader tiebreak); never n3, just promoted.
    expect(conflict!.message).toMatch(/^etcd would be 4\/3; the policy would demote n0 etcd — pin the change \(--pin\)/)
    expect(conflict!.wouldHappen.map((p) => p.command)).not.toContainEqual(expect.objectContaining({ nodeId: 'n3' }))
    const down = intentConflict({ ...input(shape), command: { kind: 'demote', nodeId: 'n1', roles: ['etcd'] }, policies: [policy] })
    expect(down!.message).toMatch(/^etcd would be 2\/3; the policy would promote n[34] /)
    // Promoting a scheduler after demoting the current one is what the target wants: no conflict.
    const fewer = apply(shape, { kind: 'demote', nodeId: 'n0', roles: ['scheduler'] })
    expect(intentConflict({ ...input(fewer), command: { kind: 'promote', nodeId: 'n4', roles: ['scheduler'] }, policies: [policy] })).toBeNull()
  })

  it('should scale around a pinned promote and never undo it, and keep a pinned demote', () => {
    const pinned = apply(haThree(), { kind: 'promote', nodeId: 'n3', roles: ['etcd'], pin: true })
    const out = policy.evaluate(input(pinned, { leaderId: 'n0' }))
    const demoted = out.proposals.filter((p) => p.command.kind === 'demote').map((p) => p.command)
    expect(demoted).toHaveLength(1)
    expect(demoted[0]).toMatchObject({ nodeId: 'n0', roles: ['etcd'] })
    // Even long after the pin (no "just promoted" protection left) the pinned node stays.
    const later = policy.evaluate(input(pinned, { nowMs: 1e9, gainedAtMs: new Map() }))
    expect(later.proposals.map((p) => p.command)).not.toContainEqual(expect.objectContaining({ kind: 'demote', nodeId: 'n3' }))
    // Pinned away from etcd: n1's etcd is replaced by someone else, never given back to n1.
    const away = apply(haThree(), { kind: 'demote', nodeId: 'n1', roles: ['etcd'], pin: true })
    const refill = policy.evaluate(input(away))
    expect(refill.proposals.map((p) => p.command)).toContainEqual(expect.objectContaining({ kind: 'promote', roles: expect.arrayContaining(['etcd']) }))
    expect(refill.proposals.map((p) => p.command)).not.toContainEqual(expect.objectContaining({ kind: 'promote', nodeId: 'n1' }))
  })

  it('should withhold a scale-down whose only candidates are pinned, naming the gate', () => {
    const shape = apply(haThree(), ...['n0', 'n1', 'n2'].map((nodeId): Command => ({ kind: 'promote', nodeId, roles: ['etcd'], pin: true })),
      { kind: 'promote', nodeId: 'n3', roles: ['etcd'], pin: true })
    const out = policy.evaluate(input(shape))
    expect(out.proposals.filter((p) => p.command.kind === 'demote')).toEqual([])
    expect(out.withheld).toContainEqual(expect.objectContaining({ code: 'pinned', retryOn: 'operator', what: 'demote 1 etcd' }))
  })

  it('should withhold a scale-down whose only unprotected holder membership does not know as unknown-holder, not pinned', () => {
    // etcd 4/3: n1, n2 and n3 pinned, n0 unpinned but missing from the membership view (not heard of yet, or
    // forgotten). Nothing can be ranked for the demotion, and no pin is the reason: the operator has nothing to
    // unpin; a membership change that brings n0 back is what lets it pass.
    const shape = apply(haThree(), ...['n1', 'n2', 'n3'].map((nodeId): Command => ({ kind: 'promote', nodeId, roles: ['etcd'], pin: true })))
    const view = ids.filter((id) => id !== 'n0').map((id) => member(id))
    const out = policy.evaluate(input(shape, { view }))
    expect(out.proposals.filter((p) => p.command.kind === 'demote')).toEqual([])
    const scaleDown = out.withheld.filter((w) => w.what === 'demote 1 etcd')
    expect(scaleDown).toEqual([expect.objectContaining({ code: 'unknown-holder', nodeId: 'n0', retryOn: 'membership' })])
    expect(scaleDown[0]!.why).toMatch(/1 holder\(s\) not in the membership view/)
    // Once membership knows n0 it is the one demoted.
    const known = policy.evaluate(input(shape))
    expect(known.proposals.map((p) => p.command)).toContainEqual({ kind: 'demote', nodeId: 'n0', roles: ['etcd'] })
  })

  it('should drop the pin of a dead pinned holder with its role (a pin never keeps a dead node in a role)', () => {
    const shape = apply(haThree(), { kind: 'promote', nodeId: 'n1', roles: ['etcd'], pin: true })
    const out = policy.evaluate(input(shape, { view: ids.map((id) => member(id, id === 'n1' ? 'dead' : 'alive')) }))
    const demote = out.proposals.find((p) => p.command.kind === 'demote')
    // 2 of 3 voters left: the demotion is part of restoring quorum margin, the most urgent priority.
    expect(demote).toMatchObject({ command: { nodeId: 'n1', roles: ['api-server', 'etcd'] }, priority: 'quorum' })
    expect(demote!.why).toMatch(/pin is dropped/)
    expect(apply(shape, demote!.command).pins()).toEqual([])
  })
})

describe('scale-down choice', () => {
  it('should demote the least-liked holder, never the one just promoted, and on equal merit not the leader', () => {
    // n3 just gained etcd (4/3). n1 and n2 are equal in every ranking key; n0 holds more roles.
    const shape = apply(haThree(), { kind: 'promote', nodeId: 'n3', roles: ['etcd'] })
    const gainedAtMs = new Map([['n3 etcd', 1e6 - 1_000]])
    const pick = (extra: Partial<PolicyInput>): string[] => policy.evaluate(input(shape, { gainedAtMs, ...extra })).proposals
      .filter((p) => p.command.kind === 'demote').map((p) => ('nodeId' in p.command ? p.command.nodeId : ''))
    // The least liked: n0 holds 4 roles (more co-location), so it goes although it leads: merit first.
    expect(pick({ leaderId: 'n1' })).toEqual(['n0'])
    // Equal merit: move n0's extra roles to n4 and give n0 more capacity, so n1 and n2 tie; the leader stays.
    const view = ids.map((id) => member(id, 'alive', id === 'n0' ? 64_000 : 2000))
    const strongN0 = apply(shape, { kind: 'demote', nodeId: 'n0', roles: ['scheduler', 'controller-manager'] },
      { kind: 'promote', nodeId: 'n4', roles: ['scheduler', 'controller-manager'] })
    const tie = (leaderId: string): string[] => policy.evaluate({ ...input(strongN0, { gainedAtMs, leaderId }), view }).proposals
      .filter((p) => p.command.kind === 'demote').map((p) => ('nodeId' in p.command ? p.command.nodeId : ''))
    expect(tie('n1')).toEqual(['n2'])
    expect(tie('n2')).toEqual(['n1'])
    // The just-promoted node is protected even when it is the least liked (as loaded as n1 and n2, and a
    // weak machine)…
    const weakN3 = ids.map((id) => member(id, 'alive', id === 'n3' ? 100 : id === 'n0' ? 64_000 : 2000))
    const loadedN3 = apply(strongN0, { kind: 'promote', nodeId: 'n3', roles: ['api-server'] })
    const marks = new Map([...gainedAtMs, ['n3 api-server', 1e6 - 1_000]])
    const withMark = policy.evaluate({ ...input(loadedN3, { gainedAtMs: marks, leaderId: 'n0' }), view: weakN3 }).proposals
    expect(withMark.filter((p) => p.command.kind === 'demote')).toHaveLength(1)
    expect(withMark.map((p) => p.command)).not.toContainEqual(expect.objectContaining({ kind: 'demote', nodeId: 'n3' }))
    // …and only that mark protects it: a minute later the ranking's least liked goes.
    const minuteLater = policy.evaluate({ ...input(loadedN3, { gainedAtMs: marks, leaderId: 'n0', nowMs: 1e6 + 60_000 }), view: weakN3 }).proposals
    expect(minuteLater.map((p) => p.command)).toContainEqual(expect.objectContaining({ kind: 'demote', nodeId: 'n3' }))
  })

  it('should demote an older recent gain, never the newest, when every holder gained the role recently', () => {
    // A young homelab cluster: n0 got etcd at bootstrap 20 s ago, the operator promotes n1 now (etcd 2/1).
    const shape = apply(MeshShape.empty(), { kind: 'bootstrap', nodeId: 'n0' }, { kind: 'add-member', nodeId: 'n1' },
      { kind: 'promote', nodeId: 'n1', roles: ['etcd'] })
    const gainedAtMs = new Map([['n0 etcd', 1e6 - 20_000], ['n1 etcd', 1e6]])
    const two = ['n0', 'n1']
    const out = policy.evaluate({ view: two.map((id) => member(id)), shape, nowMs: 1e6, aliveSinceMs: new Map(two.map((id) => [id, 0])), gainedAtMs, leaderId: 'n0' })
    expect(out.proposals.map((p) => p.command)).toEqual([{ kind: 'demote', nodeId: 'n0', roles: ['etcd'] }])
  })
})
