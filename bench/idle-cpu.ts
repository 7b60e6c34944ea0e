/**
 * @module bench/idle-cpu
 * `npm run bench:idle` (issue 16, scale part: idle CPU of all 50 nodes ≤ 1 core, i.e. ≤ 20 ms of CPU per second
 * per node): N real `revoada start` processes on 127.0.0.1 (the `revoada` bin's Node flags,
 * default config, policy on), node 0 creating the cluster with target ha-three and the others joining one
 * after the other. Once every node sees N alive members under one shape CID and ha-three holds (3 voters, the
 * rest learners), nothing is sent for IDLE_S seconds and the bench prints the CPU each node spent over that
 * window (utime + stime of /proc/PID/stat: CPU-seconds, load-independent) as ms of CPU per second, for the
 * leader, the voting followers and the learners apart, and the Raft messages each sent and received per
 * second (`GET /v1/status` transport counters), the read and write system calls per second (/proc/PID/io
 * syscr, syscw: every message sent is at least one write, every batch read one read — load-independent,
 * unlike CPU time on a shared machine), the membership heartbeats each node accepted and relayed per second
 * (`GET /v1/members` counters; NaN on builds without them) and the resident memory at the end of the window.
 * Every process and temp dir goes on exit and on Ctrl-C.
 *
 * Env: IDLE_NODES (cluster sizes, default 3,10), IDLE_S (window, default 30), IDLE_CONFIG (a JSON node
 * config for every node, to compare a tuning).
 */
import '../src/polyfill.js'
import os from 'node:os'
import { RevoadaCluster, REVOADA_BIN_NODE_FLAGS } from './revoada/cluster.js'
import type { RevoadaProc, Status } from './revoada/cluster.js'
import { converged, convergenceDetail, cpuOver, haThreeHolds, POLL_INTERVAL_MS, pollUntil, rssMb, syscalls } from './revoada/scale-checks.js'
import { formatNumber, machineDescription, median, printTable } from './lib/stats.js'

const sizes = (process.env.IDLE_NODES ?? '3,10').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 3)
const idleS = Number(process.env.IDLE_S ?? 30)
const nodeConfig = JSON.parse(process.env.IDLE_CONFIG ?? '{}') as Record<string, unknown>
/** How long the cluster may take to form and reach ha-three before the bench gives up on that size. */
const SETTLE_DEADLINE_MS = 180_000

type Role = 'leader' | 'voter' | 'learner'
interface Row { role: Role, cpuMsPerS: number, sentPerS: number, receivedPerS: number, readsPerS: number, writesPerS: number, rssMb: number, acceptedPerS: number, relayedPerS: number }

const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ')

interface TransportView { transport?: { sent: number, received: number } }
interface Counts { sent: number, received: number, term: number, accepted: number, relayed: number }
interface MembersView { counters?: Record<string, number> }

/** Raft transport counters (`GET /v1/status`) and membership's heartbeat counters (`GET /v1/members`). */
async function raftCounts (cluster: RevoadaCluster, procs: readonly RevoadaProc[]): Promise<Counts[]> {
  return await Promise.all(procs.map(async (p) => {
    const s = (await cluster.status(p)) as Status & TransportView
    const m = (await cluster.get(p, '/v1/members')) as MembersView
    return {
      sent: s.transport?.sent ?? Number.NaN,
      received: s.transport?.received ?? Number.NaN,
      term: s.term,
      // Older builds count neither: NaN, printed as such.
      accepted: m.counters?.accepted ?? Number.NaN,
      relayed: m.counters?.relayed ?? Number.NaN
    }
  }))
}

