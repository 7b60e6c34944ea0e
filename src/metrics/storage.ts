/**
 * @module metrics/storage
 * Times the Raft storage's fsync without the consensus layer knowing: the node wraps the storage it hands
 * to consensus (node/services.ts). Everything else passes straight through.
 */
import { performance } from 'node:perf_hooks'
import type { Storage, StorageState } from '../consensus/storage/types.js'
import type { Entry, HardState, Snapshot } from '../consensus/core/types.js'

/** A Storage that reports the duration of every `sync()` in seconds. */
export class TimedStorage implements Storage {
  /** Present when the inner storage flushes off the event loop (FileStorage): timed the same way. */
  readonly syncAsync?: () => Promise<void>
  /** Present when the inner storage writes a hard state and entries together (FileStorage). */
  readonly setHardStateAndAppend?: (hardState: HardState, entries: Entry[]) => void

  constructor (private readonly inner: Storage, private readonly observeFsyncSeconds: (seconds: number) => void) {
    const both = inner.setHardStateAndAppend?.bind(inner)
    if (both !== undefined) this.setHardStateAndAppend = both
    const flush = inner.syncAsync?.bind(inner)
    if (flush !== undefined) {
      this.syncAsync = async () => {
        const startMs = performance.now()
        try {
          await flush()
        } finally {
          this.observeFsyncSeconds((performance.now() - startMs) / 1000)
        }
      }
    }
  }

  load (): StorageState { return this.inner.load() }
  append (entries: Entry[]): void { this.inner.append(entries) }
  setHardState (hardState: HardState): void { this.inner.setHardState(hardState) }
  saveSnapshot (snapshot: Snapshot): void { this.inner.saveSnapshot(snapshot) }
  compact (throughIndex: number): void { this.inner.compact(throughIndex) }
  close (): void { this.inner.close() }

  sync (): void {
    const startMs = performance.now()
    try {
      this.inner.sync()
    } finally {
      this.observeFsyncSeconds((performance.now() - startMs) / 1000)
    }
  }
}
