import { describe, expect, it } from 'vitest'
import { assert, AssertionError } from '../../src/util/assert.js'

describe('assert', () => {
  it('should throw an AssertionError with the lazy message when the condition is false', () => {
    expect(() => assert(false, () => 'lazy message')).toThrow(AssertionError)
    expect(() => assert(0, 'zero')).toThrow('zero')
  })

  it('should not build the message when the condition holds', () => {
    let built = false
    assert(true, () => { built = true; return 'x' })
    expect(built).toBe(false)
  })
})