async function measure (n: number): Promise<Row[]> {
  const cluster = await RevoadaCluster.empty({ ...nodeConfig })
  cluster.nodeArgs.push(...REVOADA_BIN_NODE_FLAGS)
  cluster.startTimeoutMs = SETTLE_DEADLINE_MS
  try {
    const first = await cluster.spawn(cluster.nodeDir(0))
    await cluster.post(first, '/v1/target', { preset: 'ha-three' })
    const join = ((await cluster.get(first, '/v1/join-string')) as { joinString: string }).joinString
    for (let i = 1; i < n; i++) await cluster.spawn(cluster.nodeDir(i), join)
    const since = performance.now()
    const settled = await pollUntil(since, SETTLE_DEADLINE_MS, POLL_INTERVAL_MS, async () =>
      await converged(cluster, cluster.procs, n) && await haThreeHolds(cluster, cluster.procs))
    if (settled === null) console.log(await convergenceDetail(cluster, cluster.procs))
    if (settled === null) throw new Error(`N=${n}: not converged with ha-three within ${SETTLE_DEADLINE_MS} ms`)
    // An election may be under way at this very moment on a loaded machine: wait for its leader.
    let leader: RevoadaProc | undefined
    await pollUntil(performance.now(), SETTLE_DEADLINE_MS, POLL_INTERVAL_MS, async () => { leader = await cluster.leader(); return true })
    if (leader === undefined) throw new Error(`N=${n}: no leader within ${SETTLE_DEADLINE_MS} ms`)
    const leaderStatus = await cluster.status(leader)
    // Roles as the leader sees them when the window opens.
    const procs = cluster.procs
    const roles: Role[] = await Promise.all(procs.map(async (p) => {
      const s = await cluster.status(p)
      return s.role === 'leader' ? 'leader' : leaderStatus.voters.includes(s.nodeId) ? 'voter' : 'learner'
    }))
    console.log(`  N=${n}: settled ${formatNumber(Math.round(settled))} ms after the last join; idle for ${idleS} s (load ${loadAverage()})…`)
    const pids = procs.map((p) => p.child.pid as number)
    const before = await raftCounts(cluster, procs)
    const ioBefore = await Promise.all(pids.map(syscalls))
    const { cpu, elapsedS } = await cpuOver(pids, idleS)
    const ioAfter = await Promise.all(pids.map(syscalls))
    const rss = await Promise.all(pids.map(async (pid) => await rssMb(pid)))
    const after = await raftCounts(cluster, procs)
    // An election inside the window (a starved machine) changes what every role costs: said, not hidden.
    const terms = (cs: Counts[]): number => Math.max(...cs.map((c) => c.term))
    if (terms(after) !== terms(before)) console.log(`  N=${n}: election during the window: term ${terms(before)} → ${terms(after)}`)
    const leaderAfter = (await Promise.all(procs.map(async (p) => await cluster.status(p).catch(() => null)))).find((s) => s?.role === 'leader')
    if (leaderAfter?.nodeId !== leaderStatus.nodeId) console.log(`  N=${n}: the leader changed meanwhile (${leaderStatus.nodeId.slice(-6)} → ${leaderAfter?.nodeId.slice(-6) ?? 'none'}): the per-role rows mix roles`)
    return procs.map((_, i) => ({
      role: roles[i]!,
      cpuMsPerS: (cpu[i] ?? Number.NaN) * 1000 / elapsedS,
      sentPerS: (after[i]!.sent - before[i]!.sent) / elapsedS,
      receivedPerS: (after[i]!.received - before[i]!.received) / elapsedS,
      readsPerS: (ioAfter[i]!.reads - ioBefore[i]!.reads) / elapsedS,
      writesPerS: (ioAfter[i]!.writes - ioBefore[i]!.writes) / elapsedS,
      rssMb: rss[i]!,
      acceptedPerS: (after[i]!.accepted - before[i]!.accepted) / elapsedS,
      relayedPerS: (after[i]!.relayed - before[i]!.relayed) / elapsedS
    }))
  } finally {
    await cluster.stop()
  }
}

function summary (n: number, rows: readonly Row[], load: string): Array<Array<string | number>> {
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  const line = (label: string, picked: readonly Row[]): Array<string | number> => picked.length === 0
    ? [n, label, 0, '–', '–', '–', '–', '–', '–', '–', '–', '–', load]
    : [n, label, picked.length, mean(picked.map((r) => r.cpuMsPerS)), median(picked.map((r) => r.cpuMsPerS)),
        mean(picked.map((r) => r.sentPerS)), mean(picked.map((r) => r.receivedPerS)),
        mean(picked.map((r) => r.readsPerS)), mean(picked.map((r) => r.writesPerS)),
        mean(picked.map((r) => r.acceptedPerS)), mean(picked.map((r) => r.relayedPerS)), median(picked.map((r) => r.rssMb)), load]
  return [
    line('all', rows),
    line('leader', rows.filter((r) => r.role === 'leader')),
    line('voting followers', rows.filter((r) => r.role === 'voter')),
    line('learners', rows.filter((r) => r.role === 'learner'))
  ]
}

const HEADER = ['N', 'nodes', 'count', 'CPU ms/s mean', 'CPU ms/s median', 'Raft msgs sent/s', 'Raft msgs received/s',
  'read syscalls/s', 'write syscalls/s', 'heartbeats accepted/s', 'of which relayed/s', 'RSS MB median', 'load avg start → end']

async function main (): Promise<void> {
  if (sizes.length === 0) throw new Error('IDLE_NODES must list cluster sizes of at least 3, e.g. 3,10')
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: IDLE_NODES=${sizes.join(',')} IDLE_S=${idleS}${process.env.IDLE_CONFIG !== undefined ? ` IDLE_CONFIG='${JSON.stringify(nodeConfig)}'` : ''} npm run bench:idle; load average ${loadAverage()}`)
  const table: Array<Array<string | number>> = []
  for (const n of sizes) {
    console.log(`N=${n}: starting ${n} processes…`)
    const start = loadAverage()
    const rows = await measure(n)
    const lines = summary(n, rows, `${start} → ${loadAverage()}`)
    // Printed at once too: a later size that fails must not lose this one's figures.
    printTable(HEADER, lines)
    table.push(...lines)
  }
  console.log(`\nIdle CPU per node over ${idleS} s (target: ≤ 20 ms/s per node, 50 nodes ≤ 1 core):`)
  printTable(HEADER, table)
}

await main()
