/**
 * Builds real chains for the attestation tests: real ed25519 keys, signed proposals through the
 * MeshShape machine wrapped by the AttestedMachine (the node's own derivation), seals signed by chosen
 * witnesses, and exports with or without a closing checkpoint.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { createSigner } from '../../src/codec/index.js'
import type { Signer } from '../../src/codec/index.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../src/consensus/shape/proposer.js'
import { decodeSignedProposal, encodeSignedProposal } from '../../src/consensus/shape/core/index.js'
import type { ApplyResult, BatchedCommand, Command, Reason } from '../../src/consensus/shape/core/index.js'
import { AttestedMachine } from '../../src/attestation/attested-machine.js'
import { signWitness, verifyWithCodec } from '../../src/attestation/signatures.js'
import { cidAt, cidBytesOf, decodeBlock, encodeBlock, encodeSealCommand } from '../../src/attestation/core/index.js'
import type { Block, ChainExport, Seal } from '../../src/attestation/core/index.js'

export interface TestNode {
  id: string
  signer: Signer
  /** Its identity key (a node's `ServiceContext.privateKey`). */
  key: PrivateKey
}

export async function makeNodes (count: number): Promise<TestNode[]> {
  const nodes: TestNode[] = []
  for (let i = 0; i < count; i++) {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    nodes.push({ id, signer: createSigner(key, id), key })
  }
  return nodes
}

export class ChainBuilder {
  readonly shape: ShapeMachine
  readonly machine: AttestedMachine
  readonly blocks: Uint8Array[] = []
  /** Every committed entry as applied, to replay on another replica. */
  readonly entries: Array<{ bytes: Uint8Array, context: Parameters<ShapeMachine['apply']>[1] }> = []
  private index = 1
  term = 1
  private readonly proposers = new Map<string, ShapeProposer>()

  constructor (readonly clusterId: string) {
    this.shape = new ShapeMachine(clusterId)
    this.machine = new AttestedMachine({ shape: this.shape, clusterId, store: null, verify: verifyWithCodec })
    this.machine.onBlock((derived) => { this.blocks.push(derived.bytes) })
  }

  private proposer (node: TestNode): ShapeProposer {
    let proposer = this.proposers.get(node.id)
    if (proposer === undefined) {
      proposer = new ShapeProposer(node.signer, this.clusterId, `${node.id}/test`)
      this.proposers.set(node.id, proposer)
    }
    return proposer
  }

  /** Commits `command` signed by `by` (with the configuration change it needs); returns its result. */
  propose (by: TestNode, command: Command, options: { withoutConfChange?: boolean, reason?: Reason } = {}): ApplyResult {
    const reason = options.reason ?? (command.kind === 'bootstrap' ? 'bootstrap' : 'operator')
    const built = this.proposer(by).build(this.shape.shape, command, reason, 1_700_000_000_000 + this.index)
    return this.applyRaw(built.bytes, built.confChange !== undefined && options.withoutConfChange !== true ? built.confChange : undefined)
  }

  /** Commits one batch envelope (v2) of `items` signed by `by`; returns its result. */
  proposeBatch (by: TestNode, items: BatchedCommand[]): ApplyResult {
    return this.applyRaw(this.proposer(by).buildBatch(items, 1_700_000_000_000 + this.index).bytes)
  }

  applyRaw (bytes: Uint8Array, confChange?: Parameters<ShapeMachine['apply']>[1]['confChange']): ApplyResult {
    this.index++
    const context = { index: this.index, term: this.term, timeMs: 1_700_000_000_000 + this.index, ...(confChange !== undefined ? { confChange } : {}) }
    this.entries.push({ bytes, context })
    return this.machine.apply(bytes, context).result
  }

  /** Applies an entry committed on another replica (same bytes, same position). */
  replay (entry: ChainBuilder['entries'][number]): void {
    this.index = entry.context.index
    this.term = entry.context.term
    this.entries.push(entry)
    this.machine.apply(entry.bytes, entry.context)
  }

  /** A seal of `height` (default: the head) signed by `witnesses`. */
  sealOf (witnesses: TestNode[], height = this.machine.height): Seal {
    const head = cidAt(this.machine.view(), height)!
    const signed = witnesses.map((w) => signWitness(w.signer, this.clusterId, height, head))
    signed.sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))
    return { height, head, witnesses: signed }
  }

  /** Commits a seal entry; returns its recorded outcome. */
  commitSeal (seal: Seal): ApplyResult {
    return this.applyRaw(encodeSealCommand(this.clusterId, seal))
  }

  export (checkpointWitnesses?: TestNode[]): ChainExport {
    const view = this.machine.view()
    return {
      genesis: { clusterId: view.clusterId, firstVoter: view.firstVoter },
      blocks: [...this.blocks],
      ...(checkpointWitnesses !== undefined ? { checkpoint: this.sealOf(checkpointWitnesses) } : {})
    }
  }
}

