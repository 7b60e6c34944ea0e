/**
 * @module faults/run
 * The inner runner of `npm run faults`, started by faults/main.ts inside the lab's client namespace (so
 * it reaches every node's admin API on the lab addresses). It forms a 5-voter cluster of real processes,
 * keeps a client proposing operator commands through several nodes, runs every scenario, and checks after
 * each one: no process crashed; the minority side acknowledged nothing; every node converges on one shape
 * CID at one applied index; every acknowledged entry (index, term) is the entry every node committed.
 * Prints a table (scenario, result, time to heal) and the last line `N passed, F failed`.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { faultLab } from './lab.js'
import { FaultNode, waitFor } from './nodes.js'
import type { NodeSpec } from './nodes.js'
import { ProposalClient } from './client.js'
import { SCENARIOS, leaderIndex } from './scenarios.js'
import { checkAcks } from './acks.js'
import type { Injected, ScenarioContext } from './scenarios.js'

export interface RunPlan {
  root: string
  tag: string
  nodes: NodeSpec[]
  tmpfsNode: number
  holdMs: number
  kills: number
  seed: number
  /** Run only the scenarios whose name contains this. */
  only?: string
}

interface Row { name: string, passed: boolean, healMs: number, acks: number, notes: string }

const CONVERGE_TIMEOUT_MS = 120_000

function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0; return s / 2 ** 32 }
}

async function formCluster (nodes: FaultNode[], log: (l: string) => void): Promise<void> {
  const first = nodes[0] as FaultNode
  await first.start()
  const join = ((await first.request('GET', '/v1/join-string')).body as { joinString: string }).joinString
  for (const node of nodes.slice(1)) await node.start(join)
  await waitFor(async () => {
    const s = await first.status()
    return s.voters.length + s.learners.length === nodes.length
  }, 120_000, 'every node admitted')
  // Five voters (etcd on every node), so a 2|3 split has a real majority and minority side.
  for (const node of nodes.slice(1)) {
    await waitFor(async () => {
      const res = await first.request('POST', '/v1/proposals', { kind: 'promote', nodeId: node.nodeId, roles: ['etcd'] }, 15_000).catch(() => ({ status: 0 }))
      return res.status === 200
    }, 120_000, `etcd on node ${node.index}`)
  }
  await waitFor(async () => (await first.status()).voters.length === nodes.length, 120_000, 'five voters')
  log(`cluster formed: ${nodes.length} voters`)
}

/** Every node answers one proposal of its own: the cluster works again from every side. */
async function probeEveryNode (nodes: FaultNode[], client: ProposalClient): Promise<void> {
  for (const node of nodes) {
    await waitFor(async () => await client.propose(node, { kind: 'promote', nodeId: node.nodeId, roles: ['api-server'], reason: 'operator' }),
      CONVERGE_TIMEOUT_MS, `a proposal through node ${node.index}`)
  }
}

async function converge (nodes: FaultNode[]): Promise<string> {
  let cid = ''
  await waitFor(async () => {
    const all = await Promise.all(nodes.map(async (n) => await n.status().catch(() => undefined)))
    const first = all[0]
    if (first === undefined || first.leader === null) return false
    cid = first.shapeCid
    return all.every((s) => s !== undefined && s.shapeCid === first.shapeCid && s.appliedIndex === first.appliedIndex &&
      s.leader === first.leader)
  }, CONVERGE_TIMEOUT_MS, 'one shape CID at one applied index on every node')
  return cid
}


