/**
 * @module bench/membership
 * `npm run bench:membership`: in-process measurements of the membership layer at its default timing
 * (500 ms heartbeat, phi 8): convergence time of N nodes to N alive members everywhere, and crash → dead on
 * every survivor (the crashed node's libp2p is stopped without a leave announcement) over TRIALS trials.
 * All nodes share one process and its event loop, so this is a lower bound on noise, not a SIGKILL run.
 * Usage: node dist/bench/membership.js [trials=20] [sizes=5,10]
 */
import '../src/polyfill.js'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../src/config/index.js'
import type { ConfigInput } from '../src/config/index.js'
import { startNode } from '../src/node/index.js'
import type { RevoadaNode } from '../src/node/index.js'
import { MembershipService } from '../src/membership/membership-service.js'
import { machineDescription, median, printTable, quantile } from './lib/stats.js'
import { waitFor } from './lib/ports.js'

interface Running { node: RevoadaNode, membership: MembershipService, dir: string }

const DEADLINE_MS = 60_000

async function start (dir: string, join?: string): Promise<Running> {
  const membership = new MembershipService()
  const flags: ConfigInput = { dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', ...(join !== undefined ? { join } : {}) }
  const node = await startNode({ config: loadConfig({ flags }), services: [membership] })
  return { node, membership, dir }
}

const aliveCount = (r: Running): number => r.membership.view().members.filter((m) => m.health === 'alive').length
const healthOf = (r: Running, id: string): string | undefined => r.membership.view().members.find((m) => m.nodeId === id)?.health

/** A fresh cluster in fresh data dirs under `root` (a reused dir would keep an old cluster and seeds). */
async function cluster (n: number, root: string): Promise<{ all: Running[], convergeMs: number }> {
  const dirs = await Promise.all(Array.from({ length: n }, async () => await fs.mkdtemp(path.join(root, 'n'))))
  const t0 = Date.now()
  const first = await start(dirs[0]!)
  const rest = await Promise.all(dirs.slice(1).map(async (dir) => await start(dir, first.node.joinString())))
  const all = [first, ...rest]
  await waitFor(() => all.every((r) => aliveCount(r) === n), DEADLINE_MS, `${n} alive everywhere`)
  return { all, convergeMs: Date.now() - t0 }
}

async function main (): Promise<void> {
  const trials = Number(process.argv[2] ?? 20)
  const sizes = (process.argv[3] ?? '5,10').split(',').map(Number)
  console.log(`# membership bench — ${await machineDescription()}\n`)
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-bench-membership-'))
  try {
    const convergence: Array<[string, number]> = []
    for (const n of sizes) {
      const { all, convergeMs } = await cluster(n, root)
      convergence.push([`${n} nodes`, convergeMs])
      await Promise.all(all.map(async (r) => { await r.node.stop() }))
    }
    printTable(['cluster', 'start → all alive everywhere (ms)'], convergence)
    console.log('')

    const { all } = await cluster(5, root)
    const deadMs: number[] = []
    for (let t = 0; t < trials; t++) {
      const victim = all[4]!
      const id = victim.node.nodeId
      const survivors = all.slice(0, 4)
      const t0 = Date.now()
      await victim.node.net.stop()
      await waitFor(() => survivors.every((r) => healthOf(r, id) === 'dead'), DEADLINE_MS, 'dead on every survivor')
      deadMs.push(Date.now() - t0)
      await victim.node.stop().catch(() => {})
      all[4] = await start(victim.dir)
      await waitFor(() => survivors.every((r) => healthOf(r, id) === 'alive'), DEADLINE_MS, 'alive again')
      // Let the restarted node's detector window fill with regular samples before the next crash.
      await waitFor(() => all.every((r) => aliveCount(r) === 5), DEADLINE_MS, '5 alive')
    }
    const falseSuspicions = all.slice(0, 4).flatMap((r) => r.membership.recentEvents()).filter((e) => e.kind === 'suspect' && e.nodeId !== all[4]!.node.nodeId).length
    printTable(['crash → dead on all 4 survivors', 'trials', 'median (ms)', 'p99 (ms)', 'max (ms)', 'suspicions of live nodes'],
      [['5 nodes, 500 ms heartbeat, phi 8', trials, median(deadMs), quantile(deadMs, 0.99), Math.max(...deadMs), falseSuspicions]])
    await Promise.all(all.map(async (r) => { await r.node.stop() }))
  } finally {
    await fs.rm(root, { recursive: true, force: true })
  }
}

await main()
