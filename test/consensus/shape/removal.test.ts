/**
 * Removal tombstones and target safety in the pure shape core (issue 11 items 4, 5): a removed NodeId is
 * remembered, never re-added, survives a snapshot, and a shape without removals keeps its old encoding (CID);
 * risky targets are named; the leave hand-off picks live successors.
 */
import { describe, expect, it } from 'vitest'
import { MeshShape, TARGET_PRESETS, faultTolerance, mergeTarget, targetConcerns, transition } from '../../../src/consensus/shape/core/index.js'
import type { MeshShape as Shape } from '../../../src/consensus/shape/core/index.js'
import { cidOfValue } from '../../../src/codec/index.js'
import { handOffPlan } from '../../../src/consensus/consensus-service.js'

function applied (shape: Shape, command: Parameters<typeof transition>[1]): Shape {
  const t = transition(shape, command)
  if (t.kind !== 'applied') throw new Error(`${command.kind} rejected: ${t.code}`)
  return t.shape
}

function threeMembers (): Shape {
  let s = applied(MeshShape.empty(), { kind: 'bootstrap', nodeId: 'a' })
  s = applied(s, { kind: 'add-member', nodeId: 'b' })
  return applied(s, { kind: 'add-member', nodeId: 'c' })
}

describe('removed members', () => {
  it('should remember a removed node, refuse to re-add it, and keep that through a snapshot', () => {
    const before = threeMembers()
    const after = applied(before, { kind: 'remove-member', nodeId: 'c' })
    expect(after.has('c')).toBe(false)
    expect(after.wasRemoved('c')).toBe(true)
    const again = transition(after, { kind: 'add-member', nodeId: 'c' })
    expect(again).toMatchObject({ kind: 'rejected', code: 'removed-member' })
    const restored = MeshShape.fromData(after.toData())
    expect(restored.wasRemoved('c')).toBe(true)
    expect(cidOfValue(restored.toData()).toString()).toBe(cidOfValue(after.toData()).toString())
  })

  it('should encode a shape without removals exactly as before (no removed key)', () => {
    const data = threeMembers().toData()
    expect(Object.keys(data).sort()).toEqual(['members', 'target'])
  })

  it('should refuse shape data whose removed list names a member', () => {
    const data = { ...threeMembers().toData(), removed: ['b'] }
    expect(() => MeshShape.fromData(data)).toThrow(/removed/)
  })
})

describe('target safety', () => {
  it('should compute the fault tolerance of n voters', () => {
    expect([0, 1, 2, 3, 4, 5, 7].map(faultTolerance)).toEqual([0, 0, 0, 1, 1, 2, 3])
  })

  it('should name an even etcd count and a scale-down below the live voters\' tolerance, and nothing else', () => {
    expect(targetConcerns({ ...TARGET_PRESETS['ha-three'], etcd: 2 }, 1)).toEqual([expect.stringContaining('etcd 2 is even')])
    expect(targetConcerns(TARGET_PRESETS.homelab, 3)).toEqual([expect.stringContaining('the 3 live voters tolerate 1 now')])
    expect(targetConcerns(TARGET_PRESETS['ha-three'], 5)).toHaveLength(1)
    expect(targetConcerns(TARGET_PRESETS['ha-three'], 3)).toEqual([])
    expect(targetConcerns(TARGET_PRESETS['ha-three'], 1)).toEqual([])
    expect(targetConcerns({ ...TARGET_PRESETS['ha-three'], etcd: 5 }, 4)).toEqual([])
  })

  it('should merge given counts over the current target', () => {
    expect(mergeTarget(TARGET_PRESETS.homelab, { etcd: 3, schedulers: undefined })).toEqual({ ...TARGET_PRESETS.homelab, etcd: 3 })
  })
})

describe('leave hand-off', () => {
  it('should hand each control-plane role to the first live member lacking it, skipping dead and quarantined ones', () => {
    let s = threeMembers()
    s = applied(s, { kind: 'add-member', nodeId: 'd' })
    s = applied(s, { kind: 'quarantine', nodeId: 'b' })
    // a holds every role; b is quarantined, c is dead: d takes them all.
    expect(handOffPlan(s, 'a', new Set(['a', 'b', 'd']))).toEqual([['d', ['api-server', 'etcd', 'scheduler', 'controller-manager']]])
    // Nobody alive: nothing to hand off (the policy engine fills the gap later).
    expect(handOffPlan(s, 'a', new Set(['a']))).toEqual([])
    // A worker leaving hands off nothing.
    expect(handOffPlan(s, 'd', new Set(['a', 'b', 'c', 'd']))).toEqual([])
  })
})
