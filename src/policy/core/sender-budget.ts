/**
 * @module policy/core/sender-budget
 * How many decision records one gossip sender may have accepted per window (decision-gossip.ts). A leader
 * records only when what it decides changes; a member that publishes faster is flooding every node's log and
 * disk, and what it sends beyond the budget is dropped before it is parsed. Windows are fixed per sender (one
 * starts with the first record after the last one ended), the senders tracked are bounded and the least
 * recently heard is forgotten first. Pure: time is an argument.
 */
import { assert } from '../../util/assert.js'

export interface SenderBudgetLimits {
  /** Records accepted per sender per window. */
  recordsMax: number
  windowMs: number
  /** Senders tracked at once. */
  sendersMax: number
}

export class SenderBudget {
  /** Sender → its window's start and the records accepted in it; in order of last use (oldest first). */
  private readonly windows = new Map<string, { startMs: number, count: number }>()

  constructor (private readonly limits: SenderBudgetLimits) {
    assert(limits.recordsMax >= 1 && limits.windowMs > 0 && limits.sendersMax >= 1, 'sender budget limits are positive')
  }

  /** Counts one record from `sender` at `nowMs`; false when its window's budget is spent (the record is dropped). */
  take (sender: string, nowMs: number): boolean {
    let window = this.windows.get(sender)
    this.windows.delete(sender)
    // A clock that went back (it should not: the caller's is steady) starts a new window rather than never ending one.
    if (window === undefined || nowMs - window.startMs >= this.limits.windowMs || nowMs < window.startMs) {
      window = { startMs: nowMs, count: 0 }
    }
    this.windows.set(sender, window)
    if (this.windows.size > this.limits.sendersMax) {
      const oldest = this.windows.keys().next().value
      if (oldest !== undefined) this.windows.delete(oldest)
    }
    assert(this.windows.size <= this.limits.sendersMax, 'senders tracked within the bound')
    if (window.count >= this.limits.recordsMax) return false
    window.count++
    return true
  }

  /** Senders tracked (for tests and status). */
  get senders (): number {
    return this.windows.size
  }
}
