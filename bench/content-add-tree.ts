/**
 * @module bench/content-add-tree
 * `revoada content add DIR` of a tree of many small files against one `revoada start` process: the wall time
 * of the CLI command and, with strace attached to the node, the fdatasyncs the node made for it. Every file
 * and directory added is one store-index change, durable (journal append + fdatasync) before its request is
 * answered; changes made together share one append and one fdatasync (group commit, docs/CONTENT.md §3). So
 * the figures tell how many index changes the CLI lets overlap.
 * Each measurement adds a fresh tree (new random bytes, the same shape and sizes) to a fresh node, and checks
 * the printed root CID against one computed here from the bytes (src/content/core's manifests). The CPU
 * seconds of the node and of the CLI process are reported too: on 2 cores they bound the add as much as the
 * fdatasyncs do.
 * BENCH_ADD_BASELINE=<path to another build's dist/src/cli/main.js> runs that CLI and this build's alternately,
 * round by round, against nodes of this build (only the CLI differs).
 * Usage: `npm run build && node dist/bench/content-add-tree.js`
 * Env: BENCH_ADD_FILES (500), BENCH_ADD_DIRS (20), BENCH_ADD_ROUNDS (2), BENCH_ADD_BASELINE,
 * BENCH_ADD_STRACE=1 (one more add per CLI with strace attached, counting fdatasync and fsync).
 */
import '../src/polyfill.js'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CID } from 'multiformats/cid'
import { CHUNK_BYTES, dirSize, encodeManifest, sortEntries } from '../src/content/core/index.js'
import type { DirEntry } from '../src/content/core/index.js'
import { blake3 } from '../src/codec/index.js'
import { RevoadaCluster } from './revoada/cluster.js'
import { cpuSeconds } from './revoada/cpu.js'
import type { RevoadaProc } from './revoada/cluster.js'
import { machineDescription, median, printTable } from './lib/stats.js'

const FILES = Number(process.env.BENCH_ADD_FILES ?? 500)
const DIRS = Number(process.env.BENCH_ADD_DIRS ?? 20)
const ROUNDS = Number(process.env.BENCH_ADD_ROUNDS ?? 2)
const BASELINE = process.env.BENCH_ADD_BASELINE
const STRACE = process.env.BENCH_ADD_STRACE === '1'
const THIS_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js')
/** File sizes are drawn from [FILE_BYTES_MIN, FILE_BYTES_MAX] by a fixed seed: every tree has the same shape. */
const FILE_BYTES_MIN = 1024
const FILE_BYTES_MAX = 4096
const SEED = 0x5eed
const ADD_TIMEOUT_MS = 10 * 60 * 1000

/** A small PRNG (mulberry32), so every tree has the same sizes. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/**
 * Writes the tree under `root`: DIRS directories, the first quarter at the top and the others spread below
 * them (two levels), FILES files dealt round-robin among them, none at the top. Returns the root CID
 * `content add` must print, computed from the bytes (every file is within one chunk).
 */
async function writeTree (root: string): Promise<string> {
  const random = prng(SEED)
  const tops = Math.max(1, Math.floor(DIRS / 4))
  const dirs: string[] = []
  for (let i = 0; i < DIRS; i++) dirs.push(i < tops ? `d${i}` : path.join(`d${i % tops}`, `s${i}`))
  for (const dir of dirs) await fs.mkdir(path.join(root, dir), { recursive: true })
  for (let i = 0; i < FILES; i++) {
    const size = FILE_BYTES_MIN + Math.floor(random() * (FILE_BYTES_MAX - FILE_BYTES_MIN + 1))
    await fs.writeFile(path.join(root, dirs[i % DIRS] as string, `f${i}.bin`), randomBytes(size))
  }
  return (await expectedCid(root)).cid.toString()
}

/** The root CID and size of `target` as the store builds them (docs/CONTENT.md §2). */
async function expectedCid (target: string): Promise<{ cid: CID, size: number }> {
  const stat = await fs.stat(target)
  if (stat.isFile()) {
    const bytes = await fs.readFile(target)
    if (bytes.length > CHUNK_BYTES) throw new Error(`${target}: the bench's files fit in one chunk`)
    const chunks = bytes.length === 0 ? [] : [blake3(bytes)]
    return { cid: encodeManifest({ v: 1, type: 'file', size: bytes.length, chunkBytes: CHUNK_BYTES, chunks }).cid, size: bytes.length }
  }
  const entries: DirEntry[] = []
  for (const name of await fs.readdir(target)) entries.push({ name, ...await expectedCid(path.join(target, name)) })
  return { cid: encodeManifest({ v: 1, type: 'dir', entries: sortEntries(entries) }).cid, size: dirSize(entries) }
}

