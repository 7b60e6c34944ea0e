/**
 * @module bench/scale
 * `npm run bench:scale` (issue 16, scale part): N real `revoada start` processes on 127.0.0.1 (port 0, temp
 * data dirs, the `revoada` bin's Node flags, src/cli/node-flags.ts), target ha-three. Node 0 creates the cluster and
 * sets the target; the N−1 others are spawned at once with its join string. For each N it measures:
 *   - convergence: from spawning the joiners (and from the moment every API answers) until every node sees N
 *     alive members and N admitted members under one shape CID, and the CPU seconds all N processes spent
 *     until their APIs answered (start-up) and until convergence (load-independent, unlike the times); then
 *     until ha-three holds everywhere
 *     (3 etcd holders, 3 voters — the policy promotes two joiners once they are stable);
 *   - idle: after SCALE_IDLE_S seconds with no bench traffic, VmRSS of every process (median, max) and the
 *     CPU of all N together (utime + stime from /proc over that span), in cores; the leader's share apart; the
 *     read and write system calls per node per second (/proc/PID/io: load-independent, about one write a message);
 *   - healing: SIGKILL of the Raft leader → a write acknowledged again (a new `POST /v1/target` attempt
 *     every 50 ms round-robin over survivors, see revoada/probe.ts), → every survivor's membership reports it
 *     `dead` (failure detection at this size), → 3 live voters on every survivor,
 *     → ha-three holding again on every survivor (a replacement etcd holder committed); and kill → the last
 *     survivor's own `dead` event (its `atMs`): polling waits for the slowest of N − 1 starved APIs each round,
 *     which added 1–3 s to "dead everywhere" at 25 nodes (docs/bench/scale.md, 2026-12-04). Skipped when ha-three
 *     never held (with fewer than 3 voters the kill would only measure a cluster without quorum).
 * Then a table, and how each per-node figure grows with N (the exponent k of figure ∝ N^k between the smallest
 * and the largest N). Every process and temp dir goes on exit and on Ctrl-C (revoada/cleanup.ts).
 *
 * Env: SCALE_NODES (default 10,25,50), SCALE_IDLE_S (default 30), SCALE_DEADLINE_S (per phase, default 240),
 * SCALE_HEAL_POLL_MS (gap between the heal checks' polling rounds, default 250),
 * SCALE_CONFIG (a JSON node config for every node, e.g. '{"net":{"pingIntervalMs":5000}}' to compare a tuning;
 * default {} = the defaults operators get).
 */
import '../src/polyfill.js'
import os from 'node:os'
import { RevoadaCluster, REVOADA_BIN_NODE_FLAGS } from './revoada/cluster.js'
import type { RevoadaProc } from './revoada/cluster.js'
import { cpuSeconds } from './revoada/cpu.js'
import { firstAcknowledged } from './revoada/probe.js'
import { converged, convergenceDetail, cpuOver, deadEverywhere, haThreeHolds, HA_THREE_VOTERS, lastDeadEventAt, POLL_INTERVAL_MS, pollUntil, rssMb, syscalls, votersBack } from './revoada/scale-checks.js'
import { formatNumber, machineDescription, median, printTable } from './lib/stats.js'

const sizes = (process.env.SCALE_NODES ?? '10,25,50').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 3)
const idleS = Number(process.env.SCALE_IDLE_S ?? 30)
const deadlineMs = Number(process.env.SCALE_DEADLINE_S ?? 240) * 1000
const nodeConfig = JSON.parse(process.env.SCALE_CONFIG ?? '{}') as Record<string, unknown>
/**
 * Gap between the heal checks' polling rounds (SCALE_HEAL_POLL_MS, default POLL_INTERVAL_MS). Each round asks
 * every survivor, and at 50 nodes the three checks' rounds were most of the 2 cores after a kill (the new
 * leader got ≈ 0.1 core: docs/bench/scale.md, "A leader kill at 50: where the seconds go"): a longer gap
 * measures how much of healing is the bench's own load, at the price of that much more polling lag.
 */
