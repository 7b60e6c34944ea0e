/**
 * @module bench/churn
 * The churn run of issue 5 item 6 and issue 12 item 5: five `revoada start` processes on ha-three; every
 * 20–40 s a random node other than the observer (node 0) is SIGKILLed and restarted 5–15 s later, for
 * CHURN_S seconds (default 600). On top, an operator stream (every OPERATOR_MS, default 2000; 0 = off)
 * forces a role change (`force: true`: api-server, scheduler or controller-manager, promote or demote) on a
 * random live node through a random live node's API — the load that once kept the damper from restoring
 * voters. Then churn stops and the run measures how long until the shape is back at target on every node.
 *
 * Throughout, node 0 polls its applied shape every POLL_MS (200) and measures, per kill, how long the
 * cluster ran with fewer than 3 live voters (voters in the shape whose process is not killed): the figure
 * the issue targets (≤ 5 s per failure). It also counts role shifts, and at the end reads its decision log
 * (records gossiped by every leader) for the gates that withheld anything.
 * Usage: node dist/bench/churn.js  (env CHURN_S, SEED, OPERATOR_MS)
 */
import '../src/polyfill.js'
import { RevoadaCluster } from './revoada/cluster.js'
import type { RevoadaProc, ShapeView } from './revoada/cluster.js'
import { machineDescription, median, printTable, quantile } from './lib/stats.js'
import { waitFor } from './lib/ports.js'

const churnSeconds = Number(process.env.CHURN_S ?? 600)
const operatorMs = Number(process.env.OPERATOR_MS ?? 2000)
let seed = Number(process.env.SEED ?? Date.now() % 100_000)
const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
const POLL_MS = 200

const CONTROL = ['api-server', 'etcd', 'scheduler', 'controller-manager']
const OPERATOR_ROLES = ['api-server', 'scheduler', 'controller-manager']

const count = (shape: ShapeView, role: string): number => shape.members.filter((m) => m.roles.includes(role)).length
const atTarget = (shape: ShapeView): boolean =>
  count(shape, 'api-server') === 3 && count(shape, 'etcd') === 3 && count(shape, 'scheduler') === 1 && count(shape, 'controller-manager') === 1

interface Shift { atMs: number, nodeId: string, role: string, gained: boolean }
/** One kill: when, whether the victim was a voter, and how long live voters stayed below 3 after it. */
interface Failure { atMs: number, victim: string, voter: boolean, belowMs: number, belowSinceMs: number | null }

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Forced toggles of non-etcd roles until `running()` is false; returns [accepted, failed]. */
async function operatorStream (cluster: RevoadaCluster, killed: Set<string>, running: () => boolean): Promise<[number, number]> {
  let accepted = 0
  let failed = 0
  while (running() && operatorMs > 0) {
    await sleep(operatorMs)
    const live = cluster.procs.filter((p) => !killed.has(p.nodeId) && p.nodeId !== '')
    const via = live[Math.floor(random() * live.length)]
    const target = live[Math.floor(random() * live.length)]
    if (via === undefined || target === undefined) continue
    const role = OPERATOR_ROLES[Math.floor(random() * OPERATOR_ROLES.length)] as string
    try {
      const shape = await cluster.staleShape(via)
      const holds = shape.members.find((m) => m.nodeId === target.nodeId)?.roles.includes(role) === true
      await cluster.post(via, '/v1/proposals', { kind: holds ? 'demote' : 'promote', nodeId: target.nodeId, roles: [role], force: true })
      accepted++
    } catch {
      failed++
    }
  }
  return [accepted, failed]
}

