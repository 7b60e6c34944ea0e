/**
 * The dashboard timeline's role diff: what the page says when the committed shape moves.
 */
import { describe, expect, it } from 'vitest'
import { diffRoles, electionText, Timeline } from '../../src/dashboard/index.js'
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

describe('electionText', () => {
  const leader = '12D3KooWAbCdEfGhIjKlMnOpQrStUvWxYz'
  it('should say why this node campaigned, how long its leader was silent, its own stall and the lines not shown', () => {
    expect(electionText('campaign', { term: 4, why: 'no word from a leader within the election timeout', previousLeader: leader, leaderSilentMs: 812, stalledMs: 640, linesSkipped: 3 }))
      .toBe('campaigned at term 4: no word from a leader within the election timeout; 12D3Ko\u2026UvWxYz silent for 812 ms; this node stalled 640 ms just before (3 more like it not shown)')
    expect(electionText('campaign', { term: 1, why: 'the only voter, with no leader', previousLeader: null, leaderSilentMs: null, linesSkipped: 0 }))
      .toBe('campaigned at term 1: the only voter, with no leader')
  })

  it('should say why this node stopped leading, and that it stalled', () => {
    expect(electionText('step-down', { term: 5, reason: 'a higher term', linesSkipped: 0 })).toBe('stepped down as leader at term 5: a higher term')
    expect(electionText('stall', { role: 'leader', term: 5, gapMs: 1200, linesSkipped: 1 })).toBe('stalled 1200 ms as leader (no tick ran) (1 more like it not shown)')
  })
})