const healPollMs = Number(process.env.SCALE_HEAL_POLL_MS ?? POLL_INTERVAL_MS)
/** The flag the `revoada` bin's shebang passes (src/cli/main.ts): measure what operators run. */
/** One node's API may be slow to appear when N processes load at once on 2 cores. */
const START_TIMEOUT_MS = 180_000

interface ScaleResult {
  n: number
  convergeMs: number | null
  convergeAfterUpMs: number | null
  /** CPU seconds of all N processes from spawn until every API answered (start-up: module loading, storage). */
  startCpuS: number
  /** CPU seconds of all N processes from spawn until converged (or the deadline): what forming the cluster costs. */
  convergeCpuS: number
  haThreeMs: number | null
  rssMedianMb: number
  rssMaxMb: number
  /** Median RssAnon: a node's private memory, without the shared node binary and libraries. */
  anonMedianMb: number
  cpuCores: number
  /** Processes still running over the idle window (a joiner that gave up has exited): what per-node idle CPU divides by. */
  idleProcs: number
  leaderCpuCores: number
  /** Read and write system calls per node per second over the idle window (mean): each message is about one write. */
  readsPerNodeS: number
  writesPerNodeS: number
  peersMedian: number
  /** Undefined when ha-three never held (no kill); votersMs and healedMs also at N = 3 (two survivors). */
  writeMs: number | null | undefined
  /** Kill → every survivor's membership reports the leader `dead` (polled: a round waits for the slowest answer). */
  deadMs: number | null | undefined
  /** Kill → the last survivor's `dead` event, by the survivors' own clocks (no polling delay). */
  deadEventMs: number | null | undefined
  votersMs: number | null | undefined
  healedMs: number | null | undefined
  load: string
}

const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ')
/** A duration in ms for the tables; null = not reached within the phase deadline, undefined = not measured. */
const ms = (v: number | null | undefined): string => v === undefined ? 'n/a' : v === null ? `> ${formatNumber(deadlineMs)}` : formatNumber(Math.round(v))

/** Node 0 creates the cluster with target ha-three; the others are spawned at once with its join string. */
async function startAll (cluster: RevoadaCluster, n: number): Promise<{ spawnedAt: number, upAt: number }> {
  const first = await cluster.spawn(cluster.nodeDir(0))
  await cluster.post(first, '/v1/target', { preset: 'ha-three' })
  const join = ((await cluster.get(first, '/v1/join-string')) as { joinString: string }).joinString
  const spawnedAt = performance.now()
  await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await cluster.spawn(cluster.nodeDir(i + 1), join)))
  return { spawnedAt, upAt: performance.now() }
}

const live = (xs: number[]): number[] => xs.filter((x) => !Number.isNaN(x))
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** Resident memory, CPU, system calls and libp2p peer count of every node after `idleS` seconds without bench traffic. */
async function idleFigures (cluster: RevoadaCluster): Promise<Pick<ScaleResult, 'rssMedianMb' | 'rssMaxMb' | 'anonMedianMb' | 'cpuCores' | 'idleProcs' | 'leaderCpuCores' | 'readsPerNodeS' | 'writesPerNodeS' | 'peersMedian'>> {
  const leader = await findLeader(cluster)
  const procs = cluster.alive()
  const pids = procs.map((p) => p.child.pid as number)
  const ioBefore = await Promise.all(pids.map(syscalls))
  const { cpu, elapsedS } = await cpuOver(pids, idleS)
  const ioAfter = await Promise.all(pids.map(syscalls))
  const perNodeS = (pick: (c: { reads: number, writes: number }) => number): number =>
    mean(live(ioAfter.map((after, i) => (pick(after) - pick(ioBefore[i]!)) / elapsedS)))
  const rss = await Promise.all(procs.map(async (p) => await rssMb(p.child.pid as number)))
  const anon = await Promise.all(procs.map(async (p) => await rssMb(p.child.pid as number, 'RssAnon')))
  const peers = live(await Promise.all(procs.map(async (p) => await cluster.status(p).then((st) => (st as unknown as { peers: string[] }).peers.length, () => Number.NaN))))
  return {
    rssMedianMb: median(live(rss)),
    rssMaxMb: Math.max(...live(rss)),
    anonMedianMb: median(live(anon)),
    cpuCores: live(cpu).reduce((a, b) => a + b, 0) / elapsedS,
    idleProcs: live(cpu).length,
    leaderCpuCores: leader === null ? Number.NaN : (cpu[procs.indexOf(leader)] ?? Number.NaN) / elapsedS,
    readsPerNodeS: perNodeS((c) => c.reads),
    writesPerNodeS: perNodeS((c) => c.writes),
    peersMedian: median(peers)
  }
}

