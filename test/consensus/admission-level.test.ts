/**
 * Goal: the leader's pure admission decision by protocol level (rolling upgrades, docs/OPERATIONS.md):
 * above level 1 a peer is admitted only once it advertised at least the cluster's level; below it, it is
 * withheld with its level; not heard yet, it waits; at level 1 everybody may join; an advertised value that
 * is not a level (untrusted input) counts as level 1. Method: `sortByLevel` on tables of inputs.
 */
import { describe, expect, it } from 'vitest'
import { sortByLevel } from '../../src/consensus/admission.js'
import { PROTOCOL_LEVEL } from '../../src/consensus/shape/core/index.js'

const heard = (levels: Record<string, unknown>) => (peer: string): number | undefined => levels[peer] as number | undefined

describe('admission by protocol level', () => {
  it('should admit a peer at or above the cluster\'s level and withhold one below it with its level', () => {
    expect(sortByLevel(['a', 'b', 'c'], 4, heard({ a: 4, b: 5, c: 3 }))).toEqual({
      admit: ['a', 'b'], below: [{ peer: 'c', advertised: 3 }], unheard: []
    })
    expect(sortByLevel(['x'], PROTOCOL_LEVEL, heard({ x: PROTOCOL_LEVEL - 1 })).below).toEqual([{ peer: 'x', advertised: PROTOCOL_LEVEL - 1 }])
    // A later build's level joins a cluster this build runs.
    expect(sortByLevel(['later'], PROTOCOL_LEVEL, heard({ later: PROTOCOL_LEVEL + 3 })).admit).toEqual(['later'])
  })

  it('should make a peer not heard yet wait above level 1', () => {
    expect(sortByLevel(['quiet', 'a'], 2, heard({ a: 2 }))).toEqual({ admit: ['a'], below: [], unheard: ['quiet'] })
  })

  it('should admit everybody at level 1, heard or not, whatever they advertise', () => {
    expect(sortByLevel(['quiet', 'old', 'new'], 1, heard({ old: 1, new: PROTOCOL_LEVEL }))).toEqual({
      admit: ['quiet', 'old', 'new'], below: [], unheard: []
    })
  })

  it('should read an advertised value that is not a level as level 1', () => {
    for (const bad of [0, -3, 2.5, Number.NaN, 2 ** 53, '5', null]) {
      expect(sortByLevel(['p'], 2, heard({ p: bad }))).toEqual({ admit: [], below: [{ peer: 'p', advertised: 1 }], unheard: [] })
    }
  })
})
