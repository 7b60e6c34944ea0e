/**
 * MeshShape.copy() shares the role sets, pins, catalog and removed list with the shape it copies (issue 16:
 * apply copies the shape for every command): every command must leave the shape it was applied to exactly
 * as it was — same data, same voters — and give a next shape that holds its own change.
 */
import { describe, expect, it } from 'vitest'
import { cidOfBytes } from '../../../src/codec/index.js'
import { MeshShape, TARGET_PRESETS, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command } from '../../../src/consensus/shape/core/index.js'
import { buildShape } from './helpers.js'

const cid = cidOfBytes(new TextEncoder().encode('template')).toString()

/** Members a (all roles), b (etcd, pinned scheduler-free), c, d (quarantined), e removed; a catalog entry. */
const rich = (): MeshShape => buildShape([
  { kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }, { kind: 'add-member', nodeId: 'c' },
  { kind: 'add-member', nodeId: 'd' }, { kind: 'add-member', nodeId: 'e' }, { kind: 'remove-member', nodeId: 'e' },
  { kind: 'set-target', target: TARGET_PRESETS['ha-three'] },
  { kind: 'promote', nodeId: 'b', roles: ['etcd'], pin: true },
  { kind: 'demote', nodeId: 'b', roles: ['scheduler'], pin: true },
  { kind: 'quarantine', nodeId: 'd' },
  { kind: 'set-catalog', role: 'etcd', templates: [{ name: 'etcd.yaml', cid }] }
])

describe('MeshShape copy-on-write', () => {
  const commands: Command[] = [
    { kind: 'promote', nodeId: 'c', roles: ['etcd', 'scheduler'] },
    { kind: 'promote', nodeId: 'c', roles: ['scheduler'], pin: true },
    { kind: 'demote', nodeId: 'b', roles: ['etcd'] },
    { kind: 'demote', nodeId: 'a', roles: ['scheduler'], pin: true },
    { kind: 'unpin', nodeId: 'b' },
    { kind: 'quarantine', nodeId: 'b' },
    { kind: 'restore', nodeId: 'd' },
    { kind: 'rejoin', nodeId: 'b' },
    { kind: 'remove-member', nodeId: 'c' },
    { kind: 'add-member', nodeId: 'f' },
    { kind: 'set-catalog', role: 'etcd', templates: [] },
    { kind: 'set-catalog', role: 'scheduler', templates: [{ name: 'scheduler.yaml', cid }] },
    { kind: 'set-target', target: TARGET_PRESETS.homelab },
    { kind: 'set-protocol', level: 2 }
  ]

  it.each(commands.map((c) => [c.kind, c] as const))('should leave the shape a %s was applied to unchanged', (_kind, command) => {
    const shape = rich()
    const data = JSON.stringify(shape.toData())
    const voters = shape.voters()
    const next = transition(shape, command)
    expect(next.kind).toBe('applied')
    if (next.kind !== 'applied') return
    expect(JSON.stringify(shape.toData())).toBe(data)
    expect(shape.voters()).toEqual(voters)
    // The change is in the next shape, and its voters are its own etcd holders.
    expect(JSON.stringify(next.shape.toData())).not.toBe(data)
    expect(next.shape.voters()).toEqual(next.shape.holders('etcd'))
    expect(next.shape.invariantProblem()).toBeNull()
  })

  it('should give a next shape that two later commands change independently', () => {
    const shape = rich()
    const promoted = transition(shape, { kind: 'promote', nodeId: 'c', roles: ['etcd'] })
    const quarantined = transition(shape, { kind: 'quarantine', nodeId: 'c' })
    if (promoted.kind !== 'applied' || quarantined.kind !== 'applied') throw new Error('setup')
    expect(promoted.shape.rolesOf('c')).toEqual(['etcd'])
    expect(promoted.shape.voters()).toEqual(['a', 'b', 'c'])
    expect(quarantined.shape.rolesOf('c')).toEqual(['quarantined'])
    expect(quarantined.shape.voters()).toEqual(['a', 'b'])
    expect(shape.rolesOf('c')).toEqual(['worker'])
  })

  it('should name the members whose roles moved since an earlier shape, and only those', () => {
    const shape = rich()
    const after = (...commands: Command[]): MeshShape => {
      let next = shape
      for (const command of commands) {
        const t = transition(next, command)
        if (t.kind !== 'applied') throw new Error(`${command.kind}: ${t.message}`)
        next = t.shape
      }
      return next
    }
    expect(shape.movedSince(shape)).toEqual([])
    expect(after({ kind: 'promote', nodeId: 'c', roles: ['scheduler'] }).movedSince(shape)).toEqual(['c'])
    // Back where it was: the role sets differ as objects, not in content.
    expect(after({ kind: 'promote', nodeId: 'c', roles: ['scheduler'] }, { kind: 'demote', nodeId: 'c', roles: ['scheduler'] }).movedSince(shape)).toEqual([])
    expect(after({ kind: 'add-member', nodeId: 'f' }, { kind: 'quarantine', nodeId: 'b' }).movedSince(shape)).toEqual(['b', 'f'])
    expect(after({ kind: 'remove-member', nodeId: 'c' }).movedSince(shape)).toEqual(['c'])
    expect(after({ kind: 'unpin', nodeId: 'b' }).movedSince(shape)).toEqual([])
  })
})