/** Streams reopened after a loss and opened late, summed over the nodes, and on how many nodes any. */
async function gossipStreams (cluster: RevoadaCluster): Promise<string> {
  const counts = await Promise.all(cluster.alive().map(async (p) => await cluster.status(p).then(
    (st) => (st as unknown as { gossipStreams?: { reopened: number, openedLate: number } }).gossipStreams, () => undefined)))
  const known = counts.filter((c) => c !== undefined)
  const sum = (pick: (c: { reopened: number, openedLate: number }) => number): number => known.reduce((a, c) => a + pick(c), 0)
  const on = (pick: (c: { reopened: number, openedLate: number }) => number): number => known.filter((c) => pick(c) > 0).length
  return `reopened ${sum((c) => c.reopened)} on ${on((c) => c.reopened)} nodes, opened late ${sum((c) => c.openedLate)} on ${on((c) => c.openedLate)} nodes (of ${known.length} answering)`
}

/** The Raft leader, waiting up to the phase deadline for one (a cluster that never settled may have none). */
async function findLeader (cluster: RevoadaCluster): Promise<RevoadaProc | null> {
  let leader: RevoadaProc | null = null
  await pollUntil(performance.now(), deadlineMs, POLL_INTERVAL_MS, async () => { leader = await cluster.leader(); return true })
  return leader
}

/** SIGKILL of the Raft leader; ms until a write is acknowledged, 3 live voters, and ha-three holds again. */
async function leaderKill (cluster: RevoadaCluster): Promise<{ writeMs: number | null, deadMs: number | null, deadEventMs: number | null, votersMs: number | null | undefined, healedMs: number | null | undefined }> {
  const leader = await findLeader(cluster)
  if (leader === null) return { writeMs: null, deadMs: null, deadEventMs: null, votersMs: null, healedMs: null }
  const dead = leader.nodeId
  const survivors: RevoadaProc[] = cluster.alive().filter((p) => p !== leader)
  const killedAt = performance.now()
  const killedAtWallMs = Date.now()
  await cluster.kill(leader)
  // Wall-clock time, to line the nodes' logs (BENCH_NODE_LOG_DIR, pino `time`) up with the kill.
  console.log(`  leader ${dead} killed at ${killedAtWallMs} (${new Date(killedAtWallMs).toISOString()})`)
  const write = firstAcknowledged(killedAt, deadlineMs, async (k, timeoutMs) =>
    await cluster.post(survivors[k % survivors.length]!, '/v1/target', { preset: 'ha-three' }, timeoutMs)).catch(() => null)
  // With fewer than 3 survivors, 3 live voters cannot come back: only the write is measured.
  const canHeal = survivors.length >= HA_THREE_VOTERS
  const [writeMs, deadMs, votersMs, healedMs] = await Promise.all([
    write,
    pollUntil(killedAt, deadlineMs, healPollMs, async () => await deadEverywhere(cluster, survivors, dead)),
    canHeal ? pollUntil(killedAt, deadlineMs, healPollMs, async () => await votersBack(cluster, survivors, dead)) : undefined,
    canHeal ? pollUntil(killedAt, deadlineMs, healPollMs, async () => await haThreeHolds(cluster, survivors, dead)) : undefined
  ])
  const deadAt = deadMs === null ? null : await lastDeadEventAt(cluster, survivors, dead).catch(() => null)
  return { writeMs, deadMs, deadEventMs: deadAt === null ? null : deadAt - killedAtWallMs, votersMs, healedMs }
}

