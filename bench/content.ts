/**
 * @module bench/content
 * `npm run bench:content` (issue 13), in one run on loopback:
 * 1. BLAKE3 speed of the native binding (one-shot and streamed in 1 MiB chunks, as the store hashes).
 * 2. A single transfer of BENCH_CONTENT_MIB (256) MiB from node 0 to node 1 (fetch, every chunk verified and
 *    written), side by side with a raw TCP copy and a plain HTTP download with curl of the same file
 *    (both also written to disk).
 * 3. Another file of the same size from node 0 to 8 node processes at once (swarming) vs the single transfer.
 * 4. Peak RSS (VmHWM) of the seed and the fetchers, and a large transfer of BENCH_CONTENT_LARGE_MIB (1024)
 *    MiB with the RSS of both ends.
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
import { RevoadaCluster } from './revoada/cluster.js'
import type { RevoadaProc } from './revoada/cluster.js'
import { machineDescription, printTable } from './lib/stats.js'

const MIB = 1024 * 1024
const SIZE_MIB = Number(process.env.BENCH_CONTENT_MIB ?? 256)
const LARGE_MIB = Number(process.env.BENCH_CONTENT_LARGE_MIB ?? 1024)
const FANOUT = Number(process.env.BENCH_CONTENT_FANOUT ?? 8)
const FETCH_TIMEOUT_MS = 60 * 60 * 1000

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

async function fetchOn (cluster: RevoadaCluster, proc: RevoadaProc, cid: string): Promise<number> {
  const start = process.hrtime.bigint()
  await cluster.post(proc, `/v1/content/${cid}/fetch?wait=true`, {}, FETCH_TIMEOUT_MS)
  return seconds(start)
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

/** Peak resident set of a process in MiB (VmHWM), or NaN. */
function peakRssMib (pid: number | undefined): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? Number.NaN : Number(match[1]) / 1024
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
  const cluster = await RevoadaCluster.start(2 + FANOUT, { policy: { enabled: false }, content: { quotaBytes: 64 * 1024 * MIB } })
  try {
    const [seed, single, ...fan] = cluster.procs as [RevoadaProc, RevoadaProc, ...RevoadaProc[]]
    await waitConfigured(cluster)
    const fileA = path.join(work, 'a.bin')
    const fileB = path.join(work, 'b.bin')
    await writeRandomFile(fileA, SIZE_MIB)
    await writeRandomFile(fileB, SIZE_MIB)
    let start = process.hrtime.bigint()
    const cidA = await add(seed, fileA)
    const addSeconds = seconds(start)
    await waitProviders(cluster, [single], cidA, 1)
    const singleSeconds = await fetchOn(cluster, single, cidA)
    const tcpSeconds = await rawTcpCopy(fileA, path.join(work, 'tcp.bin'))
    const curlSeconds = await curlInChild(fileA, path.join(work, 'curl.bin'))
    const cidB = await add(seed, fileB)
    await waitProviders(cluster, fan, cidB, 1)
    start = process.hrtime.bigint()
    const each = await Promise.all(fan.map(async (proc) => await fetchOn(cluster, proc, cidB)))
    const fanSeconds = seconds(start)
    const mbps = (s: number): number => SIZE_MIB * MIB / 1e6 / s
    printTable(['transfer of ' + SIZE_MIB + ' MiB', 'seconds', 'MB/s', 'ratio'], [
      ['add on the seed (chunk, hash, write)', addSeconds, mbps(addSeconds), '-'],
      ['revoada fetch, 1 peer', singleSeconds, mbps(singleSeconds), (tcpSeconds / singleSeconds).toFixed(2) + '× raw TCP'],
      ['raw TCP copy (node net → file)', tcpSeconds, mbps(tcpSeconds), '1.00× raw TCP'],
      ['HTTP download with curl', curlSeconds, mbps(curlSeconds), (tcpSeconds / curlSeconds).toFixed(2) + '× raw TCP'],
      [`revoada fetch, ${FANOUT} peers at once (all done)`, fanSeconds, mbps(fanSeconds) * FANOUT, (fanSeconds / singleSeconds).toFixed(2) + '× single (target ≤ 2)'],
      [`  slowest / fastest of the ${FANOUT}`, Math.max(...each), Math.min(...each), '-']
    ])
    printTable(['process', 'peak RSS MiB (VmHWM)'], cluster.procs.map((p, i) => [i === 0 ? 'seed' : i === 1 ? 'single fetcher' : `fan-out fetcher ${i - 1}`, peakRssMib(p.child.pid)]))
    if (LARGE_MIB > 0) await large(cluster, seed, single, work)
  } finally {
    await cluster.stop()
    await fs.rm(work, { recursive: true, force: true })
  }
}

async function large (cluster: RevoadaCluster, seed: RevoadaProc, fetcher: RevoadaProc, work: string): Promise<void> {
  const file = path.join(work, 'large.bin')
  await writeRandomFile(file, LARGE_MIB)
  const before = [peakRssMib(seed.child.pid), peakRssMib(fetcher.child.pid)]
  let start = process.hrtime.bigint()
  const cid = await add(seed, file)
  const addSeconds = seconds(start)
  await fs.rm(file)
  await waitProviders(cluster, [fetcher], cid, 1)
  start = process.hrtime.bigint()
  await fetchOn(cluster, fetcher, cid)
  const fetchSeconds = seconds(start)
  printTable([`large file ${LARGE_MIB} MiB`, 'seconds', 'peak RSS MiB before', 'peak RSS MiB after'], [
    ['add on the seed', addSeconds, before[0] as number, peakRssMib(seed.child.pid)],
    ['fetch on one peer', fetchSeconds, before[1] as number, peakRssMib(fetcher.child.pid)]
  ])
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
