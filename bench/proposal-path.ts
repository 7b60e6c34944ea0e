/**
 * @module bench/proposal-path
 * `npm run bench:proposal-path`: the per-request CPU of `POST /v1/proposals` on one node, in-process and
 * without Raft, so the figures do not depend on the machine's load the way `bench:consensus`'s do:
 * - route: the real ApiServer (token hook, JSON parser) and consensus routes through `app.inject` (no
 *   socket), with a stub service that answers at once — fastify, validation, the command and the reply;
 * - apply: the MeshShape transition of one promote/demote inside a batch of 8 (`applyBatch`), and a whole
 *   signed 8-command batch envelope through `ShapeMachine.apply` (verdict cache, apply), per command;
 * - decode: the canonical decode of that signed batch, as every node does once per entry, per command.
 * CPU µs per operation (user + system of this process), median of 5 rounds after a warm-up.
 */
import '../src/polyfill.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ApiServer } from '../src/api/server.js'
import { createSigner, encodeCanonical } from '../src/codec/index.js'
import { registerConsensusRoutes } from '../src/consensus/routes.js'
import type { ConsensusService } from '../src/consensus/consensus-service.js'
import { ShapeMachine } from '../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../src/consensus/shape/proposer.js'
import { MeshShape, applyBatch, decodeProposalOrError } from '../src/consensus/shape/core/index.js'
import type { BatchableCommand } from '../src/consensus/shape/core/index.js'
import { silentLogger } from '../src/log/index.js'
import { machineDescription, median, printTable } from './lib/stats.js'

const ROUNDS = 5
const BATCH = 8
const TOKEN = 'b'.repeat(43)

/** CPU µs (user + system) this process used since `since`: unlike wall time, barely moved by other load. */
function cpuMicros (since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return used.user + used.system
}

/** Median CPU µs per operation of `run(n)` doing n operations, over ROUNDS rounds of about 200 ms of CPU. */
async function microsPerOp (run: (n: number) => Promise<void> | void): Promise<number> {
  let n = 64
  for (;;) {
    const start = process.cpuUsage()
    await run(n)
    if (cpuMicros(start) > 50_000) break
    n *= 2
  }
  n *= 4
  const rounds: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.cpuUsage()
    await run(n)
    rounds.push(cpuMicros(start) / n)
  }
  return median(rounds)
}

/** The bench:consensus shape: three voters holding every control-plane role but `scheduler` on the third. */
function benchShape (ids: readonly string[]): MeshShape {
  const all = ['api-server', 'etcd', 'scheduler', 'controller-manager']
  return MeshShape.fromData({
    members: ids.map((id, i) => [id, i === 2 ? all.filter((r) => r !== 'scheduler') : all]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 0 }
  })
}

/** Alternating promote/demote of `scheduler` on `target`, as bench:consensus sends them. */
function commands (target: string): BatchableCommand[] {
  return Array.from({ length: BATCH }, (_, i): BatchableCommand => ({ kind: i % 2 === 0 ? 'promote' : 'demote', nodeId: target, roles: ['scheduler'] }))
}

async function routeRow (shape: MeshShape, target: string): Promise<Array<string | number>> {
  const answer = { index: 7, term: 2, cid: 'bafy', outcome: { kind: 'applied' }, duplicate: false, batch: { position: 3, commands: BATCH } }
  const service = {
    shapeMachine: { shape },
    operatorGuard: undefined,
    async proposeOperator () {
      return { result: { index: answer.index, term: answer.term, cid: answer.cid, outcome: answer.outcome }, duplicate: false, index: answer.index, term: answer.term, batch: answer.batch }
    }
  } as unknown as ConsensusService
  const server = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  registerConsensusRoutes(server.app, service)
  await server.app.ready()
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
  const payload = JSON.stringify({ kind: 'promote', nodeId: target, roles: ['scheduler'] })
  const first = await server.app.inject({ method: 'POST', url: '/v1/proposals', headers, payload })
  if (first.statusCode !== 200) throw new Error(`route answered ${first.statusCode}: ${first.body}`)
  const us = await microsPerOp(async (n) => {
    for (let i = 0; i < n; i++) await server.app.inject({ method: 'POST', url: '/v1/proposals', headers, payload })
  })
  await server.close()
  return ['route: POST /v1/proposals via inject (stub service)', 'request', us.toFixed(1)]
}

async function main (): Promise<void> {
  const signers = await Promise.all([0, 1, 2].map(async () => {
    const key = await generateKeyPair('Ed25519')
    return createSigner(key, peerIdFromPrivateKey(key).toString())
  }))
  const ids = signers.map((s) => s.nodeId)
  const shape = benchShape(ids)
  const target = ids[2] as string
  const batch = commands(target)
  const rows: Array<Array<string | number>> = []
  rows.push(await routeRow(shape, target))

  const transitionUs = await microsPerOp((n) => {
    for (let i = 0; i < n / BATCH; i++) applyBatch(shape, batch)
  })
  rows.push([`apply: applyBatch, ${BATCH} promote/demote commands`, 'command', transitionUs.toFixed(2)])

  // A whole signed batch entry through the replicated state machine, as each node applies it (an even count of
  // alternating promote/demote ends at the shape it started from, so every round applies the same way).
  const machine = new ShapeMachine('bench-cluster')
  machine.restore(encodeCanonical(shape.toData()))
  const proposer = new ShapeProposer(signers[0]!, 'bench-cluster', 'bench-client')
  const entries = Array.from({ length: 64 }, () => proposer.buildBatch(batch.map((command) => ({ command, reason: 'operator' })), 0))
  for (const e of entries) machine.signedHere(e.cid, e.signature)
  let index = 1
  const machineUs = await microsPerOp((n) => {
    for (let i = 0; i < n / BATCH; i++) {
      machine.apply(entries[index % entries.length]!.bytes, { index: index++, term: 1, timeMs: 0 })
    }
  })
  rows.push([`apply: ShapeMachine.apply of a signed ${BATCH}-command batch (decoded once)`, 'command', machineUs.toFixed(2)])

  // What every node pays once per entry to read it: a fresh byte array, so the decode cache misses.
  const fresh = Array.from({ length: 256 }, (_, i) => Uint8Array.from(entries[i % entries.length]!.bytes))
  const decodeUs = await microsPerOp((n) => {
    for (let i = 0; i < n / BATCH; i++) decodeProposalOrError(Uint8Array.from(fresh[i % fresh.length]!))
  })
  rows.push([`decode: decodeProposalOrError of a signed ${BATCH}-command batch (${entries[0]!.bytes.length} B)`, 'command', decodeUs.toFixed(2)])

  console.log(await machineDescription())
  console.log('command: npm run bench:proposal-path')
  printTable(['what', 'per', 'CPU µs'], rows)
}

await main()
