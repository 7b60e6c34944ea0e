/**
 * Start-up CPU and idle resident memory of one `revoada start` process (issue 11 item 10, issue 16 "Scale"):
 * starts a fresh single-node cluster, reads the CPU-seconds (utime + stime, /proc) the process spent until its
 * admin API answered `GET /v1/status`, waits IDLE_S seconds and prints VmRSS and RssAnon (the private part:
 * VmRSS also counts the node binary's pages, shared by every node process). Both figures are per process
 * and do not depend on the machine's load the way times do. Also the idle CPU (ms of CPU per second, all
 * threads) over the last IDLE_S − 10 seconds of the wait, the first 10 s left for start-up's tail (issue 16:
 * a lone node's baseline, × 50 nodes against the 1-core budget); that one does move with the load. Compares
 * what the `revoada` bin runs (the bundle, with its Node flags) with tsc's unbundled output and with the bundle
 * without the flags; RSS_RUNS runs of each, alternating. RSS_VARIANTS=bin runs the bin only; RSS_DIST points
 * at another build's `dist` (e.g. the base of a comparison). `npm run bench:rss`.
 */
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { REVOADA_BIN_NODE_FLAGS } from './revoada/cluster.js'
import { cpuSeconds } from './revoada/cpu.js'
import { rssMb } from './revoada/scale-checks.js'

const DIST = process.env.RSS_DIST ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const IDLE_S = Number(process.env.IDLE_S ?? 40)
/** Seconds after the API answered before the idle CPU window opens. */
const SETTLE_S = Math.min(10, IDLE_S / 2)
const RUNS = Number(process.env.RSS_RUNS ?? 1)
const START_DEADLINE_MS = 120_000
const POLL_MS = 20

interface Variant { label: string, main: string, flags: readonly string[] }

const ALL_VARIANTS: Variant[] = [
  { label: 'revoada bin (dist/bundle, bin flags)', main: path.join(DIST, 'bundle/main.js'), flags: REVOADA_BIN_NODE_FLAGS },
  { label: 'tsc output (dist/src, bin flags)', main: path.join(DIST, 'src/cli/main.js'), flags: REVOADA_BIN_NODE_FLAGS },
  { label: 'bundle without flags', main: path.join(DIST, 'bundle/main.js'), flags: [] }
]
const VARIANTS = process.env.RSS_VARIANTS === 'bin' ? ALL_VARIANTS.slice(0, 1) : ALL_VARIANTS

interface Sample { startCpuS: number, startMs: number, rssMb: number, anonMb: number, idleCpuMsPerS: number }

/** True once the node in `dir` answers its status with the token of its api.json. */
async function answering (dir: string): Promise<boolean> {
  try {
    const api = JSON.parse(await fs.readFile(path.join(dir, 'api.json'), 'utf8')) as { url: string, token: string }
    const res = await fetch(`${api.url}/v1/status`, { headers: { authorization: `Bearer ${api.token}` } })
    return res.ok
  } catch {
    return false
  }
}

async function measure (variant: Variant): Promise<Sample> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-rss-'))
  const startedAt = Date.now()
  const child = spawn(process.execPath, [...variant.flags, variant.main, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], { stdio: 'ignore' })
  try {
    const pid = child.pid as number
    while (!await answering(dir)) {
      if (Date.now() - startedAt > START_DEADLINE_MS || child.exitCode !== null) throw new Error(`${variant.main} did not start`)
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
    const startCpuS = await cpuSeconds([pid])
    const startMs = Date.now() - startedAt
    await new Promise((resolve) => setTimeout(resolve, SETTLE_S * 1000))
    const idleFromCpuS = await cpuSeconds([pid])
    const idleFromMs = performance.now()
    await new Promise((resolve) => setTimeout(resolve, (IDLE_S - SETTLE_S) * 1000))
    const idleCpuMsPerS = (await cpuSeconds([pid]) - idleFromCpuS) * 1e6 / (performance.now() - idleFromMs)
    return { startCpuS, startMs, rssMb: await rssMb(pid), anonMb: await rssMb(pid, 'RssAnon'), idleCpuMsPerS }
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    await fs.rm(dir, { recursive: true, force: true })
  }
}

const samples = new Map<Variant, Sample[]>(VARIANTS.map((v) => [v, []]))
for (let run = 0; run < RUNS; run++) {
  for (const variant of VARIANTS) {
    const s = await measure(variant)
    samples.get(variant)?.push(s)
    process.stdout.write(`${variant.label}: start-up ${s.startCpuS.toFixed(2)} CPU-s (${s.startMs} ms), idle RSS after ${IDLE_S} s ${s.rssMb.toFixed(1)} MB (private ${s.anonMb.toFixed(1)}), idle CPU ${s.idleCpuMsPerS.toFixed(2)} ms/s over the last ${IDLE_S - SETTLE_S} s, load ${(os.loadavg()[0] ?? 0).toFixed(1)}\n`)
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
process.stdout.write(`\nmedians of ${RUNS} run(s):\n`)
for (const [variant, list] of samples) {
  process.stdout.write(`  ${variant.label}: start-up ${median(list.map((s) => s.startCpuS)).toFixed(2)} CPU-s, idle RSS ${median(list.map((s) => s.rssMb)).toFixed(1)} MB (private ${median(list.map((s) => s.anonMb)).toFixed(1)}), idle CPU ${median(list.map((s) => s.idleCpuMsPerS)).toFixed(2)} ms/s\n`)
}
