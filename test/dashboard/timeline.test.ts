/**
 * The dashboard timeline's role diff: what the page says when the committed shape moves.
 */
import { describe, expect, it } from 'vitest'
import { diffRoles, Timeline } from '../../src/dashboard/index.js'
import { TIMELINE_ENTRIES_MAX } from '../../src/dashboard/constants.js'
import { rolesOfMembers } from '../../src/dashboard/model.js'
import { MeshShape, transition } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'

describe('diffRoles', () => {
  it('should name every role gained and lost, and members entering or leaving the shape', () => {
    const before = { a: ['api-server', 'etcd'], b: ['worker'], gone: ['worker'] }
    const after = { a: ['worker'], b: ['api-server', 'etcd'], fresh: ['worker'] }
    expect(diffRoles(before, after)).toEqual([
      { nodeId: 'a', text: 'gained worker' },
      { nodeId: 'a', text: 'lost api-server, etcd' },
      { nodeId: 'b', text: 'gained api-server, etcd' },
      { nodeId: 'b', text: 'lost worker' },
      { nodeId: 'fresh', text: 'joined the shape with worker' },
      { nodeId: 'gone', text: 'left the shape' }
    ])
    expect(diffRoles(after, after)).toEqual([])
  })
})

describe('role moves between two shapes', () => {
  it('should give over the moved members (MeshShape.movedSince) the lines of the whole diff', () => {
    const steps: Command[] = [
      { kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }, { kind: 'add-member', nodeId: 'c' },
      { kind: 'promote', nodeId: 'b', roles: ['etcd', 'scheduler'] }, { kind: 'demote', nodeId: 'a', roles: ['scheduler'] },
      { kind: 'quarantine', nodeId: 'c' }, { kind: 'restore', nodeId: 'c' }, { kind: 'remove-member', nodeId: 'c' },
      { kind: 'add-member', nodeId: 'd' }
    ]
    let shape = MeshShape.empty()
    let lines = 0
    for (const command of steps) {
      const t = transition(shape, command)
      if (t.kind !== 'applied') throw new Error(`${command.kind}: ${t.message}`)
      const whole = diffRoles(rolesOfMembers(shape, shape.memberIds()), rolesOfMembers(t.shape, t.shape.memberIds()))
      const moved = t.shape.movedSince(shape)
      expect(diffRoles(rolesOfMembers(shape, moved), rolesOfMembers(t.shape, moved))).toEqual(whole)
      lines += whole.length
      shape = t.shape
    }
    expect(lines).toBeGreaterThanOrEqual(steps.length)
  })
})

describe('Timeline', () => {
  it('should keep the newest entries first and drop the oldest past its limit', () => {
    const timeline = new Timeline()
    for (let i = 0; i < TIMELINE_ENTRIES_MAX + 5; i++) timeline.add(i, 'membership', 'n', `e${i}`)
    const latest = timeline.latest(TIMELINE_ENTRIES_MAX + 5)
    expect(latest).toHaveLength(TIMELINE_ENTRIES_MAX)
    expect(latest[0]?.text).toBe(`e${TIMELINE_ENTRIES_MAX + 4}`)
    expect(latest.at(-1)?.text).toBe('e5')
  })
})
