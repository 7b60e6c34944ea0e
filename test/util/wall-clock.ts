/**
 * A wall clock a test steps (an NTP step, a date set by hand). `Date.now` is spied from before each test, so what
 * the test builds reads it; an object that captured `Date.now` before the spy was installed reads the real clock.
 */
import { afterEach, beforeEach, vi } from 'vitest'

export const HOUR_MS = 60 * 60_000

/** Installs the spy around each test of the calling file; `step(ms)` sets the wall clock's offset from now on. */
export function steppedWallClock (): { step: (offsetMs: number) => void } {
  const realNow = Date.now.bind(Date)
  let offsetMs = 0
  beforeEach(() => {
    offsetMs = 0
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs)
  })
  afterEach(() => { vi.restoreAllMocks() })
  return { step: (ms) => { offsetMs = ms } }
}
