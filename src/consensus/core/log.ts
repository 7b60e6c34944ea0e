/**
 * @module consensus/core/log
 * The in-memory Raft log of one node: entries after a compaction offset, the commit and apply cursors,
 * how far entries are persisted, and a snapshot waiting to be installed (etcd raft log.go + log_unstable.go
 * in one, because the core holds the whole uncompacted log in memory).
 */
import { assert } from '../../util/assert.js'
import { ENTRY_OVERHEAD_BYTES } from './constants.js'
import type { Entry, Snapshot } from './types.js'

/**
 * Bytes an entry counts toward message size limits: its data, its proposal's client id (which travels
 * with it on the wire) and the fixed overhead, so a message within maxSizePerMsgBytes fits its frame.
 */
export function entryBytes (entry: Entry): number {
  return entry.data.length + ENTRY_OVERHEAD_BYTES + (entry.proposalId?.clientId.length ?? 0)
}

export class RaftLog {
  /** Index of the last compacted entry (the snapshot index or a trailing window below it). */
  offset = 0
  /** Term of the entry at `offset` (0 when offset is 0). */
  offsetTerm = 0
  /** Entries with index offset+1 … lastIndex(). Invariant: contiguous. */
  entries: Entry[] = []
  /** Invariant: applied <= applying <= committed <= lastIndex(). */
  committed = 0
  applied = 0
  /** Highest index handed out to apply but not yet acknowledged by advance(). */
  applying = 0
  /** Entries with index <= stableIndex are persisted or handed out to storage in a Ready. */
  stableIndex = 0
  /**
   * Entries with index <= durableIndex are known durable (acknowledged by advance() or persisted()).
   * Invariant: durableIndex <= stableIndex. It may lie below `offset` right after a snapshot from the
   * leader is installed and before that snapshot is acknowledged.
   */
  durableIndex = 0
  /** A snapshot received from the leader, to be persisted and installed through Ready. */
  pendingSnapshot: Snapshot | undefined
  /** The newest snapshot this node holds (sent to followers that are too far behind). */
  latestSnapshot: Snapshot | undefined

  /** Restores a log from durable state: entries at or below the snapshot index are dropped. */
  static fromStorage (snapshot: Snapshot | undefined, entries: Entry[], commit: number): RaftLog {
    const log = new RaftLog()
    if (snapshot !== undefined) {
      log.offset = snapshot.meta.index
      log.offsetTerm = snapshot.meta.term
      log.latestSnapshot = snapshot
    }
    let expected = log.offset + 1
    for (const entry of entries) {
      if (entry.index <= log.offset) continue
      assert(entry.index === expected, () => `storage entries not contiguous at ${entry.index}`)
      log.entries.push(entry)
      expected++
    }
    log.stableIndex = log.lastIndex()
    log.durableIndex = log.stableIndex
    log.committed = Math.max(log.offset, Math.min(commit, log.lastIndex()))
    log.applied = log.offset
    log.applying = log.offset
    return log
  }

  firstIndex (): number {
    return this.offset + 1
  }

  lastIndex (): number {
    return this.offset + this.entries.length
  }

  lastTerm (): number {
    const last = this.entries[this.entries.length - 1]
    return last === undefined ? this.offsetTerm : last.term
  }

  /** The term of entry `index`, or undefined when compacted or beyond the log. */
  term (index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm
    if (index < this.offset || index > this.lastIndex()) return undefined
    return this.entries[index - this.offset - 1]?.term
  }

  entry (index: number): Entry | undefined {
    if (index <= this.offset) return undefined
    return this.entries[index - this.offset - 1]
  }

  matchTerm (index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** True if a log ending at (lastIndex, lastTerm) is at least as up to date as ours (thesis §3.6.1). */
  isUpToDate (lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /** Entries [lo, hi) limited to `maxBytes` (at least one entry when any). Requires lo > offset. */
  slice (lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo > this.offset, () => `slice ${lo} below first index ${this.firstIndex()}`)
    assert(hi <= this.lastIndex() + 1, () => `slice ${hi} beyond last index ${this.lastIndex()}`)
    const out: Entry[] = []
    let bytes = 0
    for (let index = lo; index < hi; index++) {
      const entry = this.entries[index - this.offset - 1]
      assert(entry !== undefined, 'slice hole')
      bytes += entryBytes(entry)
      if (out.length > 0 && bytes > maxBytes) break
      out.push(entry)
    }
    return out
  }

  /** Appends entries that follow lastIndex() or overwrite an uncommitted suffix. */
  append (entries: Entry[]): void {
    if (entries.length === 0) return
    const first = entries[0]!.index
    assert(first > this.committed, () => `overwrite of committed index ${first} <= ${this.committed}`)
    assert(first <= this.lastIndex() + 1, () => `gap: append at ${first} after ${this.lastIndex()}`)
    this.entries.length = first - this.offset - 1
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, 'appended entries not contiguous')
      this.entries.push(entry)
    }
    this.stableIndex = Math.min(this.stableIndex, first - 1)
    this.durableIndex = Math.min(this.durableIndex, first - 1)
  }

  /**
   * The entries up to `index` (of `term` at `index`) became durable. Ignored when the log no longer holds
   * that entry: a later Ready overwrote it (etcd raft unstable.stableTo), so what is durable there is stale.
   */
  markDurable (index: number, term: number): void {
    if (index <= this.durableIndex || index > this.stableIndex || this.term(index) !== term) return
    this.durableIndex = index
  }

  /**
   * Appends the part of `entries` (following prevIndex) that is new, truncating a conflicting suffix.
   * Returns the index of the last entry now matching the leader.
   */
  maybeAppend (prevIndex: number, entries: Entry[]): number {
    let conflict = 0
    for (const entry of entries) {
      if (entry.index <= this.offset) continue
      if (!this.matchTerm(entry.index, entry.term)) { conflict = entry.index; break }
    }
    if (conflict > 0) {
      assert(conflict > this.committed, () => `conflict at committed index ${conflict}`)
      this.append(entries.slice(conflict - entries[0]!.index))
    }
    return prevIndex + entries.length
  }

  commitTo (index: number): boolean {
    if (index <= this.committed) return false
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`)
    this.committed = index
    return true
  }

  /** Replaces the whole log with `snapshot` (a follower installing a leader's snapshot). */
  restore (snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.committed, 'restore of a snapshot at or below commit')
    this.offset = snapshot.meta.index
    this.offsetTerm = snapshot.meta.term
    this.entries = []
    this.committed = snapshot.meta.index
    this.stableIndex = snapshot.meta.index
    this.durableIndex = Math.min(this.durableIndex, snapshot.meta.index)
    this.pendingSnapshot = snapshot
    this.latestSnapshot = snapshot
  }

  /** Drops entries up to `throughIndex`, keeping the term of the new offset. */
  compactTo (throughIndex: number): void {
    if (throughIndex <= this.offset) return
    assert(throughIndex <= this.applied, () => `compact ${throughIndex} beyond applied ${this.applied}`)
    const term = this.term(throughIndex)
    assert(term !== undefined, 'compact to unknown term')
    this.entries = this.entries.slice(throughIndex - this.offset)
    this.offset = throughIndex
    this.offsetTerm = term
  }
}
