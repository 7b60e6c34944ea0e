import { describe, expect, it } from 'vitest'
import { changeConf, decodeConfChange, encodeConfChange, isJoint } from '../../../src/consensus/core/index.js'
import type { ConfState } from '../../../src/consensus/core/index.js'

const single: ConfState = { voters: ['a'], votersOutgoing: [], learners: ['b'], learnersNext: [], autoLeave: false }

describe('ConfChange context and enterJoint', () => {
  it('should round-trip the context bytes and the enterJoint flag through the entry encoding', () => {
    const context = new Uint8Array([0, 1, 2, 250, 255])
    const decoded = decodeConfChange(encodeConfChange({ steps: [{ type: 'add-voter', nodeId: 'b' }], transition: 'auto', enterJoint: true, context }))
    expect(decoded?.enterJoint).toBe(true)
    expect(decoded?.context).toEqual(context)
  })

  it('should enter a joint configuration for a single step when enterJoint is set', () => {
    const joint = changeConf(single, { steps: [{ type: 'add-voter', nodeId: 'b' }], transition: 'auto', enterJoint: true })
    expect(typeof joint).toBe('object')
    expect(isJoint(joint as ConfState)).toBe(true)
    expect((joint as ConfState).autoLeave).toBe(true)
    const simple = changeConf(single, { steps: [{ type: 'add-voter', nodeId: 'b' }], transition: 'auto' })
    expect(isJoint(simple as ConfState)).toBe(false)
  })

  it('should reject a malformed context instead of guessing', () => {
    const bad = new TextEncoder().encode(JSON.stringify({ steps: [], transition: 'auto', context: 42 }))
    expect(decodeConfChange(bad)).toBeNull()
  })
})
