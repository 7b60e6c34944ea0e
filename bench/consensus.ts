/**
 * @module bench/consensus
 * `npm run bench:consensus` (issue 6 item 7): revoada and etcd 3.4 side by side in one run, same harness
 * shape — 3 voters on loopback, fsync on, closed-loop clients at 1, 16 and 64 concurrency for DURATION_MS
 * each, commits/s, p50, p99; then leader failover (SIGKILL, restart) FAILOVER_TRIALS times each.
 *
 * A revoada "commit" is one MeshShape command through the admin API (HTTP keep-alive), acknowledged with its
 * own typed result: the node signs an envelope (~250 bytes of canonical CBOR plus a 64-byte signature; with
 * requests that arrived while its previous batch was in flight, one batch envelope for all of them, issue 16),
 * Raft commits it (fsync on a majority) and the API answers once the entry is applied on that node. The
 * commands alternate promote/demote of `scheduler` on one node (some are committed as typed rejections,
 * counted separately). The notes give the commands per batch and the Raft messages per batch (every type,
 * heartbeats included; status transport.sentByType) summed over the nodes. An etcd "commit" is one
 * 200-byte put acknowledged by the cluster.
 *
 * The nodes run with the `revoada` bin's Node flags (src/cli/node-flags.ts); BENCH_NODE_ARGS, when set,
 * replaces them (e.g. "--max-semi-space-size=1 --cpu-prof --cpu-prof-dir=/tmp/prof": repeat the bin's flags).
 *
 * Env: DURATION_MS (default 5000), FAILOVER_TRIALS (default 10), CONCURRENCY (default 1,16,64), WARMUP_MS
 * (default 3000): before the measured phases each system takes WARMUP_MS of load at the highest concurrency,
 * not counted. A node's V8 was still compiling 15–25 functions a second per node during the first phases
 * (issue 16, docs/bench/consensus.md "CPU per batch on the commit path"): a cost paid once per process start,
 * which etcd's ahead-of-time compiled binary does not pay, so the measured phases show steady state.
 * PHASE_WARMUP_MS (default 10000): each measured phase is preceded by that much load at its own
 * concurrency, not counted, for both systems. Load at one concurrency does not warm the code paths of
 * another: one client after 15 s of 16 clients still ran at the cold rate, and four back-to-back 8 s phases
 * at one client went 207 → 342 → 545 → 467 commits/s (issue 16, docs/bench/consensus.md "Warm phases").
 * PHASE_WARMUP_MS=0 gives the cold figures of the earlier sections.
 * CLIENTS_VIA (default `all`): client i posts through node i mod 3; `leader`: every client posts through the
 * node that leads when the phase starts, so one batcher sees every caller (what larger envelopes buy, issue 16,
 * docs/bench/consensus.md "Several proposers' envelopes in one Raft entry?").
 * CHAIN_COMPARE=<rounds> instead measures the attestation chain's cost (issue 14): revoada only, the chain
 * on and off (`attestation.enabled: false`) in alternating rounds, each round a fresh 3-voter cluster.
 */
import '../src/polyfill.js'
import { startEtcdCluster } from './etcd/cluster.js'
import { findLeader, runEtcdLoad } from './etcd/load.js'
import type { EtcdCluster } from './etcd/cluster.js'
import { randomBytes } from 'node:crypto'
import { Etcd3 } from 'etcd3'
import { RevoadaCluster, REVOADA_BIN_NODE_FLAGS } from './revoada/cluster.js'
import type { RevoadaProc } from './revoada/cluster.js'
import { machineDescription, median, printTable, quantile } from './lib/stats.js'
import { waitFor } from './lib/ports.js'
import { onInterrupt } from './revoada/cleanup.js'
import { cpuSeconds } from './revoada/cpu.js'
import { firstAcknowledged } from './revoada/probe.js'
import { rssMb } from './revoada/scale-checks.js'

