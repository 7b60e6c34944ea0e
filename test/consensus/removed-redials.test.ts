/**
 * RemovedRedials hands the shape's removed members to the redial loop once per change of the removed list, and
 * costs one comparison on every other apply: the list is shared by every copy of a shape (MeshShape
 * copy-on-write) and replaced only by a removal, which `removedView` exposes without a copy. Method: shapes
 * built by the pure transition; `forget` records its calls. The wiring on real nodes is in
 * test/consensus/cluster/removed-redial.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { RemovedRedials } from '../../src/consensus/removed-redials.js'
import { MeshShape, transition } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'
import { buildShape } from './shape/helpers.js'

function next (shape: MeshShape, command: Command): MeshShape {
  const t = transition(shape, command)
  if (t.kind !== 'applied') throw new Error(`${command.kind}: ${t.message}`)
  return t.shape
}

describe('RemovedRedials', () => {
  it('should forget the removed members once per change of the removed list, and never for another apply', () => {
    const forgotten: string[] = []
    const redials = new RemovedRedials((peer) => { forgotten.push(peer) })
    let shape = buildShape([{ kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }, { kind: 'add-member', nodeId: 'c' }])
    expect(redials.update(shape)).toBe(0)
    expect(redials.update(MeshShape.empty())).toBe(0)

    shape = next(shape, { kind: 'remove-member', nodeId: 'b' })
    expect(redials.update(shape)).toBe(1)
    expect(forgotten).toEqual(['b'])
    // Applies that remove nobody share the list: nothing is passed on again.
    shape = next(shape, { kind: 'add-member', nodeId: 'd' })
    expect(redials.update(shape)).toBe(0)
    expect(redials.update(shape.copy())).toBe(0)
    expect(forgotten).toEqual(['b'])

    shape = next(shape, { kind: 'remove-member', nodeId: 'c' })
    expect(redials.update(shape)).toBe(2)
    expect(forgotten).toEqual(['b', 'b', 'c'])
  })

  it('should forget every removed member of a shape restored from its data (a snapshot at start)', () => {
    const forgotten: string[] = []
    const redials = new RemovedRedials((peer) => { forgotten.push(peer) })
    const before = buildShape([{ kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }, { kind: 'remove-member', nodeId: 'b' }])
    expect(redials.update(MeshShape.fromData(before.toData()))).toBe(1)
    expect(forgotten).toEqual(['b'])
  })
})
