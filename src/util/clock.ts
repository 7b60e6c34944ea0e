/**
 * @module util/clock
 * A steady clock for deadlines, retries and failure detection (issue 9 item 7). It reads like the wall
 * clock when the process starts (so it can stamp events and logs) but advances only with the monotonic
 * clock: an NTP step or an operator setting the date by ±10 minutes moves nothing that measures time.
 */
import { performance } from 'node:perf_hooks'

/** The two clocks a steady clock is made from; tests inject both. */
export interface ClockSources {
  /** Wall clock (ms since the epoch); may step. */
  wallMs: () => number
  /** Monotonic clock (ms from an arbitrary origin); never goes back. */
  monotonicMs: () => number
}

/**
 * A clock anchored at `sources.wallMs()` now that then advances with `sources.monotonicMs()` only, in
 * whole milliseconds.
 * @example const now = createSteadyClock(); const deadline = now() + 10_000
 */
export function createSteadyClock (sources: ClockSources = { wallMs: Date.now, monotonicMs: () => performance.now() }): () => number {
  const wallAtStart = sources.wallMs()
  const monotonicAtStart = sources.monotonicMs()
  // Whole milliseconds, as Date.now: readings end up in heartbeats whose validators accept integers only.
  return () => Math.floor(wallAtStart + (sources.monotonicMs() - monotonicAtStart))
}

/** The process-wide steady clock (ms). */
export const steadyNowMs: () => number = createSteadyClock()