const durationMs = Number(process.env.DURATION_MS ?? 5000)
const failoverTrials = Number(process.env.FAILOVER_TRIALS ?? 10)
const concurrencies = (process.env.CONCURRENCY ?? '1,16,64').split(',').map(Number)
const warmupMs = Number(process.env.WARMUP_MS ?? 3000)
const phaseWarmupMs = Number(process.env.PHASE_WARMUP_MS ?? 10_000)
/** `all` (default): client i posts through node i mod 3; `leader`: every client posts through the leader. */
const clientsVia = process.env.CLIENTS_VIA ?? 'all'
if (clientsVia !== 'all' && clientsVia !== 'leader') throw new Error(`CLIENTS_VIA must be all or leader, not ${clientsVia}`)
/** The nodes run with the `revoada` bin's Node flags, what operators run; BENCH_NODE_ARGS replaces them. */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '') !== '' ? [] : REVOADA_BIN_NODE_FLAGS

interface Outcome { outcome: { kind: string } }

/** Give up on a trial with no acknowledged write after this long. */
const FAILOVER_DEADLINE_MS = 30_000

/** Three voters: two promotions to etcd, each one joint configuration change. */
async function threeVoters (cluster: RevoadaCluster): Promise<void> {
  const [a, b, c] = cluster.procs as [RevoadaProc, RevoadaProc, RevoadaProc]
  await cluster.post(a, '/v1/target', { target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 0 } })
  for (const p of [b, c]) await cluster.post(a, '/v1/proposals', { kind: 'promote', nodeId: p.nodeId, roles: ['etcd'] })
  await waitFor(async () => (await Promise.all(cluster.procs.map(async (p) => await cluster.status(p)))).every((s) => s.voters.length === 3), 30_000, '3 voters')
}

/** How much reconcile work each node did (issue 16: an entry that moves nothing a node renders should cost none). */
async function materializerWork (cluster: RevoadaCluster): Promise<string> {
  const statuses = await Promise.all(cluster.procs.map(async (p) => await cluster.status(p) as unknown as { materializer?: { reconciles: number, skipped: number, skippedBeforeView?: number } }))
  return statuses.map((s) => s.materializer === undefined ? 'none' : `${s.materializer.reconciles} / ${s.materializer.skipped} / ${s.materializer.skippedBeforeView ?? '-'}`).join('; ')
}

/** The load generator's own CPU since `since` (ms): it shares the 2 cores with the servers it measures. */
function clientCpuMs (since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}

async function revoadaLoad (cluster: RevoadaCluster, concurrency: number, forMs = durationMs): Promise<{ commits: number, seconds: number, latencies: number[], rejected: number }> {
  const target = cluster.procs[2]!.nodeId
  const latencies: number[] = []
  let rejected = 0
  const leader = clientsVia === 'leader' ? await cluster.leader() : undefined
  const end = performance.now() + forMs
  const worker = async (i: number): Promise<void> => {
    const via = leader ?? cluster.procs[i % cluster.procs.length]!
    let n = i
    while (performance.now() < end) {
      const kind = n++ % 2 === 0 ? 'promote' : 'demote'
      const start = performance.now()
      const result = await cluster.post(via, '/v1/proposals', { kind, nodeId: target, roles: ['scheduler'] }) as Outcome
      latencies.push(performance.now() - start)
      if (result.outcome.kind !== 'applied') rejected++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async (_, i) => { await worker(i) }))
  return { commits: latencies.length, seconds: (performance.now() - started) / 1000, latencies, rejected }
}

/** The leader's WAL flush counters (group commit: entries made durable per fdatasync off the loop). */
async function leaderFlushes (cluster: RevoadaCluster): Promise<{ flushes: number, entries: number }> {
  const status = await cluster.status(await cluster.leader()) as unknown as { proposals?: { walFlushes?: number, walFlushedEntries?: number } }
  return { flushes: status.proposals?.walFlushes ?? 0, entries: status.proposals?.walFlushedEntries ?? 0 }
}

