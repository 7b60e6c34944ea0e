/**
 * @module consensus/core/progress
 * A leader's replication state for one peer (etcd raft tracker/progress.go and inflights.go): probe sends
 * one App per heartbeat until a match is found, replicate pipelines optimistically within a bounded
 * inflight window, snapshot waits for an InstallSnapshot to finish.
 */
import { assert } from '../../util/assert.js'
import type { ProgressState } from './types.js'

export class Progress {
  /** Invariant: match < next. */
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** In probe state: an App was sent since the last response or heartbeat, so the peer is paused. */
  probeSent = false
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0
  /** In snapshot state: heartbeat rounds since the snapshot was sent (resent when too many). */
  snapshotTicks = 0
  recentActive = false
  isLearner: boolean
  /** Last index of each App in flight (replicate state), oldest first. Bounded by maxInflight. */
  inflights: number[] = []
  private readonly maxInflight: number

  constructor (next: number, isLearner: boolean, maxInflight: number) {
    assert(next >= 1, 'progress next must be >= 1')
    this.next = next
    this.isLearner = isLearner
    this.maxInflight = maxInflight
  }

  private resetState (state: ProgressState): void {
    this.probeSent = false
    this.pendingSnapshot = 0
    this.snapshotTicks = 0
    this.state = state
    this.inflights = []
  }

  becomeProbe (): void {
    // After a snapshot the follower holds at least the snapshot, so probing starts just after it.
    const snapshot = this.state === 'snapshot' ? this.pendingSnapshot : 0
    this.resetState('probe')
    this.next = Math.max(this.match + 1, snapshot + 1)
  }

  becomeReplicate (): void {
    this.resetState('replicate')
    this.next = this.match + 1
  }

  becomeSnapshot (snapshotIndex: number): void {
    this.resetState('snapshot')
    this.pendingSnapshot = snapshotIndex
  }

  /** Records an acknowledgement of `index`; returns false when it is stale. */
  maybeUpdate (index: number): boolean {
    let updated = false
    if (this.match < index) { this.match = index; updated = true; this.probeSent = false }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /** Records a sent App ending at `last` (optimistic next in replicate state). */
  sentEntries (last: number, count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        assert(this.inflights.length < this.maxInflight, 'inflights full')
        this.inflights.push(last)
        this.next = last + 1
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  /** Frees inflight slots acknowledged up to `index`. */
  freeTo (index: number): void {
    while (this.inflights.length > 0 && this.inflights[0]! <= index) this.inflights.shift()
  }

  /**
   * Handles a rejection of an App at `rejected` with the follower's `hint`; returns false when stale.
   */
  maybeDecrTo (rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  isPaused (): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent
      case 'replicate': return this.inflights.length >= this.maxInflight
      case 'snapshot': return true
    }
  }
}
