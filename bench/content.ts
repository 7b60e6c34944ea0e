/**
 * @module bench/content
 * `npm run bench:content` (issue 13), in one run on loopback:
 * 1. BLAKE3 speed of the native binding (one-shot and streamed in 1 MiB chunks, as the store hashes).
 * 2. With two nodes running: a single transfer of BENCH_CONTENT_MIB (256) MiB from node 0 to node 1 (fetch,
 *    every chunk verified and written), side by side with a raw TCP copy and a plain HTTP download with curl
 *    of the same file (both also written to disk); then a large file of BENCH_CONTENT_LARGE_MIB (4096) MiB
 *    added and fetched, with the peak RSS of both ends sampled during each.
 * 3. BENCH_CONTENT_FANOUT (8) more nodes join; another file of BENCH_CONTENT_MIB is fetched by all of them at
 *    once (swarming) vs the single transfer, with the CPU all node processes spent and the floor that CPU
 *    puts on the fan-out time on this machine's cores.
 * Env: BENCH_CONTENT_MIB, BENCH_CONTENT_LARGE_MIB (0 skips), BENCH_CONTENT_FANOUT (8).
 */
import '../src/polyfill.js'
import { createReadStream, createWriteStream, promises as fs, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { blake3, createBlake3 } from '../src/codec/index.js'
import { RevoadaCluster, REVOADA_BIN_NODE_FLAGS } from './revoada/cluster.js'
import type { RevoadaProc } from './revoada/cluster.js'
import { machineDescription, printTable } from './lib/stats.js'
import { cpuSeconds } from './revoada/cpu.js'

const MIB = 1024 * 1024
const SIZE_MIB = Number(process.env.BENCH_CONTENT_MIB ?? 256)
const LARGE_MIB = Number(process.env.BENCH_CONTENT_LARGE_MIB ?? 4096)
const FANOUT = Number(process.env.BENCH_CONTENT_FANOUT ?? 8)
const FETCH_TIMEOUT_MS = 60 * 60 * 1000
/** How often a running fetch's progress is polled (the time resolution of the transfer figures). */
const PROGRESS_POLL_MS = 50

function seconds (startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9
}

function hashing (): Array<[string, number]> {
  const input = randomBytes(64 * MIB)
  const time = (run: () => void): number => {
    run()
    const start = process.hrtime.bigint()
    for (let i = 0; i < 5; i++) run()
    return (5 * input.length / 1e9) / seconds(start)
  }
  return [
    ['one-shot 64 MiB', time(() => { blake3(input) })],
    ['streamed, 1 MiB updates', time(() => { const h = createBlake3(); for (let o = 0; o < input.length; o += MIB) h.update(input.subarray(o, o + MIB)); h.digest() })]
  ]
}

async function writeRandomFile (file: string, mib: number): Promise<void> {
  const out = createWriteStream(file)
  for (let i = 0; i < mib; i++) if (!out.write(randomBytes(MIB))) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  await new Promise<void>((resolve, reject) => { out.end(() => resolve()); out.once('error', reject) })
}

async function add (proc: RevoadaProc, file: string): Promise<string> {
  const res = await fetch(new URL('/v1/content', proc.api.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${proc.api.token}`, 'content-type': 'application/octet-stream' },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: 'half',
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS)
  } as RequestInit)
  if (!res.ok) throw new Error(`add: ${res.status} ${await res.text()}`)
  return (await res.json() as { cid: string }).cid
}

/**
 * Starts a fetch and polls its progress, as `revoada content get` does: one request held open for the whole
 * fetch would hit the HTTP client's headers timeout (300 s) on a large file.
 */
async function fetchOn (cluster: RevoadaCluster, proc: RevoadaProc, cid: string): Promise<number> {
  const start = process.hrtime.bigint()
  await cluster.post(proc, `/v1/content/${cid}/fetch`, {})
  const deadline = Date.now() + FETCH_TIMEOUT_MS
  while (true) {
    const progress = await cluster.get(proc, `/v1/content/${cid}/progress`) as { state: string, error?: { message: string } }
    if (progress.state === 'done') return seconds(start)
    if (progress.state === 'failed') throw new Error(`fetch failed: ${progress.error?.message ?? 'no message'}`)
    if (Date.now() > deadline) throw new Error('fetch did not finish')
    await new Promise((resolve) => setTimeout(resolve, PROGRESS_POLL_MS))
  }
}

async function waitProviders (cluster: RevoadaCluster, procs: RevoadaProc[], cid: string, count: number): Promise<void> {
  const deadline = Date.now() + 300_000
  for (const proc of procs) {
    while (((await cluster.get(proc, `/v1/content/${cid}/providers`)) as { providers: unknown[] }).providers.length < count) {
      if (Date.now() > deadline) throw new Error('providers not announced')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

/** Samples VmRSS of some processes every 250 ms and keeps the peak (MiB) since the last takePeaks(). */
class RssSampler {
  private peaks: number[]
  private readonly timer: NodeJS.Timeout
  constructor (private readonly pids: number[]) {
    this.peaks = pids.map(() => 0)
    this.timer = setInterval(() => { this.sample() }, 250)
  }

  private sample (): void {
    this.pids.forEach((pid, i) => { const now = statusMib(pid, 'VmRSS'); if (!Number.isNaN(now)) this.peaks[i] = Math.max(this.peaks[i] as number, now) })
  }

  /** The peaks since the last call, including a sample taken now (a phase shorter than the interval has one). */
  takePeaks (): number[] {
    this.sample()
    const peaks = this.peaks.map((p) => Math.round(p))
    this.peaks = this.pids.map(() => 0)
    return peaks
  }

  stop (): void { clearInterval(this.timer) }
}

/** A memory field of a process's /proc status in MiB, rounded (VmRSS: resident now; VmHWM: its peak), or NaN. */
function statusMib (pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? Number.NaN : Math.round(Number(match[1]) / 1024)
  } catch { return Number.NaN }
}

async function rawTcpCopy (file: string, target: string): Promise<number> {
  const server = net.createServer((socket) => { void pipeline(createReadStream(file), socket).catch(() => {}) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const start = process.hrtime.bigint()
  await pipeline(net.connect(port, '127.0.0.1'), createWriteStream(target))
  const elapsed = seconds(start)
  server.close()
  return elapsed
}

async function main (): Promise<void> {
  console.log(`# bench:content — ${await machineDescription()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  printTable(['BLAKE3 (native binding)', 'GB/s'], hashing())
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-bench-content-'))
  // The nodes run with the bin's own Node.js flags, as `revoada start` does: the RSS figures depend on them.
  // The single transfer and the large file run with just the two nodes involved (on one machine, idle nodes
  // of the fan-out would take CPU that separate machines would not); the fan-out fetchers join after.
  const cluster = await RevoadaCluster.start(2, { policy: { enabled: false }, content: { quotaBytes: 64 * 1024 * MIB } }, { nodeArgs: REVOADA_BIN_NODE_FLAGS })
  try {
    const [seed, single] = cluster.procs as [RevoadaProc, RevoadaProc]
    await waitConfigured(cluster)
    const fileA = path.join(work, 'a.bin')
    const fileB = path.join(work, 'b.bin')
    await writeRandomFile(fileA, SIZE_MIB)
    await writeRandomFile(fileB, SIZE_MIB)
    let start = process.hrtime.bigint()
    const cidA = await add(seed, fileA)
    const addSeconds = seconds(start)
    await waitProviders(cluster, [single], cidA, 1)
    let pids = cluster.procs.map((p) => p.child.pid as number)
    let cpuBefore = await cpuSeconds(pids)
    const singleSeconds = await fetchOn(cluster, single, cidA)
    const singleCpu = await cpuSeconds(pids) - cpuBefore
    const tcpSeconds = await rawTcpCopy(fileA, path.join(work, 'tcp.bin'))
    const curlSeconds = await curlInChild(fileA, path.join(work, 'curl.bin'))
    // Printed now as well: a later phase that fails on a loaded machine (a fan-out node that does not come up in
    // time) must not lose these figures. The tables at the end repeat them.
    console.log(`# single transfer: ${(SIZE_MIB * MIB / 1e6 / singleSeconds).toFixed(1)} MB/s = ${(tcpSeconds / singleSeconds).toFixed(2)}× raw TCP ` +
      `(${(SIZE_MIB * MIB / 1e6 / tcpSeconds).toFixed(0)} MB/s; curl ${(SIZE_MIB * MIB / 1e6 / curlSeconds).toFixed(0)} MB/s), ` +
      `${(singleCpu / (SIZE_MIB / 1024)).toFixed(1)} CPU s per GiB; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
    const largeRows = LARGE_MIB > 0 ? await large(cluster, seed, single, work) : []
    for (const row of largeRows) console.log(`# large file ${LARGE_MIB} MiB: ${row.join(' | ')}`)
    const fan = await joinFetchers(cluster, FANOUT)
    const cidB = await add(seed, fileB)
    await waitProviders(cluster, fan, cidB, 1)
    pids = cluster.procs.map((p) => p.child.pid as number)
    start = process.hrtime.bigint()
    cpuBefore = await cpuSeconds(pids)
    const each = await Promise.all(fan.map(async (proc) => await fetchOn(cluster, proc, cidB)))
    const fanSeconds = seconds(start)
    const fanCpu = await cpuSeconds(pids) - cpuBefore
    const mbps = (s: number): number => SIZE_MIB * MIB / 1e6 / s
    printTable(['transfer of ' + SIZE_MIB + ' MiB', 'seconds', 'MB/s', 'ratio'], [
      ['add on the seed (chunk, hash, write)', addSeconds, mbps(addSeconds), '-'],
      ['revoada fetch, 1 peer (2 nodes running)', singleSeconds, mbps(singleSeconds), (tcpSeconds / singleSeconds).toFixed(2) + '× raw TCP (target ≥ 0.5)'],
      ['raw TCP copy (node net → file)', tcpSeconds, mbps(tcpSeconds), '1.00× raw TCP'],
      ['HTTP download with curl', curlSeconds, mbps(curlSeconds), (tcpSeconds / curlSeconds).toFixed(2) + '× raw TCP'],
      [`revoada fetch, ${FANOUT} peers at once (all done)`, fanSeconds, mbps(fanSeconds) * FANOUT, (fanSeconds / singleSeconds).toFixed(2) + '× single (target ≤ 2)'],
      [`  slowest / fastest of the ${FANOUT}`, Math.max(...each), Math.min(...each), '-']
    ])
    // On one machine every byte moved costs CPU at both ends, so the fan-out cannot beat the node processes'
    // total CPU for it divided by the cores: this prints that floor next to the measured time.
    const cores = os.cpus().length
    printTable(['CPU of the node processes', 'CPU seconds', 'CPU s per GiB received', 'cores busy on average', `fan-out floor at ${cores} cores`], [
      ['single transfer (2 processes)', singleCpu, singleCpu / (SIZE_MIB / 1024), singleCpu / singleSeconds, '-'],
      [`${FANOUT} peers at once (${FANOUT + 2} processes)`, fanCpu, fanCpu / (FANOUT * SIZE_MIB / 1024), fanCpu / fanSeconds, `${(FANOUT * singleCpu / cores / singleSeconds).toFixed(2)}× single`]
    ])
    printTable(['process', 'peak RSS MiB (VmHWM)'], cluster.procs.map((p, i) => [i === 0 ? 'seed' : i === 1 ? 'single fetcher' : `fan-out fetcher ${i - 1}`, statusMib(p.child.pid, 'VmHWM')]))
    if (largeRows.length > 0) printTable([`large file ${LARGE_MIB} MiB (2 nodes running)`, 'seconds', 'MB/s', 'peak RSS MiB during (seed / fetcher)', 'VmHWM MiB before (seed / fetcher)'], largeRows)
  } finally {
    await cluster.stop()
    await fs.rm(work, { recursive: true, force: true })
  }
}

async function large (cluster: RevoadaCluster, seed: RevoadaProc, fetcher: RevoadaProc, work: string): Promise<Array<Array<string | number>>> {
  const file = path.join(work, 'large.bin')
  await writeRandomFile(file, LARGE_MIB)
  const before = [statusMib(seed.child.pid, 'VmHWM'), statusMib(fetcher.child.pid, 'VmHWM')]
  // VmHWM keeps the earlier transfers' peak, so the large transfer's own peak is sampled from VmRSS.
  const sampler = new RssSampler([seed.child.pid as number, fetcher.child.pid as number])
  let start = process.hrtime.bigint()
  const cid = await add(seed, file)
  const addSeconds = seconds(start)
  const addPeaks = sampler.takePeaks()
  await fs.rm(file)
  await waitProviders(cluster, [fetcher], cid, 1)
  start = process.hrtime.bigint()
  await fetchOn(cluster, fetcher, cid)
  const fetchSeconds = seconds(start)
  const fetchPeaks = sampler.takePeaks()
  sampler.stop()
  return [
    ['add on the seed', addSeconds, LARGE_MIB * MIB / 1e6 / addSeconds, `${addPeaks[0]} / ${addPeaks[1]}`, `${before[0]} / ${before[1]}`],
    ['fetch on one peer', fetchSeconds, LARGE_MIB * MIB / 1e6 / fetchSeconds, `${fetchPeaks[0]} / ${fetchPeaks[1]}`, '-']
  ]
}

/** Spawns `count` more nodes that join the cluster (the fan-out fetchers) and waits until all are admitted. */
async function joinFetchers (cluster: RevoadaCluster, count: number): Promise<RevoadaProc[]> {
  const first = cluster.procs[0] as RevoadaProc
  const join = ((await cluster.get(first, '/v1/join-string')) as { joinString: string }).joinString
  const before = cluster.procs.length
  for (let i = 0; i < count; i++) await cluster.spawn(cluster.nodeDir(before + i), join)
  await waitConfigured(cluster)
  return cluster.procs.slice(before)
}

/** curl against a server in a child process, so neither end shares this process's event loop with the other. */
async function curlInChild (file: string, target: string): Promise<number> {
  const script = `const http=require('http'),fs=require('fs');const s=http.createServer((q,r)=>fs.createReadStream(${JSON.stringify(file)}).pipe(r));s.listen(0,'127.0.0.1',()=>console.log(s.address().port))`
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))))
  const start = process.hrtime.bigint()
  const result = spawnSync('curl', ['-s', '-o', target, `http://127.0.0.1:${port}/file`])
  const elapsed = seconds(start)
  child.kill()
  return result.status === 0 ? elapsed : Number.NaN
}

async function waitConfigured (cluster: RevoadaCluster): Promise<void> {
  const n = cluster.procs.length
  const deadline = Date.now() + 600_000
  for (const proc of cluster.procs) {
    while (true) {
      const s = await cluster.status(proc)
      if (s.voters.length + s.learners.length === n) break
      if (Date.now() > deadline) throw new Error('configuration did not converge')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
