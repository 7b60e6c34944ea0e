/**
 * @module bench/membership-processes
 * Membership measured on separate `revoada start` processes at default timing (issue 4 item 6):
 * - convergence: N processes (first creates, the rest join at once) until every node lists N alive members;
 * - SIGKILL → `dead` on every survivor, over TRIALS trials, the victim restarted between trials;
 * - false suspicions: 5 processes for SATURATE_S seconds while busy loops saturate both cores; any member
 *   seen suspect or dead by anyone is a false suspicion (nobody fails).
 * Usage: node dist/bench/membership-processes.js [trials=20] [sizes=5,10,20] [saturateSeconds=300]
 */
import '../src/polyfill.js'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { machineDescription, median, printTable, quantile } from './lib/stats.js'
import { waitFor } from './lib/ports.js'

/** The bundle the `revoada` bin runs (`npm run build`). */
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bundle/main.js')
const trials = Number(process.argv[2] ?? 20)
const sizes = (process.argv[3] ?? '5,10,20').split(',').map(Number)
const saturateSeconds = Number(process.argv[4] ?? 300)

interface Proc { dir: string, child: ChildProcess, api?: { url: string, token: string } }
interface MemberRow { nodeId: string, health: string }
const procs: Proc[] = []
let root = ''

async function start (dir: string, join?: string): Promise<Proc> {
  await fs.mkdir(dir, { recursive: true })
  const child = spawn(process.execPath, [MAIN, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'error',
    ...(join !== undefined ? ['--join', join] : [])], { stdio: 'ignore' })
  const proc: Proc = { dir, child }
  procs.push(proc)
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`revoada start exited ${child.exitCode}`)
    try {
      proc.api = JSON.parse(await fs.readFile(path.join(dir, 'api.json'), 'utf8')) as { url: string, token: string }
      await get(proc, '/v1/status')
      return true
    } catch { return false }
  }, 30_000, `${dir} up`)
  return proc
}

async function get (proc: Proc, route: string): Promise<unknown> {
  const res = await fetch(new URL(route, proc.api!.url), { headers: { authorization: `Bearer ${proc.api!.token}` }, signal: AbortSignal.timeout(2000) })
  if (!res.ok) throw new Error(`${route}: ${res.status}`)
  return await res.json()
}

const members = async (proc: Proc): Promise<MemberRow[]> => ((await get(proc, '/v1/members')) as { members: MemberRow[] }).members
const nodeId = async (proc: Proc): Promise<string> => ((await get(proc, '/v1/status')) as { nodeId: string }).nodeId

async function kill (proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  const exited = new Promise((resolve) => proc.child.once('exit', resolve))
  proc.child.kill('SIGKILL')
  await exited
}

async function cleanup (): Promise<void> {
  for (const p of procs.splice(0)) await kill(p)
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
}

async function cluster (n: number): Promise<{ list: Proc[], convergeMs: number, afterUpMs: number }> {
  const first = await start(path.join(root, `n${n}-0`))
  const join = ((await get(first, '/v1/join-string')) as { joinString: string }).joinString
  const begin = performance.now()
  const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await start(path.join(root, `n${n}-${i + 1}`), join)))
  const list = [first, ...rest]
  const up = performance.now()
  await waitFor(async () => (await Promise.all(list.map(members))).every((m) => m.filter((x) => x.health === 'alive').length === n), 120_000, `${n} converged`)
  return { list, convergeMs: performance.now() - begin, afterUpMs: performance.now() - up }
}

async function killTrials (list: Proc[]): Promise<number[]> {
  const times: number[] = []
  for (let t = 0; t < trials; t++) {
    const victim = list[1 + (t % (list.length - 1))]!
    const id = await nodeId(victim)
    const survivors = list.filter((p) => p !== victim)
    const killedAt = performance.now()
    await kill(victim)
    await waitFor(async () => (await Promise.all(survivors.map(members))).every((m) => m.find((x) => x.nodeId === id)?.health === 'dead'), 60_000, 'dead everywhere')
    times.push(performance.now() - killedAt)
    const again = await start(victim.dir)
    list[list.indexOf(victim)] = again
    await waitFor(async () => (await Promise.all(list.map(members))).every((m) => m.every((x) => x.health === 'alive') && m.length === list.length), 60_000, 'alive again')
  }
  return times
}

async function saturated (list: Proc[]): Promise<{ suspicions: number, samples: number }> {
  const burners = Array.from({ length: os.cpus().length }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
  let suspicions = 0
  let samples = 0
  const seen = new Set<string>()
  try {
    const end = performance.now() + saturateSeconds * 1000
    while (performance.now() < end) {
      for (const [i, m] of (await Promise.all(list.map(members))).entries()) {
        samples++
        for (const row of m) {
          if (row.health !== 'alive' && !seen.has(`${i}:${row.nodeId}:${row.health}`)) { seen.add(`${i}:${row.nodeId}:${row.health}`); suspicions++ }
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  } finally {
    for (const b of burners) b.kill('SIGKILL')
  }
  return { suspicions, samples }
}

async function main (): Promise<void> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: npm run build first`)
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-mbench-'))
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: node dist/bench/membership-processes.js ${trials} ${sizes.join(',')} ${saturateSeconds}`)
  const convergence: Array<[string, number, number]> = []
  for (const n of sizes) {
    const { list, convergeMs, afterUpMs } = await cluster(n)
    convergence.push([`${n} processes`, convergeMs, afterUpMs])
    if (n !== 5) { for (const p of list) await kill(p); procs.splice(0, procs.length, ...procs.filter((p) => !list.includes(p))) }
  }
  printTable(['cluster', 'joiners spawned → all alive everywhere (ms)', 'every API answering → all alive everywhere (ms)'], convergence)
  const five = procs.filter((p) => p.dir.includes('n5-'))
  if (trials > 0) {
    const times = await killTrials(five)
    printTable(['SIGKILL → dead on all 4 survivors', 'trials', 'median ms', 'p99 ms', 'max ms'],
      [['5 processes, defaults', times.length, median(times), quantile(times, 0.99), Math.max(...times)]])
  }
  if (saturateSeconds > 0) {
    const r = await saturated(five)
    printTable(['saturated CPU run', 'seconds', 'member observations', 'false suspicions'], [['5 processes, 2 busy loops', saturateSeconds, r.samples, r.suspicions]])
  }
}

process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })
await main().finally(cleanup)