/**
 * Operator batches (group commit at the API), the commands they carried, and the Raft messages sent (all
 * types, heartbeats included), summed over every node.
 */
async function batchCounts (cluster: RevoadaCluster): Promise<{ batches: number, commands: number, messages: number, forwarded: number, groupCommands: number, lingers: number, lingerTimeouts: number }> {
  type Counted = { proposals?: { batches?: number, batchedCommands?: number, requestsForwarded?: number, groupCommandsMerged?: number, lingers?: number, lingerTimeouts?: number }, transport?: { sentByType?: Record<string, number> } }
  const all = await Promise.all(cluster.procs.map(async (p) => await cluster.status(p) as unknown as Counted))
  return {
    batches: all.reduce((n, s) => n + (s.proposals?.batches ?? 0), 0),
    commands: all.reduce((n, s) => n + (s.proposals?.batchedCommands ?? 0), 0),
    messages: all.reduce((n, s) => n + Object.values(s.transport?.sentByType ?? {}).reduce((a, b) => a + b, 0), 0),
    forwarded: all.reduce((n, s) => n + (s.proposals?.requestsForwarded ?? 0), 0),
    groupCommands: all.reduce((n, s) => n + (s.proposals?.groupCommandsMerged ?? 0), 0),
    lingers: all.reduce((n, s) => n + (s.proposals?.lingers ?? 0), 0),
    lingerTimeouts: all.reduce((n, s) => n + (s.proposals?.lingerTimeouts ?? 0), 0)
  }
}

/** SIGKILL the leader; time until a write through a survivor is acknowledged; restart and let it rejoin. */
async function revoadaFailover (cluster: RevoadaCluster, trials: number): Promise<number[]> {
  const times: number[] = []
  const target = cluster.procs[2]!.nodeId
  for (let t = 0; t < trials; t++) {
    const leader = await cluster.leader()
    const survivor = cluster.alive().find((p) => p !== leader)!
    const survivors = cluster.alive().filter((p) => p !== leader)
    const killedAt = performance.now()
    await cluster.kill(leader)
    times.push(await firstAcknowledged(killedAt, FAILOVER_DEADLINE_MS, async (k, timeoutMs) =>
      await cluster.post(survivors[k % survivors.length]!, '/v1/proposals', { kind: k % 2 === 0 ? 'promote' : 'demote', nodeId: target, roles: ['controller-manager'] }, timeoutMs)))
    const back = await cluster.restart(leader)
    await waitFor(async () => {
      const [mine, theirs] = await Promise.all([cluster.status(back), cluster.status(survivor)])
      return mine.appliedIndex >= theirs.commitIndex && mine.voters.length === 3
    }, 30_000, 'rejoined')
  }
  return times
}

/**
 * etcd's side of the failover probe, shaped exactly like revoada's (bench/etcd/load's runEtcdFailover retries
 * one write at a time with a 500 ms deadline, which quantizes the figure to ~500 ms steps).
 */
async function etcdFailover (cluster: EtcdCluster, trials: number): Promise<number[]> {
  const times: number[] = []
  const value = randomBytes(200)
  for (let t = 0; t < trials; t++) {
    const leader = await findLeader(cluster)
    const survivors = cluster.members.filter((m) => m !== leader).map((m) => m.clientUrl)
    const client = new Etcd3({ hosts: survivors })
    try {
      await client.put('failover/warm').value(value)
      const killedAt = performance.now()
      await cluster.kill(leader)
      times.push(await firstAcknowledged(killedAt, FAILOVER_DEADLINE_MS, async (k, timeoutMs) =>
        await client.put(`failover/${t}/${k}`).value(value).options({ deadline: Date.now() + timeoutMs })))
    } finally {
      client.close()
    }
    await cluster.restart(leader)
  }
  return times
}