/**
 * A 5-node chain: n0 bootstraps; n1..n4 join; n1 and n2 become voters; a sealed history with a rejected
 * command, a bad-signature entry, a learners-only seal (rejected), a stale seal (rejected) and seals by
 * voter majorities (one carrying a learner's signature); closing checkpoint by n0, n1, n2.
 */
export async function standardChain (clusterId = 'cluster-a'): Promise<{ builder: ChainBuilder, nodes: TestNode[], exp: ChainExport }> {
  const nodes = await makeNodes(5)
  const [n0, n1, n2, n3, n4] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode]
  const b = new ChainBuilder(clusterId)
  b.propose(n0, { kind: 'bootstrap', nodeId: n0.id })
  for (const n of [n1, n2, n3, n4]) b.propose(n0, { kind: 'add-member', nodeId: n.id })
  b.propose(n0, { kind: 'promote', nodeId: n1.id, roles: ['etcd'] })
  b.commitSeal(b.sealOf([n0, n1]))
  b.term = 2
  b.propose(n1, { kind: 'promote', nodeId: n2.id, roles: ['etcd', 'api-server'] })
  b.propose(n1, { kind: 'promote', nodeId: 'nobody', roles: ['scheduler'] })
  const forged = new ShapeProposer(n3.signer, clusterId, 'forger').build(b.shape.shape, { kind: 'quarantine', nodeId: n4.id }, 'operator', 1)
  b.applyRaw(forgeSignature(forged.bytes, n4))
  b.commitSeal(b.sealOf([n3, n4]))
  b.commitSeal(b.sealOf([n1, n2, n3]))
  b.commitSeal(b.sealOf([n0, n1], 5))
  b.propose(n2, { kind: 'demote', nodeId: n0.id, roles: ['etcd'] })
  b.propose(n2, { kind: 'set-target', target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })
  b.commitSeal(b.sealOf([n1, n2]))
  b.propose(n1, { kind: 'quarantine', nodeId: n4.id })
  return { builder: b, nodes, exp: b.export([n1, n2, n0]) }
}

/** n0 bootstraps at `level`; n1..n4 join; n1 and n2 become voters; a seal by all three. */
export async function sealedThreeVoters (clusterId: string, level: number): Promise<{ b: ChainBuilder, nodes: TestNode[] }> {
  const nodes = await makeNodes(5)
  const [n0, n1, n2, n3, n4] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode]
  const b = new ChainBuilder(clusterId)
  b.propose(n0, { kind: 'bootstrap', nodeId: n0.id, ...(level > 1 ? { protocol: level } : {}) })
  for (const n of [n1, n2, n3, n4]) b.propose(n0, { kind: 'add-member', nodeId: n.id })
  for (const n of [n1, n2]) applied(b.propose(n0, { kind: 'promote', nodeId: n.id, roles: ['etcd'] }))
  applied(b.commitSeal(b.sealOf([n0, n1, n2])))
  return { b, nodes }
}

function applied (result: ApplyResult): void {
  if (result.outcome.kind !== 'applied') throw new Error(`expected applied, got ${JSON.stringify(result.outcome)}`)
}

/** Re-signs a signed proposal's envelope with another node's key (a forged proposer signature). */
export function forgeSignature (bytes: Uint8Array, by: TestNode): Uint8Array {
  const signed = decodeSignedProposal(bytes)!
  return encodeSignedProposal(signed.envelopeBytes, by.signer.sign('proposal', signed.envelope.clusterId, signed.cid))
}

/** Decodes block `i`, lets `edit` change it, re-encodes it and re-links every later block's `prev`. */
export function editAndRelink (blocks: Uint8Array[], i: number, edit: (block: Block) => Block): Uint8Array[] {
  const out = [...blocks]
  out[i] = encodeBlock(edit(decodeBlock(out[i]!)!))
  return relinkFrom(out, i + 1)
}

/** Rewrites `prev` and `height` of blocks from `i` on so that they chain (what a careful forger does). */
export function relinkFrom (blocks: Uint8Array[], i: number): Uint8Array[] {
  const out = [...blocks]
  for (let k = Math.max(1, i); k < out.length; k++) {
    const block = decodeBlock(out[k]!)
    const before = decodeBlock(out[k - 1]!)
    if (block === null || before === null) continue
    out[k] = encodeBlock({ ...block, height: before.height + 1, prev: cidBytesOf(out[k - 1]!) })
  }
  return out
}
