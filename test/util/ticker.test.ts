/**
 * Goal: a node's periodic duties wake the process once per base tick, not once per timer (issue 16: an idle
 * node's CPU is mostly wake-ups), at the periods they ask for, and one duty's failure does not stop the
 * others. Method: fake timers; the number of pending timers is what the event loop would wake up for.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTicker, intervalTicker } from '../../src/util/ticker.js'

describe('node ticker', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('should run duties of 100, 500 and 1000 ms from one interval, each at its own period', () => {
    const ticker = createTicker(100)
    const runs = { fast: 0, half: 0, second: 0 }
    const stops = [
      ticker.every(100, () => { runs.fast++ }),
      ticker.every(500, () => { runs.half++ }),
      ticker.every(1000, () => { runs.second++ })
    ]
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(999)
    expect(runs).toEqual({ fast: 9, half: 1, second: 0 })
    vi.advanceTimersByTime(1)
    expect(runs).toEqual({ fast: 10, half: 2, second: 1 })
    vi.advanceTimersByTime(2000)
    expect(runs).toEqual({ fast: 30, half: 6, second: 3 })
    for (const stop of stops) stop()
    // Nothing left to run: no timer either.
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(1000)
    expect(runs.fast).toBe(30)
  })

  it('should start a duty added later one full period after it was added', () => {
    const ticker = createTicker(100)
    ticker.every(100, () => {})
    vi.advanceTimersByTime(250)
    let runs = 0
    ticker.every(500, () => { runs++ })
    vi.advanceTimersByTime(449)
    expect(runs).toBe(0)
    vi.advanceTimersByTime(100)
    expect(runs).toBe(1)
  })

  it('should give a period that is not a multiple of the base a timer of its own', () => {
    const ticker = createTicker(100)
    let odd = 0
    ticker.every(100, () => {})
    ticker.every(250, () => { odd++ })
    expect(vi.getTimerCount()).toBe(2)
    vi.advanceTimersByTime(1000)
    expect(odd).toBe(4)
  })

  it('should keep running the other duties when one throws, and rethrow its error', () => {
    const ticker = createTicker(100)
    let after = 0
    const deferred: Array<() => void> = []
    const nextTick = vi.spyOn(process, 'nextTick').mockImplementation(((fn: () => void) => { deferred.push(fn) }) as typeof process.nextTick)
    ticker.every(100, () => { throw new Error('boom') })
    ticker.every(100, () => { after++ })
    vi.advanceTimersByTime(100)
    nextTick.mockRestore()
    expect(after).toBe(1)
    // The error surfaces on the next tick of the process (an uncaught exception, as an interval's own).
    expect(deferred).toHaveLength(1)
    expect(() => { deferred[0]?.() }).toThrow('boom')
  })

  it('should let a stopped duty be stopped again, and the interval ticker give each duty its own timer', () => {
    const ticker = createTicker(100)
    const stop = ticker.every(100, () => {})
    stop()
    stop()
    expect(ticker.duties).toBe(0)
    const a = intervalTicker.every(100, () => {})
    const b = intervalTicker.every(100, () => {})
    expect(vi.getTimerCount()).toBe(2)
    a()
    b()
  })
})
