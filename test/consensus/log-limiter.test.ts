/**
 * Goal: bad input is logged at most once per peer and kind per interval, on a clock that does not step.
 */
import { describe, expect, it } from 'vitest'
import { PerPeerLogLimiter } from '../../src/consensus/log-limiter.js'
import { MAX_LOG_LIMITER_KEYS } from '../../src/consensus/constants.js'

describe('PerPeerLogLimiter', () => {
  it('should allow one line per peer and kind per interval and stay bounded', () => {
    let now = 0
    const limiter = new PerPeerLogLimiter(() => now, 1000)
    expect(limiter.allow('p1', 'malformed')).toBe(true)
    expect(limiter.allow('p1', 'malformed')).toBe(false)
    expect(limiter.allow('p1', 'spoofed')).toBe(true)
    expect(limiter.allow('p2', 'malformed')).toBe(true)
    now = 999
    expect(limiter.allow('p1', 'malformed')).toBe(false)
    now = 1000
    expect(limiter.allow('p1', 'malformed')).toBe(true)
    for (let i = 0; i < MAX_LOG_LIMITER_KEYS * 2; i++) limiter.allow(`flood${i}`, 'malformed')
    expect((limiter as unknown as { lastMs: Map<string, number> }).lastMs.size).toBe(MAX_LOG_LIMITER_KEYS)
  })
})
