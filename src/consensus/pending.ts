/**
 * @module consensus/pending
 * Bookkeeping for operations that wait on the log: proposals (resolved when their proposal id is applied
 * locally) and ReadIndex reads (resolved once the state machine has applied up to the read's index).
 * Bounded; each operation has a deadline and a retry time so that a proposal lost with a leader is
 * re-submitted under the same id (exactly-once makes that safe).
 */
import { assert } from '../util/assert.js'
import { ConsensusBusyError, ConsensusStoppedError, ConsensusTimeoutError } from './errors.js'

export interface Waiter<T> {
  resolve: (value: T) => void
  reject: (error: Error) => void
  deadlineMs: number
  retryAtMs: number
}

/** A bounded map of waiters keyed by string, with deadline and retry sweeps. */
export class PendingTable<T, Extra = unknown> {
  private readonly waiters = new Map<string, Waiter<T> & { extra: Extra }>()

  constructor (private readonly max: number, private readonly label: string) {
    assert(max > 0, 'pending table needs a positive bound')
  }

  get size (): number {
    return this.waiters.size
  }

  /** Registers a waiter. @throws ConsensusBusyError when the table is full */
  add (key: string, extra: Extra, deadlineMs: number, retryAtMs: number): Promise<T> {
    if (this.waiters.size >= this.max) throw new ConsensusBusyError(`${this.max} ${this.label} pending`)
    assert(!this.waiters.has(key), () => `${this.label} ${key} registered twice`)
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(key, { resolve, reject, deadlineMs, retryAtMs, extra })
    })
  }

  get (key: string): (Waiter<T> & { extra: Extra }) | undefined {
    return this.waiters.get(key)
  }

  /** Resolves and removes `key`; returns false when nobody was waiting (e.g. another node proposed it). */
  settle (key: string, value: T): boolean {
    const waiter = this.waiters.get(key)
    if (waiter === undefined) return false
    this.waiters.delete(key)
    waiter.resolve(value)
    return true
  }

  /** Calls `retry` for waiters whose retry time passed and rejects those past their deadline. */
  sweep (nowMs: number, retryIntervalMs: number, retry: (key: string, extra: Extra) => void): void {
    for (const [key, waiter] of this.waiters) {
      if (nowMs >= waiter.deadlineMs) {
        this.waiters.delete(key)
        waiter.reject(new ConsensusTimeoutError(`${this.label} ${key} timed out`))
      } else if (nowMs >= waiter.retryAtMs) {
        waiter.retryAtMs = nowMs + retryIntervalMs
        retry(key, waiter.extra)
      }
    }
  }

  /**
   * Calls `retry` now for every waiter that `select` picks and is not past its deadline, whatever its retry
   * time (a new leader is known).
   */
  retryAll (nowMs: number, retryIntervalMs: number, retry: (key: string, extra: Extra) => void, select: (extra: Extra) => boolean = () => true): void {
    for (const [key, waiter] of this.waiters) {
      if (nowMs >= waiter.deadlineMs || !select(waiter.extra)) continue
      waiter.retryAtMs = nowMs + retryIntervalMs
      retry(key, waiter.extra)
    }
  }

  /** Visits every waiter (for reads waiting on the applied index). */
  entries (): IterableIterator<[string, Waiter<T> & { extra: Extra }]> {
    return this.waiters.entries()
  }

  delete (key: string): void {
    this.waiters.delete(key)
  }

  rejectAll (): void {
    for (const waiter of this.waiters.values()) waiter.reject(new ConsensusStoppedError())
    this.waiters.clear()
  }
}
