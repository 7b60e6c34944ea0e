/**
 * @module bench/raft-core
 * `npm run bench:raft-core`: the Raft core's framework overhead, measured like openraft's "minimal"
 * benchmark: a 3-node cluster in one process, in-memory storage (`MemoryStorage`, no fsync), a zero-latency
 * network (messages handed over synchronously in a loop), empty-ish puts from closed-loop clients (each
 * proposes, waits until the leader applies it, proposes again). Reports commits/s and µs per commit for 1
 * and 64 clients beside openraft's published 33,000 commits/s (1 client, in memory, M1 Max), as a ratio.
 * Then runs the WAL benchmark (`runWalBench` from bench/wal.ts) when it is there.
 */
import '../src/polyfill.js'
import { RawNode } from '../src/consensus/core/index.js'
import type { ConfState, Message, NodeId, Ready } from '../src/consensus/core/types.js'
import { createPrng } from '../src/consensus/core/prng.js'
import { MemoryStorage } from '../src/consensus/storage/memory-storage.js'
import { machineDescription, printTable, quantile } from './lib/stats.js'

/** openraft benchmarks/minimal/README.md: 1 client, 3 nodes in one process, in-memory store. */
const OPENRAFT_ONE_CLIENT_COMMITS_PER_SECOND = 33_000
const DURATION_MS = Number(process.env.RAFT_CORE_BENCH_MS ?? 3_000)
/** Ticks allowed for the first election. */
const ELECTION_TICKS_MAX = 1_000
const PAYLOAD = new Uint8Array(16)

interface BenchNode {
  id: NodeId
  raw: RawNode
  storage: MemoryStorage
}

function makeCluster (): BenchNode[] {
  const ids = ['n1', 'n2', 'n3']
  const conf: ConfState = { voters: ids, votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
  return ids.map((id, i) => {
    const storage = new MemoryStorage()
    const raw = new RawNode({ id, electionTicks: 10, heartbeatTicks: 2, random: createPrng(i + 1) }, storage.load(), conf)
    return { id, raw, storage }
  })
}

/** Pumps until quiet (bounded); `onApply` sees every Ready after it is persisted. */
function pump (nodes: BenchNode[], inbox: Message[], onApply: (node: BenchNode, ready: Ready) => void): void {
  for (let guard = 0; guard < 100_000; guard++) {
    if (!pumpOnce(nodes, inbox, onApply)) return
  }
  throw new Error('cluster did not settle')
}

/** Delivers every queued message, then handles one Ready per node; returns false when nothing happened. */
function pumpOnce (nodes: BenchNode[], inbox: Message[], onApply: (node: BenchNode, ready: Ready) => void): boolean {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  let busy = false
  for (const message of inbox.splice(0)) byId.get(message.to)?.raw.step(message)
  for (const node of nodes) {
    if (!node.raw.hasReady()) continue
    busy = true
    const ready = node.raw.ready()
    for (const m of ready.messages) if (m.to !== node.id) inbox.push(m)
    if (ready.snapshot !== undefined) node.storage.saveSnapshot(ready.snapshot)
    if (ready.entries.length > 0) node.storage.append(ready.entries)
    if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState)
    node.storage.sync()
    for (const m of ready.messagesAfterPersist) if (m.to !== node.id) inbox.push(m)
    onApply(node, ready)
    node.raw.advance()
  }
  return busy || inbox.length > 0
}

function electLeader (nodes: BenchNode[], inbox: Message[]): BenchNode {
  for (let tick = 0; tick < ELECTION_TICKS_MAX; tick++) {
    for (const node of nodes) node.raw.tick()
    pump(nodes, inbox, () => {})
    const leader = nodes.find((n) => n.raw.status().role === 'leader')
    if (leader !== undefined) return leader
  }
  throw new Error('no leader elected')
}

/** Closed-loop clients against the leader for DURATION_MS; returns commits, seconds and latencies. */
function runLoad (clients: number): { commits: number, seconds: number, latenciesUs: number[] } {
  const nodes = makeCluster()
  const inbox: Message[] = []
  const leader = electLeader(nodes, inbox)
  let commits = 0
  let seq = 0
  let outstanding = 0
  const sentAt = new Map<string, number>()
  const latenciesUs: number[] = []
  const propose = (clientId: string): void => {
    leader.raw.propose(PAYLOAD, { clientId, seq: ++seq })
    sentAt.set(clientId, performance.now())
    outstanding++
  }
  for (let c = 0; c < clients; c++) propose(`c${c}`)
  const started = performance.now()
  const deadline = started + DURATION_MS
  const next: string[] = []
  while (performance.now() < deadline) {
    pumpOnce(nodes, inbox, (node, ready) => {
      if (node !== leader) return
      for (const entry of ready.committedEntries) {
        if (entry.proposalId === undefined) continue
        commits++
        outstanding--
        const clientId = entry.proposalId.clientId
        latenciesUs.push((performance.now() - (sentAt.get(clientId) ?? 0)) * 1000)
        next.push(clientId)
      }
    })
    // The client whose proposal committed sends its next one (closed loop), once the Ready is advanced.
    for (const clientId of next.splice(0)) propose(clientId)
    if (outstanding === 0) break
  }
  return { commits, seconds: (performance.now() - started) / 1000, latenciesUs }
}

async function main (): Promise<void> {
  console.log(`machine: ${await machineDescription()}`)
  console.log(`raft-core: 3 nodes in one process, MemoryStorage, zero-latency network, ${DURATION_MS} ms per row`)
  const rows: Array<Array<string | number>> = []
  for (const clients of [1, 64]) {
    const { commits, seconds, latenciesUs } = runLoad(clients)
    const perSecond = commits / seconds
    const ratio = clients === 1 ? (perSecond / OPENRAFT_ONE_CLIENT_COMMITS_PER_SECOND).toFixed(2) : '-'
    rows.push(['revoada raft-core', clients, perSecond, (seconds * 1e6) / commits, quantile(latenciesUs, 0.5),
      quantile(latenciesUs, 0.99), clients === 1 ? OPENRAFT_ONE_CLIENT_COMMITS_PER_SECOND : '-', ratio])
  }
  // µs/commit is wall time over commits (1/throughput); p50/p99 are propose→applied-on-leader latencies.
  printTable(['system', 'clients', 'commits/s', 'µs/commit', 'p50 µs', 'p99 µs', 'openraft commits/s', 'ratio'], rows)
  await runWalBenchIfPresent()
}

/** bench/wal.ts is the storage engineer's; call it only when it exists, so this bench runs either way. */
async function runWalBenchIfPresent (): Promise<void> {
  const path = './wal.js'
  let module: { runWalBench?: () => Promise<unknown> }
  try {
    module = await import(path) as typeof module
  } catch {
    console.log('WAL bench: bench/wal.ts not present yet, skipped')
    return
  }
  if (typeof module.runWalBench !== 'function') {
    console.log('WAL bench: bench/wal.ts has no runWalBench export, skipped')
    return
  }
  const rows = await module.runWalBench()
  // runWalBench returns its rows; print them as a table when they are plain objects.
  if (Array.isArray(rows) && rows.length > 0 && typeof rows[0] === 'object' && rows[0] !== null) {
    const headers = Object.keys(rows[0] as object)
    printTable(headers, rows.map((row) => headers.map((h) => {
      const cell = (row as Record<string, unknown>)[h]
      return typeof cell === 'number' ? cell : String(cell)
    })))
  }
}

await main()
