/**
 * @module consensus/log-limiter
 * Bad input is logged at most once per peer and kind per interval (issue 9): a member that floods us
 * with malformed frames or refused proposals costs a counter increment per message, not a log line.
 * Bounded: beyond MAX_LOG_LIMITER_KEYS the oldest keys are forgotten (they may log once more).
 */
import { LOG_INTERVAL_MS_PER_PEER, MAX_LOG_LIMITER_KEYS } from './constants.js'

export class PerPeerLogLimiter {
  private readonly lastMs = new Map<string, number>()

  /** @param nowMs a monotonic clock (a wall-clock step must not mute or unmute the log). */
  constructor (private readonly nowMs: () => number, private readonly intervalMs = LOG_INTERVAL_MS_PER_PEER) {}

  /** True when a line about `peer` and `kind` may be logged now (and records that it was). */
  allow (peer: string, kind: string): boolean {
    const key = `${peer}\u0000${kind}`
    const now = this.nowMs()
    const last = this.lastMs.get(key)
    if (last !== undefined && now - last < this.intervalMs) return false
    this.lastMs.delete(key)
    this.lastMs.set(key, now)
    while (this.lastMs.size > MAX_LOG_LIMITER_KEYS) {
      const oldest = this.lastMs.keys().next().value
      if (oldest === undefined) break
      this.lastMs.delete(oldest)
    }
    return true
  }
}
