/**
 * @module test/consensus/sim/memory-storage-shim
 * TEMPORARY: a minimal in-memory Storage with crash semantics, used only until the storage engineer's
 * MemoryStorage lands; then this file is deleted and node.ts imports the real one.
 */
import type { Entry, HardState, Snapshot } from '../../../src/consensus/core/types.js'
import type { Storage, StorageState } from '../../../src/consensus/storage/types.js'

interface Image { hardState: HardState, snapshot?: Snapshot, entries: Entry[] }

export class MemoryStorage implements Storage {
  private durable: Image = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }
  private live: Image = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }
  private unsynced: Array<{ hardState?: HardState, entries?: Entry[] }> = []

  load (): StorageState {
    this.live = { hardState: { ...this.durable.hardState }, snapshot: this.durable.snapshot, entries: [...this.durable.entries] }
    return { hardState: { ...this.live.hardState }, ...(this.live.snapshot ? { snapshot: this.live.snapshot } : {}), entries: [...this.live.entries] }
  }

  append (entries: Entry[]): void {
    if (entries.length === 0) return
    applyAppend(this.live, entries)
    this.unsynced.push({ entries })
  }

  setHardState (hardState: HardState): void {
    this.live.hardState = { ...hardState }
    this.unsynced.push({ hardState: { ...hardState } })
  }

  sync (): void {
    this.durable = { hardState: { ...this.live.hardState }, snapshot: this.live.snapshot, entries: [...this.live.entries] }
    this.unsynced = []
  }

  saveSnapshot (snapshot: Snapshot): void {
    this.live.snapshot = snapshot
    this.durable.snapshot = snapshot
    this.live.entries = this.live.entries.filter((e) => e.index > snapshot.meta.index || true)
  }

  compact (throughIndex: number): void {
    this.live.entries = this.live.entries.filter((e) => e.index > throughIndex)
    this.durable.entries = this.durable.entries.filter((e) => e.index > throughIndex)
  }

  crash (options: { keepUnsyncedEntries?: number } = {}): void {
    // Unsynced writes form one ordered record stream; a torn tail keeps a prefix of it.
    let keep = options.keepUnsyncedEntries ?? 0
    for (const record of this.unsynced) {
      if (keep <= 0) break
      if (record.hardState !== undefined) { this.durable.hardState = record.hardState; continue }
      const part = (record.entries ?? []).slice(0, keep)
      keep -= part.length
      if (part.length > 0) applyAppend(this.durable, part)
    }
    this.unsynced = []
  }

  close (): void {}
}

function applyAppend (image: Image, entries: Entry[]): void {
  const first = (entries[0] as Entry).index
  image.entries = image.entries.filter((e) => e.index < first).concat(entries)
}
