/**
 * @module bench/wal
 * FileStorage append throughput with fsync (issue 3 item 6): batches of 1, 16 and 256 entries of 200
 * bytes, each batch appended then synced once (group commit), in a temp dir on this machine's disk.
 * `runWalBench()` is called by bench/raft-core.ts; run alone with `node dist/bench/wal.js`.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { FileStorage } from '../src/consensus/storage/file-storage.js'
import { EntryType } from '../src/consensus/core/types.js'
import type { Entry } from '../src/consensus/core/types.js'
import { printTable } from './lib/stats.js'

export interface WalRow { batch: number, entriesPerSecond: number, syncsPerSecond: number, microsPerSync: number }

const ENTRY_BYTES = 200

export async function runWalBench (durationMs = Number(process.env.WAL_BENCH_MS ?? 2000)): Promise<WalRow[]> {
  const rows: WalRow[] = []
  for (const batch of [1, 16, 256]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-walbench-'))
    const storage = new FileStorage(dir)
    try {
      const data = new Uint8Array(ENTRY_BYTES).fill(7)
      let index = 0
      let syncs = 0
      const start = performance.now()
      while (performance.now() - start < durationMs) {
        const entries: Entry[] = []
        for (let i = 0; i < batch; i++) entries.push({ index: ++index, term: 1, type: EntryType.Normal, data })
        storage.append(entries)
        storage.sync()
        syncs++
      }
      const seconds = (performance.now() - start) / 1000
      rows.push({ batch, entriesPerSecond: index / seconds, syncsPerSecond: syncs / seconds, microsPerSync: seconds * 1e6 / syncs })
    } finally {
      storage.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  return rows
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runWalBench()
  printTable(['WAL batch (200 B entries)', 'entries/s', 'fsyncs/s', 'µs per append+fsync'],
    rows.map((r) => [r.batch, r.entriesPerSecond, r.syncsPerSecond, r.microsPerSync]))
}
