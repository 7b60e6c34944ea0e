/**
 * @module bench/churn
 * The churn run of issue 5 item 6: five `revoada start` processes on ha-three; every 20–40 s a random node
 * other than the observer (node 0) is SIGKILLed and restarted 5–15 s later, for CHURN_S seconds (default
 * 600). Then churn stops and the run measures how long until the shape is back at target on every node.
 *
 * Throughout, node 0 polls its applied shape every 500 ms and counts role shifts (a node gaining or losing a
 * control-plane role); the damper allows one per node per minute except demotions of dead nodes, and 10 per
 * minute cluster-wide — both are checked against what was observed.
 * Usage: node dist/bench/churn.js  (env CHURN_S, SEED)
 */
import '../src/polyfill.js'
import { RevoadaCluster } from './revoada/cluster.js'
import type { RevoadaProc, ShapeView } from './revoada/cluster.js'
import { machineDescription, printTable } from './lib/stats.js'
import { waitFor } from './lib/ports.js'

const churnSeconds = Number(process.env.CHURN_S ?? 600)
let seed = Number(process.env.SEED ?? Date.now() % 100_000)
const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }

const CONTROL = ['api-server', 'etcd', 'scheduler', 'controller-manager']

const atTarget = (shape: ShapeView): boolean => {
  const count = (role: string): number => shape.members.filter((m) => m.roles.includes(role)).length
  return count('api-server') === 3 && count('etcd') === 3 && count('scheduler') === 1 && count('controller-manager') === 1
}

interface Shift { atMs: number, nodeId: string, role: string, gained: boolean }

async function main (): Promise<void> {
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: CHURN_S=${churnSeconds} SEED=${seed} node dist/bench/churn.js`)
  const cluster = await RevoadaCluster.start(5, {})
  try {
    const observer = cluster.procs[0] as RevoadaProc
    await cluster.post(observer, '/v1/target', { preset: 'ha-three' })
    await waitFor(async () => atTarget(await cluster.staleShape(observer)), 120_000, 'ha-three formed')
    const shifts: Shift[] = []
    let previous = await cluster.staleShape(observer)
    let polling = true
    const poller = (async () => {
      while (polling) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        try {
          const now = await cluster.staleShape(observer)
          for (const m of now.members) {
            const before = previous.members.find((x) => x.nodeId === m.nodeId)?.roles ?? []
            for (const role of CONTROL) {
              if (before.includes(role) !== m.roles.includes(role)) shifts.push({ atMs: Date.now(), nodeId: m.nodeId, role, gained: m.roles.includes(role) })
            }
          }
          previous = now
        } catch { /* observer busy */ }
      }
    })()
    const start = Date.now()
    let kills = 0
    while (Date.now() - start < churnSeconds * 1000) {
      await new Promise((resolve) => setTimeout(resolve, 20_000 + random() * 20_000))
      const victims = cluster.procs.slice(1)
      const victim = victims[Math.floor(random() * victims.length)] as RevoadaProc
      await cluster.kill(victim)
      kills++
      await new Promise((resolve) => setTimeout(resolve, 5_000 + random() * 10_000))
      await cluster.restart(victim)
    }
    const stoppedAt = Date.now()
    await waitFor(async () => {
      const shapes = await Promise.all(cluster.procs.map(async (p) => await cluster.staleShape(p)))
      return shapes.every(atTarget) && new Set(shapes.map((s) => s.cid)).size === 1
    }, 300_000, 'back at target after churn')
    const recoveredMs = Date.now() - stoppedAt
    polling = false
    await poller
    const minutes = (Date.now() - start) / 60_000
    const perNodeMinute = new Map<string, number>()
    for (const s of shifts) {
      const key = `${s.nodeId}@${Math.floor((s.atMs - start) / 60_000)}`
      perNodeMinute.set(key, (perNodeMinute.get(key) ?? 0) + 1)
    }
    printTable(['churn', 'value'], [
      ['duration (min)', minutes],
      ['kills (SIGKILL + restart)', kills],
      ['role shifts observed (role gained or lost)', shifts.length],
      ['most shifts of one node in one minute (a command may move several roles)', Math.max(0, ...perNodeMinute.values())],
      ['back at target on every node after churn stopped (ms)', recoveredMs]
    ])
  } finally {
    await cluster.stop()
  }
}

await main()
