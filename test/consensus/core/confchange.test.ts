/**
 * Configuration arithmetic: simple changes, entering and leaving joint consensus, and refusals.
 */
import { describe, expect, it } from 'vitest'
import { changeConf, confStateProblem, decodeConfChange, encodeConfChange } from '../../../src/consensus/core/index.js'
import type { ConfState } from '../../../src/consensus/core/index.js'

const base: ConfState = { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: ['l'], learnersNext: [], autoLeave: false }

describe('changeConf', () => {
  it('should add a voter directly when the change is one auto step', () => {
    const next = changeConf(base, { steps: [{ type: 'add-voter', nodeId: 'd' }], transition: 'auto' })
    expect(next).toEqual({ ...base, voters: ['a', 'b', 'c', 'd'] })
  })

  it('should enter a joint configuration when two voters change', () => {
    const next = changeConf(base, {
      steps: [{ type: 'add-voter', nodeId: 'd' }, { type: 'remove', nodeId: 'a' }], transition: 'auto'
    })
    expect(next).toEqual({ voters: ['b', 'c', 'd'], votersOutgoing: ['a', 'b', 'c'], learners: ['l'], learnersNext: [], autoLeave: true })
  })

  it('should demote through learnersNext when a voter becomes a learner in a joint change', () => {
    const joint = changeConf(base, { steps: [{ type: 'add-learner', nodeId: 'a' }], transition: 'explicit' })
    expect(joint).toMatchObject({ voters: ['b', 'c'], votersOutgoing: ['a', 'b', 'c'], learnersNext: ['a'], autoLeave: false })
    const left = changeConf(joint as ConfState, { steps: [], transition: 'explicit' })
    expect(left).toEqual({ voters: ['b', 'c'], votersOutgoing: [], learners: ['l', 'a'], learnersNext: [], autoLeave: false })
  })

  it('should refuse a change when a joint configuration is active', () => {
    const joint = changeConf(base, { steps: [{ type: 'add-voter', nodeId: 'd' }], transition: 'explicit' }) as ConfState
    expect(typeof changeConf(joint, { steps: [{ type: 'add-voter', nodeId: 'e' }], transition: 'auto' })).toBe('string')
  })

  it('should refuse a change when it removes every voter', () => {
    const solo: ConfState = { ...base, voters: ['a'] }
    expect(typeof changeConf(solo, { steps: [{ type: 'remove', nodeId: 'a' }], transition: 'auto' })).toBe('string')
  })

  it('should refuse leave-joint when the configuration is not joint', () => {
    expect(typeof changeConf(base, { steps: [], transition: 'auto' })).toBe('string')
  })

  it('should report a node that is both voter and learner when the state is malformed', () => {
    expect(confStateProblem({ ...base, learners: ['a'] })).toMatch(/both voter and learner/)
    expect(confStateProblem(base)).toBeNull()
  })

  it('should round-trip a change when encoded and decoded', () => {
    const cc = { steps: [{ type: 'remove' as const, nodeId: 'x' }], transition: 'explicit' as const }
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc)
    expect(decodeConfChange(new Uint8Array([1, 2, 3]))).toBeNull()
  })
})
