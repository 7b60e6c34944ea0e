/**
 * @module faults/main
 * `npm run faults`: the process-level fault suite (issue 10 item 6). Needs root, iproute2 and nftables
 * (`.ci/run` installs them). It builds a private lab of network namespaces (faults/lab.ts), mounts a small
 * tmpfs as one node's data-dir parent (the disk-full scenario), runs faults/run.ts inside the lab's client
 * namespace, and always tears everything down: node processes (by the runner's process group), the
 * namespaces it created and the tmpfs, also on failure or Ctrl-C. The host's interfaces, routes and
 * firewall are never touched.
 *
 * Options: `--quick` (CI: 3 s holds, 5 kills), `--hold-ms N`, `--kills N`, `--seed N`, `--only <text>`
 * (only the scenarios whose name contains it).
 */
import { execFileSync, spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { netnsUnavailableReason } from '../src/netns/index.js'
import { faultLab, removeStaleLabs } from './lab.js'
import type { RunPlan } from './run.js'

const NODES = 5
const TMPFS_NODE = 4
const TMPFS_SIZE = '24m'
const RUNNER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'run.js')

function option (name: string, fallback: number): number {
  const at = process.argv.indexOf(name)
  return at >= 0 ? Number(process.argv[at + 1]) : fallback
}

/** Whether any process of the group `pgid` is left (signal 0 checks without signalling). */
function groupAlive (pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

async function main (): Promise<number> {
  const unavailable = netnsUnavailableReason()
  if (unavailable !== null) {
    console.error(`faults: ${unavailable}`)
    console.log('0 passed, 1 failed')
    return 1
  }
  const quick = process.argv.includes('--quick')
  removeStaleLabs()
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-faults-'))
  const lab = faultLab(NODES, String(process.pid))
  const tmpfsDir = path.join(root, `tmpfs-n${TMPFS_NODE}`)
  let mounted = false
  let runner: ReturnType<typeof spawn> | undefined
  const teardown = async (): Promise<void> => {
    // The runner and its node processes share one process group (the runner was started detached).
    if (runner?.pid !== undefined) {
      try { process.kill(-runner.pid, 'SIGKILL') } catch { /* already gone */ }
      // SIGKILL is delivered, not done, when kill() returns: a node still exiting holds its files on the tmpfs,
      // and umount then fails busy. Wait (bounded) until the group has no process left.
      for (let i = 0; i < 100 && groupAlive(runner.pid); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    try { lab.teardown() } catch (err) { console.error(`faults: teardown: ${(err as Error).message}`) }
    if (mounted) {
      try { execFileSync('umount', [tmpfsDir]) } catch (err) { console.error(`faults: umount ${tmpfsDir}: ${(err as Error).message}`) }
      mounted = false
    }
    await fs.rm(root, { recursive: true, force: true }).catch((err: Error) => { console.error(`faults: removing ${root}: ${err.message}`) })
  }
  const onSignal = (): void => { void teardown().finally(() => process.exit(130)) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    lab.setup()
    await fs.mkdir(tmpfsDir)
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'revoada-faults', tmpfsDir])
    mounted = true
    const plan: RunPlan = {
      root,
      tag: String(process.pid),
      nodes: lab.nodeNamespaces.map((namespace, i) => ({
        namespace,
        address: lab.nodeAddress(i),
        // The tmpfs node logs onto the disk that fills, as `--log-file` beside a data dir would in production.
        ...(i === TMPFS_NODE ? { dataDir: path.join(tmpfsDir, 'data'), logFile: path.join(tmpfsDir, 'node.log') } : { dataDir: path.join(root, `n${i}`) })
      })),
      tmpfsNode: TMPFS_NODE,
      holdMs: option('--hold-ms', quick ? 3000 : 20_000),
      kills: option('--kills', quick ? 5 : 20),
      seed: option('--seed', Date.now() % 1_000_000),
      ...(process.argv.includes('--only') ? { only: process.argv[process.argv.indexOf('--only') + 1] ?? '' } : {})
    }
    console.log(`faults: ${NODES} nodes in namespaces ${lab.nodeNamespaces.join(', ')}; seed ${plan.seed}; hold ${plan.holdMs} ms; ${plan.kills} kills`)
    runner = spawn('ip', ['netns', 'exec', lab.clientNamespace, process.execPath, RUNNER, JSON.stringify(plan)], { stdio: 'inherit', detached: true })
    const code = await new Promise<number>((resolve) => runner?.once('exit', (c) => resolve(c ?? 1)))
    return code
  } catch (err) {
    console.error(`faults: ${(err as Error).message}`)
    console.log('0 passed, 1 failed')
    return 1
  } finally {
    await teardown()
  }
}

process.exitCode = await main()