/** One fresh 3-voter cluster per variant and round, alternating, so that machine load hits both alike. */
async function chainCompare (rounds: number): Promise<void> {
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: CHAIN_COMPARE=${rounds} DURATION_MS=${durationMs} CONCURRENCY=${concurrencies.join(',')} npm run bench:consensus`)
  const results = new Map<string, number[]>()
  for (let round = 0; round < rounds; round++) {
    for (const chain of round % 2 === 0 ? [true, false] : [false, true]) {
      const cluster = await RevoadaCluster.start(3, { policy: { enabled: false }, attestation: { enabled: chain } }, { nodeArgs })
      try {
        await threeVoters(cluster)
        for (const c of concurrencies) {
          const r = await revoadaLoad(cluster, c)
          const key = `${chain ? 'on' : 'off'}:${c}`
          results.set(key, [...(results.get(key) ?? []), r.commits / r.seconds])
          console.log(`round ${round} chain ${chain ? 'on ' : 'off'} clients ${c}: ${(r.commits / r.seconds).toFixed(1)} commits/s`)
        }
      } finally {
        await cluster.stop()
      }
    }
  }
  printTable(['clients', 'chain on commits/s (median)', 'chain off commits/s (median)', 'on ÷ off', 'rounds'], concurrencies.map((c) => {
    const on = median(results.get(`on:${c}`) ?? [])
    const off = median(results.get(`off:${c}`) ?? [])
    return [c, on, off, on / off, rounds]
  }))
}

async function main (): Promise<void> {
  if (process.env.CHAIN_COMPARE !== undefined) return await chainCompare(Number(process.env.CHAIN_COMPARE))
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: npm run bench:consensus (DURATION_MS=${durationMs} FAILOVER_TRIALS=${failoverTrials} WARMUP_MS=${warmupMs} PHASE_WARMUP_MS=${phaseWarmupMs})`)
  const rows: Array<Array<string | number>> = []
  const failover: Array<[string, number[]]> = []

  const startedAt = performance.now()
  const cluster = await RevoadaCluster.start(3, { policy: { enabled: false } }, { nodeArgs })
  /** Seconds since the first node was spawned: the window of a phase in the nodes' CPU profiles (bench/cpu-profiles). */
  const sinceStart = (): string => ((performance.now() - startedAt) / 1000).toFixed(1)
  try {
    console.log(`revoada nodes' Node flags: ${cluster.nodeArgs.join(' ') || '(none: V8 defaults)'}`)
    await threeVoters(cluster)
    // The protocol gate (docs/OPERATIONS.md, "Rolling upgrades"): batching and forwarding need the top level.
    const levels = await Promise.all(cluster.procs.map(async (p) => (await cluster.status(p) as unknown as { protocol?: { cluster: number, build: number } }).protocol))
    console.log(`protocol level after forming (cluster/build), per node: ${levels.map((l) => `${l?.cluster ?? '?'}/${l?.build ?? '?'}`).join(', ')}`)
    if (warmupMs > 0) await revoadaLoad(cluster, Math.max(...concurrencies), warmupMs)
    const pids = cluster.procs.map((p) => p.child.pid ?? 0)
    for (const c of concurrencies) {
      if (phaseWarmupMs > 0) await revoadaLoad(cluster, c, phaseWarmupMs)
      const cpu0 = await cpuSeconds(pids)
      const flushes0 = await leaderFlushes(cluster)
      const batches0 = await batchCounts(cluster)
      const client0 = process.cpuUsage()
      const from = sinceStart()
      const r = await revoadaLoad(cluster, c)
      console.log(`revoada ${c} clients: ${from}–${sinceStart()} s after the first node started, ${r.commits} commits`)
      const clientMs = clientCpuMs(client0) / r.commits
      const cpuMs = (await cpuSeconds(pids) - cpu0) * 1000 / r.commits
      const flushes1 = await leaderFlushes(cluster)
      const perFlush = (flushes1.entries - flushes0.entries) / Math.max(1, flushes1.flushes - flushes0.flushes)
      const batches1 = await batchCounts(cluster)
      const batches = Math.max(1, batches1.batches - batches0.batches)
      const perBatch = (batches1.commands - batches0.commands) / batches
      const messagesPerBatch = (batches1.messages - batches0.messages) / batches
      rows.push(['revoada', c, r.commits / r.seconds, quantile(r.latencies, 0.5), quantile(r.latencies, 0.99), cpuMs,
        `${r.commits - r.rejected} applied, ${r.rejected} committed as typed rejections; leader ${perFlush.toFixed(1)} entries/flush; ${perBatch.toFixed(1)} commands/batch (${((batches1.groupCommands - batches0.groupCommands) / batches).toFixed(1)} of them forwarded); ${batches1.lingers - batches0.lingers} lingers (${batches1.lingerTimeouts - batches0.lingerTimeouts} timed out); ${batches1.forwarded - batches0.forwarded} requests forwarded to the leader; ${messagesPerBatch.toFixed(1)} Raft messages/batch; load generator ${clientMs.toFixed(2)} ms/commit`])
    }
    console.log(`materializer, whole run (reconciles that read the directory / skipped / of which before the view), per node: ${await materializerWork(cluster)}`)
    // The memory side of the nodes' Node flags (a bigger young generation is faster and stays resident).
    const rss = await Promise.all(pids.map(async (pid) => [await rssMb(pid), await rssMb(pid, 'RssAnon')]))
    console.log(`revoada nodes after the phases: VmRSS ${rss.map(([all]) => all?.toFixed(1)).join(', ')} MB (RssAnon ${rss.map(([, anon]) => anon?.toFixed(1)).join(', ')} MB)`)
    if (failoverTrials > 0) failover.push(['revoada', await revoadaFailover(cluster, failoverTrials)])
  } finally {
    await cluster.stop()
  }

  const etcd = await startEtcdCluster()
  const stopEtcd = onInterrupt(async () => { await etcd.stop() })
  try {
    const pids = etcd.members.map((m) => m.process?.pid ?? 0)
    if (warmupMs > 0) await runEtcdLoad(etcd, Math.max(...concurrencies), warmupMs)
    for (const c of concurrencies) {
      if (phaseWarmupMs > 0) await runEtcdLoad(etcd, c, phaseWarmupMs)
      const cpu0 = await cpuSeconds(pids)
      const client0 = process.cpuUsage()
      const r = await runEtcdLoad(etcd, c, durationMs)
      const clientMs = clientCpuMs(client0) / r.commits
      const cpuMs = (await cpuSeconds(pids) - cpu0) * 1000 / r.commits
      rows.push(['etcd 3.4', c, r.commits / r.seconds, quantile(r.latenciesMs, 0.5), quantile(r.latenciesMs, 0.99), cpuMs, `200-byte puts; load generator ${clientMs.toFixed(2)} ms/commit`])
    }
    if (failoverTrials > 0) failover.push(['etcd 3.4', await etcdFailover(etcd, failoverTrials)])
  } finally {
    await stopEtcd()
  }

  printTable(['system', 'clients', 'commits/s', 'p50 ms', 'p99 ms', 'server CPU ms/commit (3 members)', 'notes'], rows)
  // Phase by phase (CONCURRENCY may repeat a value to show warm-up): the i-th phase of each system.
  const ours = rows.filter((r) => r[0] === 'revoada')
  const theirs = rows.filter((r) => r[0] === 'etcd 3.4')
  const ratioRows = concurrencies.map((c, i) => [c, (ours[i]![2] as number) / (theirs[i]![2] as number), (ours[i]![3] as number) / (theirs[i]![3] as number)])
  printTable(['clients', 'commits/s revoada ÷ etcd', 'p50 revoada ÷ etcd'], ratioRows)
  if (failover.length > 0) {
    printTable(['leader SIGKILL → write acknowledged', 'trials', 'median ms', 'max ms', 'min ms'],
      failover.map(([name, times]) => [name, times.length, median(times), Math.max(...times), Math.min(...times)]))
  }
}

await main()
