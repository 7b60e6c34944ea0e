/**
 * @module bench/chain
 * `npm run bench:chain` (issue 14): the attestation chain's cost on the apply path, in one process so a
 * loaded machine distorts it less than the multi-process `bench:consensus`. The same pre-signed entries
 * (promote/demote of `scheduler`, as bench:consensus commits) are applied to the MeshShape machine alone
 * and to the chain-wrapped machine with its block file, in alternating rounds; signature verification runs
 * in both (it is part of applying). Prints µs per entry and the difference. Seal costs (one seal entry and
 * one witness signature per second per node) are measured separately per operation.
 *
 * Env: CHAIN_BENCH_ENTRIES (default 2000), CHAIN_BENCH_ROUNDS (default 6).
 */
import '../src/polyfill.js'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSigner } from '../src/codec/index.js'
import { ShapeMachine } from '../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../src/consensus/shape/proposer.js'
import type { ReplicatedStateMachine } from '../src/consensus/state-machine.js'
import type { ApplyResult, Command } from '../src/consensus/shape/core/index.js'
import { AttestedMachine } from '../src/attestation/attested-machine.js'
import { ChainStore } from '../src/attestation/store.js'
import { signWitness, verifyWithCodec } from '../src/attestation/signatures.js'
import { cidAt, encodeSealCommand } from '../src/attestation/core/index.js'
import { machineDescription, median, printTable } from './lib/stats.js'

const ENTRIES = Number(process.env.CHAIN_BENCH_ENTRIES ?? 2000)
const ROUNDS = Number(process.env.CHAIN_BENCH_ROUNDS ?? 6)
const CLUSTER = 'bench-cluster'

interface Entry { bytes: Uint8Array, confChange?: Parameters<ShapeMachine['apply']>[1]['confChange'] }

async function prepare (): Promise<{ setup: Entry[], load: Entry[], signers: Array<ReturnType<typeof createSigner>> }> {
  const signers = []
  for (let i = 0; i < 3; i++) {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    signers.push(createSigner(key, id))
  }
  const proposer = new ShapeProposer(signers[0]!, CLUSTER, 'bench')
  const shape = new ShapeMachine(CLUSTER)
  const entries: Entry[] = []
  let index = 1
  const add = (command: Command): void => {
    const built = proposer.build(shape.shape, command, command.kind === 'bootstrap' ? 'bootstrap' : 'operator', 1_700_000_000_000)
    const entry: Entry = { bytes: built.bytes, ...(built.confChange !== undefined ? { confChange: built.confChange } : {}) }
    shape.apply(entry.bytes, { index: ++index, term: 1, timeMs: 0, ...(entry.confChange !== undefined ? { confChange: entry.confChange } : {}) })
    entries.push(entry)
  }
  add({ kind: 'bootstrap', nodeId: signers[0]!.nodeId })
  for (const s of signers.slice(1)) add({ kind: 'add-member', nodeId: s.nodeId })
  for (const s of signers.slice(1)) add({ kind: 'promote', nodeId: s.nodeId, roles: ['etcd'] })
  add({ kind: 'demote', nodeId: signers[2]!.nodeId, roles: ['scheduler'] })
  const setup = entries.splice(0)
  for (let i = 0; i < ENTRIES; i++) add({ kind: i % 2 === 0 ? 'promote' : 'demote', nodeId: signers[2]!.nodeId, roles: ['scheduler'] })
  return { setup, load: entries, signers }
}

/** µs per entry applying `load` after `setup` to a fresh machine. */
function run (machine: ReplicatedStateMachine<ApplyResult>, setup: Entry[], load: Entry[]): number {
  let index = 1
  const apply = (e: Entry): void => { machine.apply(e.bytes, { index: ++index, term: 1, timeMs: 1_700_000_000_000 + index, ...(e.confChange !== undefined ? { confChange: e.confChange } : {}) }) }
  for (const e of setup) apply(e)
  const start = performance.now()
  for (const e of load) apply(e)
  return (performance.now() - start) * 1000 / load.length
}

async function main (): Promise<void> {
  console.log(`machine: ${await machineDescription()}`)
  console.log(`command: npm run bench:chain (CHAIN_BENCH_ENTRIES=${ENTRIES} CHAIN_BENCH_ROUNDS=${ROUNDS})`)
  const { setup, load, signers } = await prepare()
  const plain: number[] = []
  const chained: number[] = []
  const dirs: string[] = []
  let sealUs = 0
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const withChain of round % 2 === 0 ? [false, true] : [true, false]) {
        if (!withChain) { plain.push(run(new ShapeMachine(CLUSTER), setup, load)); continue }
        const dir = mkdtempSync(path.join(os.tmpdir(), 'revoada-bench-chain-'))
        dirs.push(dir)
        const store = new ChainStore(dir)
        const machine = new AttestedMachine({ shape: new ShapeMachine(CLUSTER), clusterId: CLUSTER, store, verify: verifyWithCodec })
        chained.push(run(machine, setup, load))
        store.sync()
        // One seal: three witness signatures over the head, then the seal entry judged and derived.
        const view = machine.view()
        const sealStart = performance.now()
        const witnesses = signers.map((s) => signWitness(s, CLUSTER, view.height, cidAt(view, view.height)!)).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))
        machine.apply(encodeSealCommand(CLUSTER, { height: view.height, head: view.head, witnesses }), { index: 1e9, term: 1, timeMs: 0 })
        sealUs = Math.max(sealUs, (performance.now() - sealStart) * 1000)
        store.close()
      }
    }
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
  const p = median(plain)
  const c = median(chained)
  printTable(['apply path', 'µs per entry (median of rounds)', 'rounds'], [['MeshShape machine alone', p, ROUNDS], ['with the chain (derive, encode, hash, file)', c, ROUNDS], ['chain cost per entry', c - p, ROUNDS]])
  console.log(`one seal (3 witness signatures + judging the seal entry): ${sealUs.toFixed(0)} µs (worst round)`)
}

await main()
