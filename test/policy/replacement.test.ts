/**
 * A lost voter's replacement in one command (issue 16): the gates join a dead holder's demotion and the
 * promotion of the same roles into `promote <new> replacing <dead>`, so the voters move out and in with ONE
 * joint configuration change instead of a demotion and then a promotion (four commits, each waiting on the
 * surviving voters). Only at protocol level 6 (`joinReplacement`), with the roles both name (etcd among them);
 * never a pinned promotion, a promotion without etcd, or a scale-down's demotion.
 */
import { describe, expect, it } from 'vitest'
import { MeshShape, TARGET_PRESETS, requiredConfChange, transition } from '../../src/consensus/shape/core/index.js'
import { applyGates, autoReplacement, parseDecisionRecord, toDecisionRecord, DAMPER_DEFAULTS, EMPTY_GATE_STATE } from '../../src/policy/core/index.js'
import type { Health, MemberInfo, Proposal } from '../../src/policy/core/index.js'

const member = (nodeId: string, health: Health = 'alive'): MemberInfo => ({
  nodeId, health, labels: { zone: 'a' }, capacity: { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30, storageBytes: 1e10, pods: 110 }, uptimeMs: 1000
})

const MASTER = ['api-server', 'etcd', 'scheduler', 'controller-manager'] as const

/** a, b, c hold every control-plane role (ha-three); d and e are workers. */
function haThree (): MeshShape {
  let shape = MeshShape.empty()
  const step = (command: Parameters<typeof transition>[1]): void => {
    const next = transition(shape, command)
    if (next.kind !== 'applied') throw new Error(`setup: ${next.message}`)
    shape = next.shape
  }
  step({ kind: 'bootstrap', nodeId: 'a' })
  for (const id of ['b', 'c', 'd', 'e']) step({ kind: 'add-member', nodeId: id })
  step({ kind: 'set-target', target: TARGET_PRESETS['ha-three'] })
  step({ kind: 'promote', nodeId: 'b', roles: ['api-server', 'etcd'], with: ['c'] })
  return shape
}

const ids = ['a', 'b', 'c', 'd', 'e']
const stable = new Map(ids.map((id) => [id, 0]))
const policy = autoReplacement({ stabilizationMs: 10_000 })