async function runScenario (ctx: ScenarioContext, client: ProposalClient, scenario: typeof SCENARIOS[number]): Promise<Row> {
  const crashesBefore = ctx.nodes.reduce((n, node) => n + node.crashes.length, 0)
  const acksBefore = client.acks.length
  client.start()
  ctx.log(`${scenario.name}: injecting`)
  const problems: string[] = []
  let injected: Injected = { mustNotAck: [], fromMs: Date.now(), problems: [] }
  try {
    injected = await scenario.inject(ctx)
  } catch (err) {
    ctx.log(`  inject failed: ${(err as Error).message}`)
    problems.push(`inject: ${(err as Error).message.slice(0, 300)}`)
  }
  const healAtMs = Date.now()
  let checkedBeforeSnapshot = 0
  try {
    checkedBeforeSnapshot = (await scenario.heal(ctx, injected))?.checkedBeforeSnapshot ?? 0
  } catch (err) { problems.push(`heal: ${(err as Error).message}`) }
  problems.push(...injected.problems)
  let healMs = NaN
  try {
    await probeEveryNode(ctx.nodes, client)
    healMs = Date.now() - healAtMs
  } catch (err) { problems.push((err as Error).message) }
  await client.stop()
  const acks = client.acks.slice(acksBefore)
  const forbidden = acks.filter((a) => injected.mustNotAck.includes(a.entryNode) && a.sentAtMs >= injected.fromMs && a.atMs < healAtMs)
  for (const a of forbidden.slice(0, 3)) problems.push(`minority node ${a.entryNode} acknowledged entry ${a.index} during the fault`)
  try {
    const cid = await converge(ctx.nodes)
    ctx.log(`  converged on ${cid.slice(0, 16)}…`)
    problems.push(...await checkAcks(ctx.nodes, acks, checkedBeforeSnapshot))
  } catch (err) { problems.push((err as Error).message) }
  const crashes = ctx.nodes.flatMap((n) => n.crashes).slice(crashesBefore)
  for (const crash of crashes) ctx.log(`  crash: ${crash}`)
  problems.push(...crashes.map((c) => c.slice(0, 600)))
  return { name: scenario.name, passed: problems.length === 0, healMs, acks: acks.length, notes: problems.join('; ').slice(0, 300) }
}

function printTable (rows: Row[]): void {
  const width = Math.max(...rows.map((r) => r.name.length), 8)
  console.log(`\n${'scenario'.padEnd(width)}  result  heal (s)  acks  notes`)
  for (const r of rows) {
    const heal = Number.isNaN(r.healMs) ? '-' : (r.healMs / 1000).toFixed(1)
    console.log(`${r.name.padEnd(width)}  ${(r.passed ? 'pass' : 'FAIL').padEnd(6)}  ${heal.padStart(8)}  ${String(r.acks).padStart(4)}  ${r.notes}`)
  }
  const failed = rows.filter((r) => !r.passed).length
  console.log(`${rows.length - failed} passed, ${failed} failed`)
}

async function main (): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as RunPlan
  const log = (line: string): void => { console.log(line) }
  const configFile = path.join(plan.root, 'config.json')
  await fs.writeFile(configFile, JSON.stringify({
    api: { allowNonLoopback: true },
    // Default Raft timing; no periodic snapshots, so every acknowledged entry stays in every log for the check (a
    // quorum recovery ends with one: its heal checks the acknowledged entries before it, checkAcks).
    raft: { snapshotEveryEntries: 1_000_000 },
    membership: { heartbeatIntervalMs: 200 },
    policy: { enabled: false },
    net: { redialIntervalMs: 250, redialBackoffMinMs: 250, redialBackoffMaxMs: 2000, dialTimeoutMs: 10_000 }
  }))
  const lab = faultLab(plan.nodes.length, plan.tag)
  const nodes = plan.nodes.map((spec, i) => new FaultNode(i, spec, configFile))
  const rows: Row[] = []
  const client = new ProposalClient(nodes)
  try {
    await formCluster(nodes, log)
    const ctx: ScenarioContext = { lab, nodes, tmpfsNode: plan.tmpfsNode, holdMs: plan.holdMs, kills: plan.kills, random: prng(plan.seed), log, acked: () => client.acks }
    for (const scenario of SCENARIOS.filter((s) => plan.only === undefined || s.name.includes(plan.only))) {
      const row = await runScenario(ctx, client, scenario)
      rows.push(row)
      log(`  ${row.passed ? 'pass' : 'FAIL'}: healed in ${(row.healMs / 1000).toFixed(1)} s, ${row.acks} acknowledged${row.notes !== '' ? `; ${row.notes}` : ''}`)
      await leaderIndex(ctx).catch(() => -1)
    }
  } catch (err) {
    rows.push({ name: 'setup', passed: false, healMs: NaN, acks: 0, notes: (err as Error).message })
  } finally {
    await client.stop()
    for (const node of nodes) await node.kill()
  }
  printTable(rows)
  // Explicit: a fetch still in flight to a killed node must not keep the runner alive.
  process.exit(rows.every((r) => r.passed) ? 0 : 1)
}

await main()
