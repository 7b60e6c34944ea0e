/**
 * @module bench/content-pair
 * One content transfer between two `revoada start` processes, with the CPU each end spends: the quick
 * before/after measurement behind docs/bench/content.md's single-peer work (the full `npm run bench:content`
 * takes ten processes and a 4 GiB file). Adds BENCH_CONTENT_MIB (256) MiB on node 0, fetches it on node 1,
 * and prints MB/s, CPU seconds per GiB received (both processes, and each end) and the peak RSS of both.
 * CPU per GiB depends far less on other load than MB/s does: compare it first, and only adjacent runs.
 * Node flags: the `revoada` bin's own (src/cli/node-flags.ts), or BENCH_NODE_ARGS when set (e.g. to
 * profile with `--cpu-prof --cpu-prof-dir=<dir>`).
 * Usage: `npm run build && BENCH_CONTENT_MIB=256 node dist/bench/content-pair.js`
 */
import '../src/polyfill.js'
import { createReadStream, createWriteStream, promises as fs, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { RevoadaCluster, REVOADA_BIN_NODE_FLAGS } from './revoada/cluster.js'
import { cpuSeconds } from './revoada/cpu.js'

const MIB = 1024 * 1024
const SIZE_MIB = Number(process.env.BENCH_CONTENT_MIB ?? 256)
const POLL_MS = 50

function vmMib (pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'))?.[1]) / 1024
  } catch {
    return Number.NaN
  }
}

async function writeRandomFile (file: string, mib: number): Promise<void> {
  const out = createWriteStream(file)
  for (let i = 0; i < mib; i++) if (!out.write(randomBytes(MIB))) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  await new Promise<void>((resolve, reject) => { out.end(() => resolve()); out.once('error', reject) })
}

const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '') !== '' ? undefined : REVOADA_BIN_NODE_FLAGS
const cluster = await RevoadaCluster.start(2, { policy: { enabled: false }, content: { quotaBytes: 64 * 1024 * MIB } }, nodeArgs !== undefined ? { nodeArgs } : {})
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-content-pair-'))
try {
  const [seed, fetcher] = cluster.procs as [typeof cluster.procs[0], typeof cluster.procs[0]]
  const pids = [seed.child.pid as number, fetcher.child.pid as number]
  const file = path.join(dir, 'payload')
  await writeRandomFile(file, SIZE_MIB)
  let start = performance.now()
  const res = await fetch(new URL('/v1/content', seed.api.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${seed.api.token}`, 'content-type': 'application/octet-stream' },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: 'half'
  } as RequestInit)
  const { cid } = await res.json() as { cid: string }
  console.log(`add ${SIZE_MIB} MiB: ${((performance.now() - start) / 1000).toFixed(2)} s`)
  while (((await cluster.get(fetcher, `/v1/content/${cid}/providers`)) as { providers: unknown[] }).providers.length < 1) await new Promise((resolve) => setTimeout(resolve, 100))
  const before = await Promise.all(pids.map(async (pid) => await cpuSeconds([pid])))
  start = performance.now()
  await cluster.post(fetcher, `/v1/content/${cid}/fetch`, {})
  while (((await cluster.get(fetcher, `/v1/content/${cid}/progress`)) as { state: string }).state !== 'done') await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  const elapsed = (performance.now() - start) / 1000
  const spent = (await Promise.all(pids.map(async (pid) => await cpuSeconds([pid])))).map((cpu, i) => cpu - (before[i] as number))
  const gib = SIZE_MIB / 1024
  const [seedCpu, fetcherCpu] = spent as [number, number]
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log(`fetch ${SIZE_MIB} MiB: ${elapsed.toFixed(2)} s = ${(SIZE_MIB * MIB / 1e6 / elapsed).toFixed(1)} MB/s; ` +
    `CPU ${((seedCpu + fetcherCpu) / gib).toFixed(1)} s per GiB (seed ${(seedCpu / gib).toFixed(1)}, fetcher ${(fetcherCpu / gib).toFixed(1)}), ` +
    `${((seedCpu + fetcherCpu) / elapsed).toFixed(2)} cores busy`)
  console.log(`peak RSS MiB (VmHWM): seed ${vmMib(pids[0], 'VmHWM').toFixed(0)}, fetcher ${vmMib(pids[1], 'VmHWM').toFixed(0)}`)
} finally {
  await cluster.stop()
  await fs.rm(dir, { recursive: true, force: true })
}
