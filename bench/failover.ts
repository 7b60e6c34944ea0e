/**
 * @module bench/failover
 * `npm run bench:failover` (issue 5 item 7): five `revoada start` processes on 127.0.0.1, target `ha-three`,
 * policy engine on with its default damper. SIGKILL the Raft leader TRIALS times and measure from the kill
 * until, on every survivor:
 *   (a) a write is acknowledged again (a `POST /v1/target` re-stating ha-three through a survivor — a
 *       committed entry that changes nothing the policy cares about; a new attempt every 50 ms, see probe.ts);
 *   (b) the replacement Promote is committed: `GET /v1/shape?stale=true` shows the dead node without etcd and
 *       exactly 3 live etcd holders, on every survivor;
 *   (c) the Raft voter set (`/v1/status` voters) is back to 3, without the dead node, on every survivor.
 * Between trials the killed node is restarted (it comes back as a worker), allowed to catch up, and the run
 * waits SETTLE_MS so the restarted node passes the policy's stabilization period before the next kill.
 *
 * Env: TRIALS (default 10), SETTLE_MS (default 12000), TRIAL_DEADLINE_MS (default 60000).
 */
import '../src/polyfill.js'
import { RevoadaCluster } from './revoada/cluster.js'
import type { RevoadaProc } from './revoada/cluster.js'
import { machineDescription, median, printTable } from './lib/stats.js'
import { waitFor } from './lib/ports.js'
import { firstAcknowledged } from './revoada/probe.js'

const trials = Number(process.env.TRIALS ?? 10)
const settleMs = Number(process.env.SETTLE_MS ?? 12_000)
const trialDeadlineMs = Number(process.env.TRIAL_DEADLINE_MS ?? 60_000)
const NODES = 5
const ETCD_MEMBERS = 3

interface Trial { writeMs: number, promoteMs: number, votersMs: number, promoted: string[] }

/** True when `proc` has applied a shape where `dead` holds no etcd and exactly 3 live nodes do. */
async function promoteCommitted (cluster: RevoadaCluster, proc: RevoadaProc, dead: string): Promise<string[] | null> {
  const shape = await cluster.staleShape(proc)
  const holders = shape.members.filter((m) => m.roles.includes('etcd')).map((m) => m.nodeId)
  return !holders.includes(dead) && holders.length === ETCD_MEMBERS ? holders : null
}

async function votersBack (cluster: RevoadaCluster, proc: RevoadaProc, dead: string): Promise<boolean> {
  const status = await cluster.status(proc)
  return status.voters.length === ETCD_MEMBERS && !status.voters.includes(dead)
}

/** Polls until `check` holds on every proc; resolves with ms since `since`. */
async function onEvery (procs: RevoadaProc[], since: number, label: string, check: (p: RevoadaProc) => Promise<boolean>): Promise<number> {
  await waitFor(async () => {
    try { return (await Promise.all(procs.map(check))).every(Boolean) } catch { return false }
  }, trialDeadlineMs, label)
  return performance.now() - since
}

/** Every node agrees on one shape with 3 etcd holders and 3 voters, and has applied all that is committed. */
async function settled (cluster: RevoadaCluster): Promise<boolean> {
  try {
    const procs = cluster.alive()
    const [shapes, statuses] = await Promise.all([
      Promise.all(procs.map(async (p) => await cluster.staleShape(p))),
      Promise.all(procs.map(async (p) => await cluster.status(p)))
    ])
    const cids = new Set(shapes.map((s) => s.cid))
    const holders = shapes[0]?.members.filter((m) => m.roles.includes('etcd')).length
    const commit = Math.max(...statuses.map((s) => s.commitIndex))
    return cids.size === 1 && holders === ETCD_MEMBERS &&
      statuses.every((s) => s.voters.length === ETCD_MEMBERS && s.appliedIndex >= commit)
  } catch { return false }
}

async function trial (cluster: RevoadaCluster): Promise<Trial> {
  const leader = await cluster.leader()
  const dead = leader.nodeId
  const survivors = cluster.alive().filter((p) => p !== leader)
  const killedAt = performance.now()
  await cluster.kill(leader)
  let promoted: string[] = []
  // The write probe: re-state ha-three (a committed entry the policy ignores), round-robin over survivors.
  const write = firstAcknowledged(killedAt, trialDeadlineMs, async (k, timeoutMs) =>
    await cluster.post(survivors[k % survivors.length]!, '/v1/target', { preset: 'ha-three' }, timeoutMs))
  const [writeMs, promoteMs, votersMs] = await Promise.all([
    write,
    onEvery(survivors, killedAt, 'replacement promote on every survivor', async (p) => {
      const holders = await promoteCommitted(cluster, p, dead)
      if (holders !== null) promoted = holders
      return holders !== null
    }),
    onEvery(survivors, killedAt, 'voter set back to 3 on every survivor', async (p) => await votersBack(cluster, p, dead))
  ])
  await cluster.restart(leader)
  await waitFor(async () => await settled(cluster), trialDeadlineMs, 'settled after restart')
  return { writeMs, promoteMs, votersMs, promoted }
}

async function main (): Promise<void> {
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: npm run bench:failover (TRIALS=${trials} SETTLE_MS=${settleMs})`)
  const cluster = await RevoadaCluster.start(NODES, {})
  try {
    const first = cluster.procs[0]!
    await cluster.post(first, '/v1/target', { preset: 'ha-three' })
    await waitFor(async () => await settled(cluster), 120_000, 'ha-three with 3 voters')
    await new Promise((resolve) => setTimeout(resolve, settleMs))
    const results: Trial[] = []
    const names = new Map(cluster.procs.map((p, i) => [p.nodeId, `n${i}`]))
    for (let t = 0; t < trials; t++) {
      const r = await trial(cluster)
      results.push(r)
      const holders = r.promoted.map((id) => names.get(id) ?? id).join(',')
      console.log(`trial ${t + 1}: write ${r.writeMs.toFixed(0)} ms, promote ${r.promoteMs.toFixed(0)} ms, voters ${r.votersMs.toFixed(0)} ms; etcd now on ${holders}`)
      // Let the restarted node outlive the policy's stabilization period (10 s default) before the next kill.
      if (t + 1 < trials) await new Promise((resolve) => setTimeout(resolve, settleMs))
    }
    const row = (label: string, pick: (r: Trial) => number): Array<string | number> => {
      const xs = results.map(pick)
      return [label, xs.length, median(xs), Math.max(...xs), Math.min(...xs)]
    }
    printTable(['leader SIGKILL → …, on every survivor', 'trials', 'median ms', 'max ms', 'min ms'], [
      row('(a) write acknowledged', (r) => r.writeMs),
      row('(b) replacement Promote committed', (r) => r.promoteMs),
      row('(c) voter set back to 3', (r) => r.votersMs)
    ])
  } finally {
    await cluster.stop()
  }
}

await main()