describe('a lost voter replaced in one command', () => {
  it('should join the dead voter\'s demotion and its replacement\'s promotion into one promote … replacing', () => {
    const shape = haThree()
    expect(shape.voters()).toEqual(['a', 'b', 'c'])
    const view = ids.map((id) => member(id, id === 'a' ? 'dead' : 'alive'))
    const { proposals } = policy.evaluate({ view, shape, nowMs: 1e6, aliveSinceMs: stable })
    const gated = applyGates({ proposals, shape, view, nowMs: 1e6, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS })
    expect(gated.passed.map((p) => p.command)).toEqual([{ kind: 'promote', nodeId: 'd', roles: [...MASTER], replacing: 'a' }])
    expect(gated.passed[0]).toMatchObject({ reason: 'replacing-failed', priority: 'quorum' })
    expect(gated.withheld.filter((w) => w.code === 'one-voter-change')).toEqual([])
    // One joint configuration change: the new voter in, the dead one out, and 3 voters after it.
    const command = gated.passed[0]!.command
    expect(requiredConfChange(shape, command)).toEqual({ steps: [{ type: 'add-voter', nodeId: 'd' }, { type: 'add-learner', nodeId: 'a' }], transition: 'auto', enterJoint: true })
    const next = transition(shape, command)
    expect(next.kind === 'applied' && next.shape.voters()).toEqual(['b', 'c', 'd'])
    expect(next.kind === 'applied' && MASTER.map((role) => next.shape.holds('a', role))).toEqual([false, false, false, false])
    // Its decision record, gossiped to every node, keeps the replaced node.
    const record = toDecisionRecord({ atMs: 1e6, trigger: 'membership', leader: true, proposals: gated.passed, withheld: [] }, { by: 'b', term: 2, seq: 1 })
    expect(parseDecisionRecord(JSON.parse(JSON.stringify(record)))?.proposals.map((p) => p.command)).toEqual([command])
    // Both nodes count for the gates: a proposal for either is in flight until it settles.
    const again = applyGates({ proposals, shape, view, nowMs: 1e6, state: { ...EMPTY_GATE_STATE, inFlight: new Set(['a', 'd']) }, damper: DAMPER_DEFAULTS })
    expect(again.passed).toEqual([])
  })

  it('should keep the two changes apart below protocol level 6, for a pinned promotion, and for other roles', () => {
    const shape = haThree()
    const view = ids.map((id) => member(id, id === 'a' ? 'dead' : 'alive'))
    const { proposals } = policy.evaluate({ view, shape, nowMs: 1e6, aliveSinceMs: stable })
    const kinds = (passed: Proposal[]): string[] => passed.map((p) => `${p.command.kind} ${'nodeId' in p.command ? p.command.nodeId : ''}`)
    const older = applyGates({ proposals, shape, view, nowMs: 1e6, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS, joinReplacement: false })
    expect(kinds(older.passed)).toEqual(['demote a'])
    expect(older.withheld.find((w) => w.nodeId === 'd')).toMatchObject({ code: 'one-voter-change' })
    const demote = proposals.find((p) => p.command.kind === 'demote')!
    const promotion = (command: Proposal['command']): Proposal => ({ policy: 't', command, reason: 'replacing-failed', why: '', priority: 'quorum' })
    const pinned = applyGates({ proposals: [demote, promotion({ kind: 'promote', nodeId: 'd', roles: [...MASTER], pin: true })], shape, view, nowMs: 1e6, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS })
    expect(kinds(pinned.passed)).toEqual(['demote a'])
    const noEtcd = applyGates({ proposals: [demote, promotion({ kind: 'promote', nodeId: 'd', roles: ['scheduler'] })], shape, view, nowMs: 1e6, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS })
    expect(kinds(noEtcd.passed)).toEqual(['demote a', 'promote d'])
  })

  it('should join a promotion of some of the dead voter\'s roles, etcd among them, and demote the rest in a later round', () => {
    const shape = haThree()
    const view = ids.map((id) => member(id, id === 'a' ? 'dead' : 'alive'))
    const { proposals } = policy.evaluate({ view, shape, nowMs: 1e6, aliveSinceMs: stable })
    const demote = proposals.find((p) => p.command.kind === 'demote')!
    const promotion: Proposal = { policy: 't', command: { kind: 'promote', nodeId: 'd', roles: ['etcd', 'scheduler', 'controller-manager'] }, reason: 'replacing-failed', why: '', priority: 'quorum' }
    const gated = applyGates({ proposals: [demote, promotion], shape, view, nowMs: 1e6, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS })
    // One voter move, without a 2-voter configuration on the way (the same sets were required: this split in two).
    expect(gated.passed.map((p) => p.command)).toEqual([{ kind: 'promote', nodeId: 'd', roles: ['etcd', 'scheduler', 'controller-manager'], replacing: 'a' }])
    expect(gated.withheld.filter((w) => w.code === 'one-voter-change')).toEqual([])
    const next = transition(shape, gated.passed[0]!.command)
    if (next.kind !== 'applied') throw new Error(next.message)
    expect(next.shape.voters()).toEqual(['b', 'c', 'd'])
    expect(next.shape.rolesOf('a')).toEqual(['api-server'])
    // The next round demotes what the dead node still holds, and that moves no voter.
    const later = policy.evaluate({ view, shape: next.shape, nowMs: 1e6 + 1, aliveSinceMs: stable })
    const regated = applyGates({ proposals: later.proposals, shape: next.shape, view, nowMs: 1e6 + 1, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS })
    expect(regated.passed.map((p) => p.command)).toContainEqual({ kind: 'demote', nodeId: 'a', roles: ['api-server'] })
  })
})