async function main (): Promise<void> {
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: CHURN_S=${churnSeconds} SEED=${seed} OPERATOR_MS=${operatorMs} node dist/bench/churn.js`)
  const cluster = await RevoadaCluster.start(5, {})
  try {
    const observer = cluster.procs[0] as RevoadaProc
    await cluster.post(observer, '/v1/target', { preset: 'ha-three' })
    await waitFor(async () => atTarget(await cluster.staleShape(observer)), 300_000, 'ha-three formed').catch(async (err: unknown) => {
      await reportGates(cluster, observer, true)
      throw err
    })
    const killed = new Set<string>()
    const failures: Failure[] = []
    const shifts: Shift[] = []
    let polling = true
    let streaming = true
    const poller = pollShape(cluster, observer, killed, failures, shifts, () => polling)
    const stream = operatorStream(cluster, killed, () => streaming)
    const start = Date.now()
    let kills = 0
    while (Date.now() - start < churnSeconds * 1000) {
      await sleep(20_000 + random() * 20_000)
      const victims = cluster.procs.slice(1)
      const victim = victims[Math.floor(random() * victims.length)] as RevoadaProc
      const shape = await cluster.staleShape(observer).catch(() => null)
      // A previous failure still below 3 voters is charged up to this kill; the new one takes over from here.
      const previous = failures[failures.length - 1]
      if (previous?.belowSinceMs !== null && previous !== undefined) {
        previous.belowMs = Math.max(previous.belowMs, Date.now() - previous.belowSinceMs)
        previous.belowSinceMs = null
      }
      killed.add(victim.nodeId)
      failures.push({ atMs: Date.now(), victim: victim.nodeId, voter: shape?.voters.includes(victim.nodeId) ?? false, belowMs: 0, belowSinceMs: null })
      await cluster.kill(victim)
      kills++
      await sleep(5_000 + random() * 10_000)
      await cluster.restart(victim)
      killed.delete(victim.nodeId)
    }
    // Churn and the operator stream stop together: "back at target" is measured on a quiet cluster.
    streaming = false
    const [accepted, refused] = await stream
    const stoppedAt = Date.now()
    const recovered = await waitFor(async () => {
      const shapes = await Promise.all(cluster.procs.map(async (p) => await cluster.staleShape(p)))
      return shapes.every(atTarget) && new Set(shapes.map((s) => s.cid)).size === 1
    }, 300_000, 'back at target after churn').then(() => true, () => false)
    const recoveredMs = recovered ? Date.now() - stoppedAt : Number.NaN
    polling = false
    await poller
    report({ cluster, observer, start, kills, failures, shifts, recoveredMs, operator: [accepted, refused] })
    await reportGates(cluster, observer)
  } finally {
    await cluster.stop()
  }
}

/** Polls the observer's applied shape: role shifts, and time below 3 live voters charged to the last kill. */
async function pollShape (cluster: RevoadaCluster, observer: RevoadaProc, killed: ReadonlySet<string>, failures: Failure[], shifts: Shift[], running: () => boolean): Promise<void> {
  let previous = await cluster.staleShape(observer)
  while (running()) {
    await sleep(POLL_MS)
    let now: ShapeView
    try { now = await cluster.staleShape(observer) } catch { continue }
    const at = Date.now()
    for (const m of now.members) {
      const before = previous.members.find((x) => x.nodeId === m.nodeId)?.roles ?? []
      for (const role of CONTROL) {
        if (before.includes(role) !== m.roles.includes(role)) shifts.push({ atMs: at, nodeId: m.nodeId, role, gained: m.roles.includes(role) })
      }
    }
    previous = now
    const current = failures[failures.length - 1]
    if (current === undefined) continue
    const liveVoters = now.voters.filter((id) => !killed.has(id)).length
    if (liveVoters < 3 && current.belowSinceMs === null) current.belowSinceMs = at
    if (liveVoters >= 3 && current.belowSinceMs !== null) {
      current.belowMs = Math.max(current.belowMs, at - current.belowSinceMs)
      current.belowSinceMs = null
    }
  }
}

function report (r: { cluster: RevoadaCluster, observer: RevoadaProc, start: number, kills: number, failures: Failure[], shifts: Shift[], recoveredMs: number, operator: [number, number] }): void {
  const minutes = (Date.now() - r.start) / 60_000
  const perNodeMinute = new Map<string, number>()
  for (const s of r.shifts) {
    const key = `${s.nodeId}@${Math.floor((s.atMs - r.start) / 60_000)}`
    perNodeMinute.set(key, (perNodeMinute.get(key) ?? 0) + 1)
  }
  const voterKills = r.failures.filter((f) => f.voter)
  const below = voterKills.map((f) => f.belowMs + (f.belowSinceMs !== null ? Date.now() - f.belowSinceMs : 0))
  printTable(['churn', 'value'], [
    ['duration (min)', minutes],
    ['kills (SIGKILL + restart)', r.kills],
    ['of which a voter', voterKills.length],
    ['operator changes accepted / failed', `${r.operator[0]} / ${r.operator[1]}`],
    ['below 3 live voters after a voter kill: median (ms)', median(below)],
    ['below 3 live voters after a voter kill: p90 (ms)', quantile(below, 0.9)],
    ['below 3 live voters after a voter kill: longest (ms)', Math.max(0, ...below)],
    ['voter kills over 5 s below 3 voters', below.filter((ms) => ms > 5_000).length],
    ['role shifts observed (role gained or lost)', r.shifts.length],
    ['most shifts of one node in one minute (a command may move several roles)', Math.max(0, ...perNodeMinute.values())],
    ['back at target on every node after churn stopped (ms; NaN = not within 300 s)', r.recoveredMs]
  ])
  console.log(`below 3 live voters per voter kill (ms): ${below.join(' ')}`)
}

/** What the gates withheld over the run, from the observer's decision log (gossiped by every leader). */
async function reportGates (cluster: RevoadaCluster, observer: RevoadaProc, dump = false): Promise<void> {
  try {
    const answer = await cluster.get(observer, '/v1/decisions?limit=200') as { decisions: Array<{ by: string, withheld: Array<{ code: string, what: string }> }> }
    const byGate = new Map<string, number>()
    for (const d of answer.decisions) {
      for (const w of d.withheld) {
        const key = `${w.code}${w.what.startsWith('promote') && w.what.includes('etcd') ? ' (etcd promotion)' : ''}`
        byGate.set(key, (byGate.get(key) ?? 0) + 1)
      }
    }
    if (dump) console.log(JSON.stringify(answer.decisions.slice(-6).map((d) => d.withheld), null, 1))
    const leaders = new Set(answer.decisions.map((d) => d.by)).size
    console.log(`decision log on the observer: ${answer.decisions.length} records from ${leaders} leader(s); withheld by gate: ` +
      ([...byGate].map(([gate, n]) => `${gate} ${n}`).join(', ') || 'none'))
  } catch (err) {
    console.log(`decision log unreadable: ${(err as Error).message}`)
  }
}

await main()
