/**
 * @module bench/hash
 * `npm run bench:hash`: BLAKE3 candidates side by side in one run, sizes 64 B to 64 MiB — the native
 * binding we use (one-shot and streamed in 64 KiB chunks), @noble/hashes (pure JS), node:crypto SHA-256 as
 * a familiar reference, and Debian's `b3sum` (single-threaded, over a page-cached temp file) when installed.
 */
import '../src/polyfill.js'
import { createHash, randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'
import { blake3, createBlake3 } from '../src/codec/index.js'
import { machineDescription, printTable } from './lib/stats.js'

const SIZES = [64, 1024, 64 * 1024, 1024 * 1024, 64 * 1024 * 1024]
const TARGET_MS = 250
const CHUNK = 64 * 1024

type Candidate = { name: string, run: (input: Uint8Array) => unknown, maxBytes?: number }

const candidates: Candidate[] = [
  { name: 'napi blake3 one-shot', run: (input) => blake3(input) },
  {
    name: 'napi blake3 streamed 64K',
    run: (input) => {
      const hasher = createBlake3()
      for (let offset = 0; offset < input.length; offset += CHUNK) hasher.update(input.subarray(offset, offset + CHUNK))
      return hasher.digest()
    }
  },
  { name: '@noble/hashes blake3', run: (input) => nobleBlake3(input), maxBytes: 1024 * 1024 },
  { name: 'node:crypto sha256', run: (input) => createHash('sha256').update(input).digest() }
]

/** Median MB/s over 5 timed batches after a warm-up batch sized to about TARGET_MS. */
function measure (run: (input: Uint8Array) => unknown, input: Uint8Array): { mbPerSecond: number, microsPerOp: number } {
  let iterations = 1
  for (;;) {
    const start = performance.now()
    for (let i = 0; i < iterations; i++) run(input)
    const elapsed = performance.now() - start
    if (elapsed >= 25 || iterations >= 1 << 24) { iterations = Math.max(1, Math.round(iterations * TARGET_MS / Math.max(elapsed, 0.001))); break }
    iterations *= 4
  }
  const samples: number[] = []
  for (let batch = 0; batch < 5; batch++) {
    const start = performance.now()
    for (let i = 0; i < iterations; i++) run(input)
    samples.push((performance.now() - start) / iterations)
  }
  samples.sort((a, b) => a - b)
  const msPerOp = samples[2] as number
  return { mbPerSecond: input.length / 1e6 / (msPerOp / 1000), microsPerOp: msPerOp * 1000 }
}

function b3sumMbPerSecond (size: number): number | null {
  if (spawnSync('sh', ['-c', 'command -v b3sum']).status !== 0) return null
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-hash-')), 'input')
  fs.writeFileSync(file, randomBytes(size))
  try {
    spawnSync('b3sum', ['--num-threads', '1', file])
    const runs = 7
    const times: number[] = []
    for (let i = 0; i < runs; i++) {
      const start = performance.now()
      spawnSync('b3sum', ['--num-threads', '1', file])
      times.push(performance.now() - start)
    }
    times.sort((a, b) => a - b)
    return size / 1e6 / ((times[3] as number) / 1000)
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}

console.log(`machine: ${await machineDescription()}`)
console.log('command: npm run bench:hash')
const rows: Array<Array<string | number>> = []
for (const size of SIZES) {
  const input = new Uint8Array(randomBytes(size))
  const reference = measure(candidates[0]!.run, input).mbPerSecond
  for (const candidate of candidates) {
    if (candidate.maxBytes !== undefined && size > candidate.maxBytes) continue
    const result = candidate === candidates[0] ? { mbPerSecond: reference, microsPerOp: input.length / reference } : measure(candidate.run, input)
    rows.push([candidate.name, size, result.mbPerSecond, result.microsPerOp, `${(result.mbPerSecond / reference).toFixed(3)}×`])
  }
}
const b3sum = b3sumMbPerSecond(64 * 1024 * 1024)
if (b3sum !== null) rows.push(['b3sum 1 thread (incl. process start)', 64 * 1024 * 1024, b3sum, Number.NaN, '-'])
else console.log('b3sum not installed (apt-get install b3sum) — its row is skipped')
printTable(['candidate', 'bytes', 'MB/s', 'µs/op', 'vs napi one-shot'], rows)
