/**
 * The early skip (materializer-service.ts) trusts viewShapePart: two shapes with equal parts give template
 * views that differ only in `shape.cid` and `shape.index`. Checked over random shapes, with the pieces the
 * view does not read (targets, pins, other roles, extra members) varying freely.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MeshShape } from '../../src/consensus/shape/core/index.js'
import type { Role } from '../../src/consensus/shape/core/index.js'
import { buildView, movesWithEveryEntry, viewShapePart } from '../../src/materializer/core/index.js'

const IDS = ['node-a', 'node-b', 'node-c', 'node-d']

const VIEWED: Role[] = ['etcd', 'api-server']
const OTHERS: Role[] = ['scheduler', 'controller-manager', 'quarantined']
const rolesArb = (roles: Role[]): fc.Arbitrary<Role[][]> => fc.array(fc.subarray(roles), { minLength: IDS.length, maxLength: IDS.length })
const shapeOf = (...assignments: Role[][][]): MeshShape =>
  new MeshShape(new Map(IDS.map((id, i) => [id, new Set(assignments.flatMap((a) => a[i] ?? []))])))
/** Two shapes that agree on who holds etcd and api-server and on nothing else. */
const samePartArb = fc.tuple(rolesArb(VIEWED), rolesArb(OTHERS), rolesArb(OTHERS))
  .map(([viewed, one, two]) => [shapeOf(viewed, one), shapeOf(viewed, two)] as const)

const view = (shape: MeshShape, cid: string, index: number): unknown => buildView({
  nodeId: 'node-a', shape, shapeCid: cid, appliedIndex: index, kubernetesVersion: 'v1.31.0', etcdVersion: '3.5.16',
  addressOf: (id) => id === 'node-d' ? undefined : `10.0.0.${IDS.indexOf(id) + 1}`
})

describe('viewShapePart', () => {
  it('should leave the view equal but for shape.cid and shape.index when two shapes have equal parts', () => {
    fc.assert(fc.property(samePartArb, ([one, two]) => {
      expect(viewShapePart(one)).toEqual(viewShapePart(two))
      expect(view(one, 'cid', 1)).toEqual(view(two, 'cid', 1))
    }), { numRuns: 300 })
  })

  it('should name exactly the view variables that differ between two entries of the same shape', () => {
    const shape = new MeshShape(new Map([['node-a', new Set<Role>(['etcd', 'api-server'])]]))
    const flat = (v: unknown, prefix = ''): Record<string, unknown> => Object.fromEntries(Object.entries(v as Record<string, unknown>).flatMap(([k, x]) =>
      typeof x === 'object' && x !== null ? Object.entries(flat(x, `${prefix}${k}.`)) : [[`${prefix}${k}`, x]]))
    const one = flat((view(shape, 'cid-1', 1) as { view: unknown }).view)
    const two = flat((view(shape, 'cid-2', 2) as { view: unknown }).view)
    for (const name of Object.keys(one)) expect(movesWithEveryEntry(name)).toBe(one[name] !== two[name])
  })
})