/** Attaches strace to every thread of `pid`, counting fdatasync and fsync; resolves once it is attached. */
async function attachStrace (pid: number, out: string): Promise<() => Promise<{ fdatasync: number, fsync: number }>> {
  const child = spawn('strace', ['-f', '-p', String(pid), '-e', 'trace=fdatasync,fsync', '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      if (stderr.includes('attached')) resolve()
    })
    child.once('exit', (code) => { reject(new Error(`strace exited ${String(code)}: ${stderr}`)) })
  })
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGINT')
    await exited
    const lines = (await fs.readFile(out, 'utf8')).split('\n')
    // A call that another thread's interrupts is logged "fdatasync(… <unfinished …>" then "<… fdatasync resumed>".
    return { fdatasync: lines.filter((l) => l.includes('fdatasync(')).length, fsync: lines.filter((l) => /\bfsync\(/.test(l)).length }
  }
}

/** User + system CPU seconds of this process's children that have exited and been waited for (/proc/self/stat). */
async function reapedChildrenCpuSeconds (): Promise<number> {
  const stat = await fs.readFile('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // cutime and cstime, in USER_HZ (100) ticks, as bench/revoada/cpu.ts reads utime and stime.
  return (Number(fields[13]) + Number(fields[14])) / 100
}

/** Runs `content add` with `cli`; its wall seconds and stdout. */
async function runAdd (cli: string, tree: string, proc: RevoadaProc): Promise<{ seconds: number, stdout: string }> {
  const start = process.hrtime.bigint()
  const child = spawn(process.execPath, [cli, 'content', 'add', tree, '--data-dir', proc.dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), ADD_TIMEOUT_MS)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`content add exited ${String(code)}: ${stderr}`)
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, stdout }
}

interface Measurement { label: string, seconds: number, nodeCpuSeconds: number, cliCpuSeconds: number, fdatasync?: number, fsync?: number }

/** One add of a fresh tree by `cli` to a fresh node; strace attached when `traced`. */
async function measure (label: string, cli: string, traced: boolean): Promise<Measurement> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-bench-tree-'))
  const cluster = await RevoadaCluster.empty({ policy: { enabled: false } })
  try {
    const tree = path.join(work, 'tree')
    const expected = await writeTree(tree)
    const proc = await cluster.spawn(cluster.nodeDir(0))
    const detach = traced ? await attachStrace(proc.child.pid as number, path.join(work, 'strace.out')) : undefined
    const nodeCpu = await cpuSeconds([proc.child.pid as number])
    const cliCpu = await reapedChildrenCpuSeconds()
    const { seconds, stdout } = await runAdd(cli, tree, proc)
    const nodeCpuSeconds = await cpuSeconds([proc.child.pid as number]) - nodeCpu
    const cliCpuSeconds = await reapedChildrenCpuSeconds() - cliCpu
    const counts = await detach?.()
    if (stdout.trim() !== expected) throw new Error(`${label}: content add printed ${stdout.trim()}, expected ${expected}`)
    return { label, seconds, nodeCpuSeconds, cliCpuSeconds, ...counts }
  } finally {
    await cluster.stop()
    await fs.rm(work, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ')
  console.log(`${await machineDescription()}; load average at start ${load}`)
  console.log(`tree: ${FILES} files of ${FILE_BYTES_MIN}-${FILE_BYTES_MAX} bytes in ${DIRS} directories (+ the top); ${FILES + DIRS + 1} index changes`)
  const clis: Array<[string, string]> = [...(BASELINE !== undefined ? [['baseline', BASELINE] as [string, string]] : []), ['this build', THIS_CLI]]
  const runs: Measurement[] = []
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, cli] of clis) {
      const m = await measure(label, cli, false)
      console.log(`round ${round + 1}, ${label}: ${m.seconds.toFixed(2)} s (CPU: node ${m.nodeCpuSeconds.toFixed(2)} s, CLI ${m.cliCpuSeconds.toFixed(2)} s)`)
      runs.push(m)
    }
  }
  const traced: Measurement[] = []
  if (STRACE) for (const [label, cli] of clis) traced.push(await measure(label, cli, true))
  printTable(['CLI', 'adds (s)', 'median (s)', 'ms per object', 'CPU node / CLI (s, medians)', 'fdatasync (strace run)', 'fsync', 'strace run (s)'], clis.map(([label]) => {
    const mine = runs.filter((m) => m.label === label)
    const own = mine.map((m) => m.seconds)
    const t = traced.find((m) => m.label === label)
    const cpu = `${median(mine.map((m) => m.nodeCpuSeconds)).toFixed(2)} / ${median(mine.map((m) => m.cliCpuSeconds)).toFixed(2)}`
    return [label, own.map((s) => s.toFixed(2)).join(' / '), median(own), 1000 * median(own) / (FILES + DIRS + 1), cpu,
      t?.fdatasync ?? '-', t?.fsync ?? '-', t !== undefined ? t.seconds.toFixed(2) : '-']
  }))
  console.log(`load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
