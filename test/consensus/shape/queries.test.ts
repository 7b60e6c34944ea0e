/**
 * MeshShape's queries on the apply path (issue 16, per-command cost): `holds` and `holders` answer without
 * building role lists, and `voters()` is computed once per shape value. Both must answer exactly what the
 * plain definitions answer (`rolesOf(id).includes(role)`, a fresh computation from the canonical data) after
 * any sequence of commands, and the memo must be forgotten by every mutator.
 */
import { describe, expect, it } from 'vitest'
import { CONTROL_PLANE_ROLES, MeshShape, ROLES, applyBatch, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command, ControlPlaneRole, NodeId, Role } from '../../../src/consensus/shape/core/index.js'
import { seededUniform as rng } from '../../fuzz/rng.js'


const IDS = ['n-a', 'n-b', 'n-c', 'n-d', 'n-e']

function randomCommand (next: () => number): Command {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T
  const nodeId = pick(IDS)
  const roles = CONTROL_PLANE_ROLES.filter(() => next() < 0.4)
  const some: ControlPlaneRole[] = roles.length > 0 ? roles : [pick(CONTROL_PLANE_ROLES)]
  const pin = next() < 0.3 ? { pin: true as const } : {}
  switch (pick(['add-member', 'remove-member', 'promote', 'demote', 'quarantine', 'restore', 'unpin', 'rejoin'] as const)) {
    case 'add-member': return { kind: 'add-member', nodeId }
    case 'remove-member': return { kind: 'remove-member', nodeId }
    case 'promote': return { kind: 'promote', nodeId, roles: some, ...pin }
    case 'demote': return { kind: 'demote', nodeId, roles: some, ...pin }
    case 'quarantine': return { kind: 'quarantine', nodeId }
    case 'restore': return { kind: 'restore', nodeId }
    case 'unpin': return { kind: 'unpin', nodeId }
    case 'rejoin': return { kind: 'rejoin', nodeId }
  }
}

/** The queries by their plain definitions, on a shape rebuilt from its canonical data (no memo). */
function expectQueriesMatchDefinitions (shape: MeshShape, seed: number, step: number): void {
  const fresh = MeshShape.fromData(shape.toData())
  const where = `seed ${seed}, step ${step}`
  for (const id of [...IDS, 'stranger']) {
    for (const role of ROLES) expect(shape.holds(id, role), `${where}: holds(${id}, ${role})`).toBe(fresh.rolesOf(id).includes(role))
  }
  for (const role of ROLES) {
    expect(shape.holders(role), `${where}: holders(${role})`).toEqual(fresh.memberIds().filter((id) => fresh.rolesOf(id).includes(role)))
  }
  expect(shape.voters(), `${where}: voters`).toEqual(fresh.memberIds().filter((id) => fresh.rolesOf(id).includes('etcd')))
}

describe('MeshShape queries on the apply path', () => {
  it('holds, holders and voters answer as their definitions after random command sequences', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const next = rng(seed)
      let shape = MeshShape.fromData({ members: [['n-a', [...CONTROL_PLANE_ROLES]]], target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } })
      for (let step = 0; step < 60; step++) {
        // Asked before the change too, so a memo that outlived a mutation would show.
        shape.voters()
        const attempt = transition(shape, randomCommand(next))
        if (attempt.kind === 'applied') shape = attempt.shape
        expectQueriesMatchDefinitions(shape, seed, step)
      }
    }
  })

  it('every mutator forgets the memoized voters', () => {
    const base = MeshShape.fromData({ members: [['n-a', ['etcd']], ['n-b', []], ['n-c', ['etcd', 'scheduler']]], target: { apiServers: 1, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 0 } })
    const cases: Array<[string, (s: MeshShape) => void, NodeId[]]> = [
      ['grant', (s) => { s.grant('n-b', ['etcd']) }, ['n-a', 'n-b', 'n-c']],
      ['revoke', (s) => { s.revoke('n-c', ['etcd']) }, ['n-a']],
      ['clear', (s) => { s.clear('n-c') }, ['n-a']],
      ['removeMember', (s) => { s.removeMember('n-a') }, ['n-c']],
      ['addMember + grant', (s) => { s.addMember('n-d'); s.grant('n-d', ['etcd' as Role]) }, ['n-a', 'n-c', 'n-d']]
    ]
    for (const [name, mutate, expected] of cases) {
      const shape = base.copy()
      expect(shape.voters(), name).toEqual(['n-a', 'n-c'])
      mutate(shape)
      expect(shape.voters(), name).toEqual(expected)
    }
    // The original is untouched, and a caller may change the returned list without changing the shape.
    const voters = base.voters()
    voters.push('n-x')
    expect(base.voters()).toEqual(['n-a', 'n-c'])
  })

  it('a batch of alternating promote/demote gives the outcomes and shape of its commands one by one', () => {
    const shape = MeshShape.fromData({ members: [['n-a', [...CONTROL_PLANE_ROLES]], ['n-b', ['etcd']], ['n-c', ['etcd']]], target: { apiServers: 1, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 0 } })
    const commands: Command[] = Array.from({ length: 9 }, (_, i) => ({ kind: i % 2 === 0 ? 'promote' : 'demote', nodeId: 'n-c', roles: ['scheduler'] }))
    commands.splice(3, 0, { kind: 'demote', nodeId: 'n-c', roles: ['etcd'] }, { kind: 'promote', nodeId: 'n-b', roles: ['scheduler'] })
    const batch = applyBatch(shape, commands)
    let one = shape
    const outcomes = commands.map((command) => {
      const attempt = transition(one, command)
      if (attempt.kind === 'rejected') return attempt
      if (attempt.shape.voters().join() !== one.voters().join()) return { kind: 'rejected', code: 'voters-not-moved' }
      one = attempt.shape
      return { kind: 'applied' }
    })
    expect(batch.outcomes.map((o) => o.kind === 'rejected' ? o.code : o.kind)).toEqual(outcomes.map((o) => o.kind === 'rejected' ? o.code : o.kind))
    expect(batch.outcomes[3]).toMatchObject({ kind: 'rejected', code: 'voters-not-moved' })
    expect(batch.shape.toData()).toEqual(one.toData())
  })
})