async function measure (n: number): Promise<ScaleResult> {
  const cluster = await RevoadaCluster.empty(nodeConfig)
  cluster.startTimeoutMs = START_TIMEOUT_MS
  cluster.nodeArgs.push(...REVOADA_BIN_NODE_FLAGS)
  try {
    const load = loadAverage()
    const { spawnedAt, upAt } = await startAll(cluster, n)
    const pids = cluster.procs.map((p) => p.child.pid as number)
    const startCpuS = await cpuSeconds(pids)
    console.log(`  N=${n}: every API answering ${ms(upAt - spawnedAt)} ms after spawning the joiners (CPU of all N so far ${startCpuS.toFixed(1)} s)`)
    const convergeMs = await pollUntil(spawnedAt, deadlineMs, POLL_INTERVAL_MS, async () => await converged(cluster, cluster.procs, n))
    // Summed over the processes still running: one that exited on its own takes its CPU time with it.
    const convergeCpuS = await cpuSeconds(pids)
    const convergeAfterUpMs = convergeMs === null ? null : convergeMs - (upAt - spawnedAt)
    if (convergeMs === null) console.log(`  N=${n}: not converged; per node:\n${await convergenceDetail(cluster, cluster.procs)}`)
    // Raft entries the creator has committed by now (load-independent: admission waves, promotions, seals).
    const entries = await cluster.status(cluster.procs[0]!).then((s) => (s as unknown as { commitIndex: number }).commitIndex, () => Number.NaN)
    console.log(`  N=${n}: ${entries} Raft entries committed (node 0's commit index)`)
    console.log(`  N=${n}: converged ${ms(convergeMs)} ms after spawning (${ms(convergeAfterUpMs)} ms after every API answered; CPU of all N by then ${convergeCpuS.toFixed(1)} s)`)
    const haThreeMs = await pollUntil(spawnedAt, deadlineMs, POLL_INTERVAL_MS, async () => await haThreeHolds(cluster, cluster.procs))
    console.log(`  N=${n}: ha-three holds everywhere ${ms(haThreeMs)} ms after spawning; idle for ${idleS} s…`)
    const idle = await idleFigures(cluster)
    console.log(`  N=${n}: gossip streams the nodes opened themselves by now (net/gossip-streams.ts): ${await gossipStreams(cluster)}`)
    // Without ha-three (fewer than 3 voters) a leader kill only measures a cluster without quorum: skipped.
    const heal = haThreeMs !== null ? await leaderKill(cluster) : { writeMs: undefined, deadMs: undefined, deadEventMs: undefined, votersMs: undefined, healedMs: undefined }
    console.log(`  N=${n}: leader SIGKILL → ms until write ${ms(heal.writeMs)}, dead everywhere ${ms(heal.deadMs)} (by the nodes' own dead events ${ms(heal.deadEventMs)}), 3 live voters ${ms(heal.votersMs)}, ha-three ${ms(heal.healedMs)}`)
    return { n, convergeMs, convergeAfterUpMs, startCpuS, convergeCpuS, haThreeMs, ...idle, ...heal, load: `${load} → ${loadAverage()}` }
  } finally {
    await cluster.stop()
  }
}

/** k in figure ∝ N^k between the smallest and the largest N (1 = linear, 2 = quadratic). */
function exponent (results: readonly ScaleResult[], pick: (r: ScaleResult) => number | null | undefined): string {
  const first = results[0]
  const last = results[results.length - 1]
  if (first === undefined || last === undefined || first === last) return '–'
  const a = pick(first)
  const b = pick(last)
  if (a === null || a === undefined || b === null || b === undefined || !(a > 0) || !(b > 0)) return '–'
  return `N^${(Math.log(b / a) / Math.log(last.n / first.n)).toFixed(2)}`
}

