/**
 * @module bench/revoada/scale-checks
 * What `npm run bench:scale` asks of a cluster of many `revoada start` processes, each a poll over every
 * node's admin API: converged (every node sees N alive members, N admitted members and one shape CID),
 * ha-three holding (3 etcd holders, 3 voters, on every node), and per-process resident memory and CPU from
 * /proc. Polls are spaced (POLL_INTERVAL_MS), not tight: at 50 nodes every round is 100 HTTP requests, and a
 * tight loop would itself become the load being measured.
 */
import { promises as fs } from 'node:fs'
import type { RevoadaCluster, RevoadaProc, Status } from './cluster.js'
import { cpuSeconds } from './cpu.js'

/** Gap between two polling rounds over every node. */
export const POLL_INTERVAL_MS = 250
/** The etcd holders (= Raft voters) of ha-three. */
export const HA_THREE_VOTERS = 3

interface MemberRow { nodeId: string, health: string }
interface ShapeMember { nodeId: string, roles: string[] }

/** Polls `check` every `intervalMs` until it is true; resolves with ms since `since`, or null after `deadlineMs`. */
export async function pollUntil (since: number, deadlineMs: number, intervalMs: number, check: () => Promise<boolean>): Promise<number | null> {
  for (;;) {
    let ok = false
    try { ok = await check() } catch { ok = false }
    if (ok) return performance.now() - since
    if (performance.now() - since > deadlineMs) return null
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

async function aliveMembers (cluster: RevoadaCluster, proc: RevoadaProc): Promise<number> {
  const { members } = await cluster.get(proc, '/v1/members') as { members: MemberRow[] }
  return members.filter((m) => m.health === 'alive').length
}

/** Every one of `procs` reports `dead` as `dead` (membership's failure detection, what the policy acts on). */
export async function deadEverywhere (cluster: RevoadaCluster, procs: readonly RevoadaProc[], dead: string): Promise<boolean> {
  const views = await Promise.all(procs.map(async (p) => (await cluster.get(p, '/v1/members') as { members: MemberRow[] }).members))
  return views.every((members) => members.find((m) => m.nodeId === dead)?.health === 'dead')
}

/**
 * When each of `procs` declared `dead` dead by its own clock (the `dead` event's `atMs` in `GET /v1/members`;
 * membership's steady clock reads like the wall clock): the latest of them, or null when one has no such
 * event. Unlike polling until every view says so, a slow answer from one starved node does not delay it.
 */
export async function lastDeadEventAt (cluster: RevoadaCluster, procs: readonly RevoadaProc[], dead: string): Promise<number | null> {
  const times = await Promise.all(procs.map(async (p) => {
    const { events } = await cluster.get(p, '/v1/members') as { events: Array<{ kind: string, nodeId: string, atMs: number }> }
    return events.find((e) => e.kind === 'dead' && e.nodeId === dead)?.atMs
  }))
  return times.every((t): t is number => t !== undefined) ? Math.max(...times) : null
}

/** Every one of `procs` sees `n` alive members and `n` admitted members (voters + learners) under one shape CID. */
export async function converged (cluster: RevoadaCluster, procs: readonly RevoadaProc[], n: number): Promise<boolean> {
  const [statuses, alive] = await Promise.all([
    Promise.all(procs.map(async (p) => await cluster.status(p))),
    Promise.all(procs.map(async (p) => await aliveMembers(cluster, p)))
  ])
  const cids = new Set(statuses.map((s) => s.shapeCid))
  return cids.size === 1 && alive.every((a) => a === n) && statuses.every((s) => s.voters.length + s.learners.length === n)
}

/** Why `procs` have not converged (for a run that missed its deadline): per-node alive, admitted and peer counts. */
export async function convergenceDetail (cluster: RevoadaCluster, procs: readonly RevoadaProc[]): Promise<string> {
  const rows = await Promise.all(procs.map(async (p, i) => {
    try {
      const [s, alive] = await Promise.all([cluster.status(p), aliveMembers(cluster, p)])
      // Where a stalled node stands in the log, and whether Raft messages reach it (transport counters).
      const x = s as Status & { peers: string[], term?: number, commitIndex?: number, appliedIndex?: number, transport?: { sent: number, received: number, droppedSendError: number, rejectedNotMember: number } }
      const raft = { term: x.term, commit: x.commitIndex, applied: x.appliedIndex, voters: s.voters.length }
      const transport = x.transport === undefined ? {} : { sent: x.transport.sent, recv: x.transport.received, sendErr: x.transport.droppedSendError, notMember: x.transport.rejectedNotMember }
      return { i, alive, admitted: s.voters.length + s.learners.length, peers: x.peers.length, cid: s.shapeCid.slice(-8), role: s.role, ...raft, ...transport }
    } catch (err) { return { i, error: (err as Error).message } }
  }))
  return rows.map((r) => JSON.stringify(r)).join('\n')
}

/** The etcd holders of the committed shape as `proc` applied it. */
export async function etcdHolders (cluster: RevoadaCluster, proc: RevoadaProc): Promise<string[]> {
  const shape = await cluster.staleShape(proc)
  return (shape.members as ShapeMember[]).filter((m) => m.roles.includes('etcd')).map((m) => m.nodeId)
}

/** ha-three holds on every one of `procs`: one shape CID, 3 etcd holders, 3 Raft voters, none of them `dead`. */
export async function haThreeHolds (cluster: RevoadaCluster, procs: readonly RevoadaProc[], dead?: string): Promise<boolean> {
  const statuses = await Promise.all(procs.map(async (p) => await cluster.status(p)))
  if (new Set(statuses.map((s) => s.shapeCid)).size !== 1) return false
  if (!statuses.every((s) => s.voters.length === HA_THREE_VOTERS && (dead === undefined || !s.voters.includes(dead)))) return false
  const holders = await etcdHolders(cluster, procs[0]!)
  return holders.length === HA_THREE_VOTERS && (dead === undefined || !holders.includes(dead))
}

/** Every one of `procs` has 3 Raft voters, none of them `dead` (the Raft half of healing, without the shape). */
export async function votersBack (cluster: RevoadaCluster, procs: readonly RevoadaProc[], dead: string): Promise<boolean> {
  const statuses: Status[] = await Promise.all(procs.map(async (p) => await cluster.status(p)))
  return statuses.every((s) => s.voters.length === HA_THREE_VOTERS && !s.voters.includes(dead))
}

/**
 * Resident memory of `pid` in MB from /proc/PID/status, NaN once it exited: VmRSS (all of it), or RssAnon
 * (its own heap and buffers: VmRSS without the pages of the node binary and libraries, which every node
 * process on the machine shares through the page cache — ≈ 45 MB of a node's VmRSS).
 */
export async function rssMb (pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): Promise<number> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024
  } catch { return Number.NaN }
}

/** CPU seconds (user + system) of each pid over about `seconds` of wall-clock time (/proc), and the exact span. */
export async function cpuOver (pids: readonly number[], seconds: number): Promise<{ cpu: number[], elapsedS: number }> {
  const before = await Promise.all(pids.map(async (pid) => await cpuSeconds([pid])))
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const after = await Promise.all(pids.map(async (pid) => await cpuSeconds([pid])))
  // A process that exited meanwhile reads 0: NaN keeps it out of the figures instead of a negative time.
  return { cpu: after.map((a, i) => a === 0 ? Number.NaN : a - (before[i] ?? 0)), elapsedS: (performance.now() - t0) / 1000 }
}

export interface SyscallCounts { reads: number, writes: number }

/** Read and write system calls a process has made so far (/proc/PID/io syscr, syscw); NaN once it exited. */
export async function syscalls (pid: number): Promise<SyscallCounts> {
  try {
    const io = await fs.readFile(`/proc/${pid}/io`, 'utf8')
    const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(io)?.[1] ?? Number.NaN)
    return { reads: field('syscr'), writes: field('syscw') }
  } catch { return { reads: Number.NaN, writes: Number.NaN } }
}
