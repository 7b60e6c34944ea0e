/**
 * @module consensus/storage/memory-storage
 * In-memory Storage for the deterministic simulator and driver tests, with crash semantics: a crash drops
 * every write not yet synced (optionally keeping a torn prefix of unsynced entries that happened to reach
 * "disk"). Synchronous and deterministic; no IO.
 *
 * Unsynced writes form one ordered record stream (hard states and entry batches). The live image is
 * updated in place; every unsynced record keeps what it replaced, so a crash undoes the stream from its
 * end back to the kept torn prefix in O(unsynced) time, and sync() is O(1).
 */
import type { Entry, HardState, Snapshot } from '../core/types.js'
import type { Storage, StorageState } from './types.js'
import { assert } from '../../util/assert.js'

type UnsyncedRecord =
  | { kind: 'hard-state', previous: HardState }
  | { kind: 'entries', count: number, start: number, replaced: Entry[] }

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 }
  private snapshot: Snapshot | undefined
  /** `entries[i]` has index `offset + 1 + i`. */
  private entries: Entry[] = []
  private offset = 0
  private unsynced: UnsyncedRecord[] = []
  private closed = false

  load (): StorageState {
    assert(!this.closed, 'storage closed')
    return {
      hardState: { ...this.hardState },
      ...(this.snapshot === undefined ? {} : { snapshot: this.snapshot }),
      entries: [...this.entries]
    }
  }

  append (entries: Entry[]): void {
    assert(!this.closed, 'storage closed')
    if (entries.length === 0) return
    const first = (entries[0] as Entry).index
    const start = first - this.offset - 1
    assert(start >= 0 && start <= this.entries.length, () => `append at ${first} leaves a gap`)
    const replaced = this.entries.splice(start)
    for (const entry of entries) this.entries.push(entry)
    this.unsynced.push({ kind: 'entries', count: entries.length, start, replaced })
  }

  setHardState (hardState: HardState): void {
    assert(!this.closed, 'storage closed')
    this.unsynced.push({ kind: 'hard-state', previous: this.hardState })
    this.hardState = { ...hardState }
  }

  sync (): void {
    this.unsynced = []
  }
  /** Syncs at once: the writes before the call are durable when the promise settles. */
  async syncAsync (): Promise<void> {
    this.sync()
  }


  saveSnapshot (snapshot: Snapshot): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index >= snapshot.meta.index) return
    this.snapshot = snapshot
    const at = this.entries[snapshot.meta.index - this.offset - 1]
    if (at?.term === snapshot.meta.term) return
    // The log does not reach the snapshot or disagrees with it: the snapshot replaces the whole log.
    this.sync()
    this.entries = []
    this.offset = snapshot.meta.index
  }

  compact (throughIndex: number): void {
    assert(this.snapshot !== undefined && throughIndex <= this.snapshot.meta.index, 'compact beyond the snapshot')
    this.sync()
    const drop = Math.min(this.entries.length, Math.max(0, throughIndex - this.offset))
    this.entries.splice(0, drop)
    this.offset += drop
  }

  /**
   * The term of the entry at `index` in what a crash would leave (no torn prefix): `'snapshot'` when the
   * durable snapshot covers it, undefined when no durable entry is there. For the simulator's check that
   * a commit index only ever counts durable copies; O(unsynced entries).
   */
  durableTermAt (index: number): number | 'snapshot' | undefined {
    if (this.snapshot !== undefined && index <= this.snapshot.meta.index) return 'snapshot'
    const image = this.entries.slice()
    for (let i = this.unsynced.length - 1; i >= 0; i--) {
      const record = this.unsynced[i] as UnsyncedRecord
      if (record.kind !== 'entries') continue
      image.splice(record.start)
      for (const entry of record.replaced) image.push(entry)
    }
    return image[index - this.offset - 1]?.term
  }

  /** A crash: unsynced writes are lost, except a torn prefix of `keepUnsyncedEntries` entries. */
  crash (options: { keepUnsyncedEntries?: number } = {}): void {
    let keep = options.keepUnsyncedEntries ?? 0
    let cut = 0
    let keepInCut = 0
    // Find how far the kept prefix of the record stream reaches.
    for (; cut < this.unsynced.length && keep > 0; cut++) {
      const record = this.unsynced[cut] as UnsyncedRecord
      if (record.kind !== 'entries') continue
      keepInCut = Math.min(keep, record.count)
      keep -= keepInCut
      if (keepInCut < record.count) break
      keepInCut = 0
    }
    for (let i = this.unsynced.length - 1; i >= cut; i--) {
      const record = this.unsynced[i] as UnsyncedRecord
      if (record.kind === 'hard-state') { this.hardState = record.previous; continue }
      const kept = i === cut ? keepInCut : 0
      this.entries.splice(record.start + kept)
      if (kept === 0) for (const entry of record.replaced) this.entries.push(entry)
    }
    this.unsynced = []
  }

  close (): void {
    this.closed = true
  }
}