function report (results: readonly ScaleResult[]): void {
  console.log('\nFigures (targets at 50: converge ≤ 30 s, RSS ≤ 100 MB per node, idle CPU ≤ 1 core, heal ≤ 5 s):')
  printTable(['N', 'spawn → converged ms', 'APIs up → converged ms', 'CPU to APIs up, all N (s)', 'CPU to converged, all N (s)', 'spawn → ha-three ms', 'RSS median MB', 'RSS max MB',
    `idle CPU, all N (cores)`, 'processes running at idle', 'leader CPU (cores)', 'libp2p peers per node', 'kill → write ms', 'kill → dead everywhere ms', 'kill → last dead event ms', 'kill → 3 voters ms', 'kill → ha-three ms', 'load avg (1 5 15 min) start → end'],
  results.map((r) => [r.n, ms(r.convergeMs), ms(r.convergeAfterUpMs), r.startCpuS, r.convergeCpuS, ms(r.haThreeMs), r.rssMedianMb, r.rssMaxMb, r.cpuCores, r.idleProcs, r.leaderCpuCores,
    r.peersMedian, ms(r.writeMs), ms(r.deadMs), ms(r.deadEventMs), ms(r.votersMs), ms(r.healedMs), r.load]))
  console.log('\nHow each grows (per node, vs N):')
  const perNodeCpu = (r: ScaleResult): number => r.cpuCores / r.idleProcs
  printTable(['figure', ...results.map((r) => `N=${r.n}`), 'growth'], [
    ['RSS median per node (MB)', ...results.map((r) => r.rssMedianMb), exponent(results, (r) => r.rssMedianMb)],
    ['private (RssAnon) median per node (MB)', ...results.map((r) => r.anonMedianMb), exponent(results, (r) => r.anonMedianMb)],
    ['idle CPU per node (millicores)', ...results.map((r) => perNodeCpu(r) * 1000), exponent(results, perNodeCpu)],
    ['idle CPU, all N (cores)', ...results.map((r) => r.cpuCores), exponent(results, (r) => r.cpuCores)],
    ['idle read / write syscalls per node per s', ...results.map((r) => `${formatNumber(r.readsPerNodeS)} / ${formatNumber(r.writesPerNodeS)}`), exponent(results, (r) => r.writesPerNodeS)],
    ['leader idle CPU (millicores)', ...results.map((r) => r.leaderCpuCores * 1000), exponent(results, (r) => r.leaderCpuCores)],
    ['libp2p peers per node', ...results.map((r) => r.peersMedian), exponent(results, (r) => r.peersMedian)],
    ['start-up CPU per node (s)', ...results.map((r) => r.startCpuS / r.n), exponent(results, (r) => r.startCpuS / r.n)],
    ['CPU spawn → converged per node (s)', ...results.map((r) => r.convergeCpuS / r.n), exponent(results, (r) => r.convergeCpuS / r.n)],
    ['APIs up → converged (ms)', ...results.map((r) => ms(r.convergeAfterUpMs)), exponent(results, (r) => r.convergeAfterUpMs)],
    ['kill → write (ms)', ...results.map((r) => ms(r.writeMs)), exponent(results, (r) => r.writeMs)],
    ['kill → dead everywhere (ms)', ...results.map((r) => ms(r.deadMs)), exponent(results, (r) => r.deadMs)],
    ['kill → last dead event (ms)', ...results.map((r) => ms(r.deadEventMs)), exponent(results, (r) => r.deadEventMs)],
    ['kill → 3 live voters (ms)', ...results.map((r) => ms(r.votersMs)), exponent(results, (r) => r.votersMs)]
  ])
}

async function main (): Promise<void> {
  if (sizes.length === 0) throw new Error('SCALE_NODES must list cluster sizes of at least 3, e.g. 10,25,50')
  console.log(`machine: ${await machineDescription()}`)
  const config = process.env.SCALE_CONFIG !== undefined ? ` SCALE_CONFIG='${JSON.stringify(nodeConfig)}'` : ''
  const healPoll = process.env.SCALE_HEAL_POLL_MS !== undefined ? ` SCALE_HEAL_POLL_MS=${healPollMs}` : ''
  console.log(`command: SCALE_NODES=${sizes.join(',')} SCALE_IDLE_S=${idleS} SCALE_DEADLINE_S=${deadlineMs / 1000}${config}${healPoll} npm run bench:scale; load average ${loadAverage()}`)
  const results: ScaleResult[] = []
  for (const n of sizes) {
    console.log(`N=${n}: starting ${n} processes…`)
    results.push(await measure(n))
  }
  report(results)
}

await main()
