/**
 * @module consensus/storage/types
 * The durable storage contract of the Raft driver. It is synchronous on purpose: the driver is one serial
 * loop (persist → send → apply → advance, STYLE §9), a WAL append plus one fsync per Ready batch is group
 * commit, and the deterministic simulator can call the in-memory implementation without an event loop.
 *
 * Two implementations share one contract suite: `FileStorage` (segmented WAL, checksummed records, atomic
 * snapshot files) and `MemoryStorage` (simulator; a crash drops every write not yet synced).
 */
import type { Entry, HardState, Snapshot } from '../core/types.js'

/** What a storage holds after open: everything acknowledged before the last crash or stop. */
export interface StorageState {
  hardState: HardState
  /** The newest snapshot, or undefined if none was ever saved. */
  snapshot?: Snapshot
  /** Every entry after the snapshot (or from index 1), contiguous, in index order. */
  entries: Entry[]
}

export interface Storage {
  /** Reads back the durable state. Called once, right after construction/open. */
  load(): StorageState

  /**
   * Appends `entries` (contiguous). The hard state of their term must have been set first (the driver
   * persists a Ready's hard state before its entries): FileStorage refuses to load a log whose entries
   * are of a later term than its hard state, as that only happens when hard state records were lost. If the first index is at or below the last stored index, the stored
   * suffix from that index on is discarded first (a follower overwriting a conflicting tail). Not durable
   * until `sync()`.
   */
  append(entries: Entry[]): void

  /** Records a new hard state. Not durable until `sync()`. */
  setHardState(hardState: HardState): void

  /**
   * `setHardState(hardState)` then `append(entries)` in one write (the hard state first: a torn write may keep
   * a newer term without its entries, never the reverse). Not durable until `sync()`. Optional: the driver
   * otherwise makes the two calls (a Ready that carries both costs two write syscalls then).
   */
  setHardStateAndAppend?(hardState: HardState, entries: Entry[]): void

  /** Makes every earlier `append` and `setHardState` durable (one fsync for the whole batch). */
  sync(): void

  /**
   * As `sync()` for the writes made before the call, without blocking the caller's thread while the disk
   * flushes (the driver keeps stepping Raft meanwhile: asynchronous storage writes). Writes made while it
   * runs are not covered. One at a time. On failure (rejects with StorageFullError / StorageIoError) the
   * storage is rolled back to its last durable state, which also drops the writes made while it ran: the
   * caller rewrites everything it has not seen synced. Optional: without it the driver syncs inline.
   */
  syncAsync?(): Promise<void>

  /**
   * Durably stores `snapshot` (atomically: a crash leaves the old or the new one). Entries are kept: a
   * leader keeps a trailing window for slow followers. Durable when it returns.
   */
  saveSnapshot(snapshot: Snapshot): void

  /**
   * Discards every entry with index <= `throughIndex`, which must be <= the saved snapshot's index (old
   * WAL segments are deleted). After a crash, `load()` may still return some of them; never fewer.
   */
  compact(throughIndex: number): void

  /** Releases files. Further calls throw. */
  close(): void
}
