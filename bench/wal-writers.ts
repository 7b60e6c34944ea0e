/**
 * @module bench/wal-writers
 * Append + fdatasync latency with several writer processes at once (issue 16): a Raft commit on one
 * machine is three nodes each appending to its WAL and syncing at the same moment. Each writer process
 * appends one 200-byte entry and syncs, `WAL_WRITERS_OPS` times, in its own temp dir; the table gives the
 * per-operation p50/p99/max over all writers. Modes, run in rounds (`WAL_WRITERS_ROUNDS`), each round
 * starting one mode later:
 *
 * - `storage-append`: FileStorage with `preallocateBytes: 0` (every append grows the file; before issue 16)
 * - `storage-prewritten`: FileStorage as shipped (records overwrite zeros written ahead)
 * - `raw-append`, `raw-sparse`, `raw-zeros`: bare `fs.writeSync` + `fs.fdatasyncSync` of a 232-byte record
 *   appended to a growing file, written into a 64 MiB file made by ftruncate (holes), or into a 64 MiB
 *   file of written and synced zeros.
 *
 * Run: `node dist/bench/wal-writers.js` after `npm run build` (WAL_WRITERS=3, WAL_WRITERS_OPS=1000,
 * WAL_WRITERS_ROUNDS=2, WAL_WRITERS_MODES=comma list).
 */
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { FileStorage } from '../src/consensus/storage/file-storage.js'
import { EntryType } from '../src/consensus/core/types.js'
import { printTable, quantile } from './lib/stats.js'

const MODES = ['storage-append', 'storage-prewritten', 'raw-append', 'raw-sparse', 'raw-zeros'] as const
type Mode = typeof MODES[number]
const RAW_FILE_BYTES = 64 * 1024 * 1024
const RECORD = Buffer.alloc(232, 7)

/** One writer: prepares its file, waits for "go", runs `ops` append + sync, sends the latencies (µs). */
async function writer (mode: Mode, ops: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-walwriters-'))
  const micros: number[] = []
  let op: () => void
  let done: () => void
  if (mode.startsWith('storage')) {
    const storage = new FileStorage(dir, { preallocateBytes: mode === 'storage-append' ? 0 : undefined })
    storage.setHardState({ term: 1, vote: null, commit: 0 }); storage.sync()
    const data = new Uint8Array(200).fill(7)
    let index = 0
    op = () => { storage.append([{ index: ++index, term: 1, type: EntryType.Normal, data }]); storage.sync() }
    done = () => { storage.close() }
  } else {
    const file = path.join(dir, 'raw.log')
    const fd = fs.openSync(file, 'w')
    if (mode === 'raw-sparse') fs.ftruncateSync(fd, RAW_FILE_BYTES)
    if (mode === 'raw-zeros') {
      const zeros = Buffer.alloc(1024 * 1024)
      for (let at = 0; at < RAW_FILE_BYTES; at += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, at)
    }
    fs.fdatasyncSync(fd)
    let at = 0
    op = () => { fs.writeSync(fd, RECORD, 0, RECORD.length, at); at += RECORD.length; fs.fdatasyncSync(fd) }
    done = () => { fs.closeSync(fd) }
  }
  process.send?.({ ready: true })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  for (let i = 0; i < ops; i++) {
    const start = process.hrtime.bigint()
    op()
    micros.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  done()
  fs.rmSync(dir, { recursive: true, force: true })
  process.send?.({ micros })
}

/** Starts `writers` processes in `mode`, releases them together once all are prepared, gathers latencies. */
async function round (mode: Mode, writers: number, ops: number): Promise<number[]> {
  const children = Array.from({ length: writers }, () => fork(process.argv[1] as string, [], { env: { ...process.env, WAL_WRITER_MODE: mode, WAL_WRITER_OPS: String(ops) } }))
  const results = children.map(async (child) => await new Promise<number[]>((resolve, reject) => {
    child.on('message', (m: { micros?: number[] }) => { if (m.micros !== undefined) resolve(m.micros) })
    child.on('exit', (code) => { if (code !== 0) reject(new Error(`writer exited ${String(code)}`)) })
  }))
  await Promise.all(children.map(async (child) => await new Promise<void>((resolve) => {
    child.on('message', (m: { ready?: boolean }) => { if (m.ready === true) resolve() })
  })))
  for (const child of children) child.send('go')
  return (await Promise.all(results)).flat()
}

if (process.env.WAL_WRITER_MODE !== undefined) {
  await writer(process.env.WAL_WRITER_MODE as Mode, Number(process.env.WAL_WRITER_OPS))
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const writers = Number(process.env.WAL_WRITERS ?? 3)
  const ops = Number(process.env.WAL_WRITERS_OPS ?? 1000)
  const rounds = Number(process.env.WAL_WRITERS_ROUNDS ?? 2)
  const modes = (process.env.WAL_WRITERS_MODES?.split(',') ?? [...MODES]) as Mode[]
  const rows: Array<Array<string | number>> = []
  for (let r = 1; r <= rounds; r++) {
    // Each round starts one mode later, so no mode always runs first (or right after raw-zeros' 192 MiB).
    for (const mode of [...modes.slice((r - 1) % modes.length), ...modes.slice(0, (r - 1) % modes.length)]) {
      const micros = await round(mode, writers, ops)
      rows.push([r, mode, writers, micros.length, quantile(micros, 0.5), quantile(micros, 0.99), Math.max(...micros)])
    }
  }
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  printTable(['round', 'mode', 'writers', 'ops', 'p50 µs', 'p99 µs', 'max µs'], rows)
}
