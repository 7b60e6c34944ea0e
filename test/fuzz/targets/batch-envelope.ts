/**
 * @module test/fuzz/targets/batch-envelope
 * Batch envelopes (v2, issue 16) as a hostile or buggy member could get them committed: command counts
 * from 0 to past MAX_BATCH_COMMANDS, commands of every kind (batchable or not), damaged fields, signed by
 * a member, a non-member or badly. Input: one signed proposal's bytes.
 *
 * Decoding never throws and never trusts the count: a batch decodes with 1..MAX_BATCH_COMMANDS batchable
 * commands or is refused (null / a typed decode error). Apply is total: one outcome per command; an
 * envelope refused as a whole refuses each command alike and leaves the shape; the chain block derived
 * from the entry re-encodes to itself and lists exactly those outcomes.
 */
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import {
  BATCHABLE_KINDS, CONTROL_PLANE_ROLES, MAX_BATCH_COMMANDS, MeshShape, REASONS, decodeProposalOrError, encodeSignedProposal, envelopeBytesAndCid
} from '../../../src/consensus/shape/core/index.js'
import type { Command, Envelope } from '../../../src/consensus/shape/core/index.js'
import { appendProposalBlock, decodeBlock, emptyChainState, encodeBlock } from '../../../src/attestation/core/index.js'
import { fixedSigners } from '../keys.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { damageValue, wildValue } from '../values.js'

const CLUSTER = 'cluster-1'
const DECODE_ERRORS = ['MalformedProposalError', 'ProposalBatchEmptyError', 'ProposalBatchTooLargeError']
let signers: Signer[] = []

/** Members 0 (every role), 1 (worker), 2 (etcd); signer 3 is not a member. */
function initialShape (): MeshShape {
  const [a, b, c] = signers.map((s) => s.nodeId)
  return MeshShape.fromData({ members: [[a as string, [...CONTROL_PLANE_ROLES]], [b as string, []], [c as string, ['etcd']]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))) as Array<[string, never[]]>, target: { apiServers: 1, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })
}

function command (rng: FuzzRng): Command {
  const nodeId = rng.chance(0.85) ? rng.pick(signers).nodeId : rng.pick(['', 'x', 'z'.repeat(129)])
  const roles = CONTROL_PLANE_ROLES.filter(() => rng.chance(0.4))
  const picked = roles.length > 0 ? roles : ['scheduler' as const]
  switch (rng.int(9)) {
    case 0: return { kind: 'promote', nodeId, roles: picked }
    case 1: return { kind: 'demote', nodeId, roles: picked, ...(rng.chance(0.3) ? { pin: true as const } : {}) }
    case 2: return { kind: 'quarantine', nodeId }
    case 3: return { kind: 'restore', nodeId }
    case 4: return { kind: 'unpin', nodeId }
    // Never batchable: a batch carrying one is malformed.
    case 5: return { kind: 'add-member', nodeId }
    case 6: return { kind: 'bootstrap', nodeId }
    case 7: return { kind: 'rejoin', nodeId }
    default: return { kind: 'promote', nodeId, roles: ['scheduler'] }
  }
}

function count (rng: FuzzRng): number {
  if (rng.chance(0.05)) return 0
  if (rng.chance(0.05)) return MAX_BATCH_COMMANDS + 1 + rng.int(4)
  if (rng.chance(0.05)) return MAX_BATCH_COMMANDS
  return 1 + rng.int(8)
}

function batch (rng: FuzzRng): Uint8Array {
  const signer = rng.chance(0.9) ? rng.pick(signers.slice(0, 3)) : signers[3] as Signer
  const commands = Array.from({ length: count(rng) }, () => ({ command: command(rng), reason: rng.pick(REASONS) }))
  let envelope: unknown = {
    v: 2, clusterId: rng.chance(0.95) ? CLUSTER : 'other', commands, proposer: signer.nodeId,
    proposalId: { clientId: signer.nodeId, seq: 1 + rng.int(1000) }, proposedAtMs: rng.int(2 ** 32)
  }
  if (rng.chance(0.3)) envelope = damageValue(rng, envelope)
  try {
    const built = envelopeBytesAndCid(envelope as Envelope)
    return encodeSignedProposal(built.bytes, rng.chance(0.95) ? signer.sign('proposal', CLUSTER, built.cid) : rng.bytes(64))
  } catch {
    return encodeCanonical(wildValue(rng) ?? null)
  }
}

function checkDecoded (bytes: Uint8Array): void {
  const decoded = decodeProposalOrError(bytes)
  if (decoded instanceof Error) {
    invariant(DECODE_ERRORS.includes(decoded.name), () => `decode failed with ${decoded.name}`)
    return
  }
  if (decoded.envelope.v !== 2) return
  const n = decoded.envelope.commands.length
  invariant(n >= 1 && n <= MAX_BATCH_COMMANDS, () => `decoded a batch of ${n} commands`)
  for (const { command: c } of decoded.envelope.commands) invariant((BATCHABLE_KINDS as readonly string[]).includes(c.kind), () => `batch carries ${c.kind}`)
}

export const batchEnvelopeTarget: FuzzTarget = {
  name: 'batch-envelope',
  description: 'signed batch envelope (v2) → decode (bounded count, typed errors) → ShapeMachine.apply (one outcome per command) → chain block',
  typedErrors: [],
  async setup () {
    if (signers.length === 0) signers = await fixedSigners(4)
  },
  corpus: (rng) => [batch(rng), batch(rng)],
  generate: (rng) => batch(rng),
  run (input) {
    checkDecoded(input)
    const machine = new ShapeMachine(CLUSTER)
    machine.restore(encodeCanonical(initialShape().toData()))
    const before = machine.shapeCid()
    const { result } = machine.apply(input, { index: 1, term: 1, timeMs: 0 })
    const decoded = decodeProposalOrError(input)
    if (!(decoded instanceof Error) && decoded.envelope.v === 2) {
      invariant(result.outcomes?.length === decoded.envelope.commands.length, 'a batch result without one outcome per command')
      if (result.outcome.kind === 'rejected') {
        invariant(machine.shapeCid() === before, 'a refused batch changed the shape')
        invariant(result.outcomes.every((o) => o.kind === 'rejected' && o.code === (result.outcome as { code: string }).code), 'a refused batch with mixed outcomes')
      }
      if (result.outcomes.every((o) => o.kind === 'rejected')) invariant(machine.shapeCid() === before, 'no command applied but the shape changed')
    } else {
      invariant(result.outcomes === undefined, 'outcomes on a non-batch entry')
    }
    invariant(machine.shape.invariantProblem() === null, () => `shape invariant broken: ${machine.shape.invariantProblem() ?? ''}`)
    const state = emptyChainState(CLUSTER)
    state.height = 1
    state.head = new Uint8Array(36)
    state.recent = [state.head]
    const derived = appendProposalBlock(state, {
      index: 2, term: 1, timeMs: 0, command: input, outcome: result.outcome, shape: new Uint8Array(36), votersAfter: [],
      ...(result.outcomes !== undefined ? { outcomes: result.outcomes } : {})
    })
    const block = decodeBlock(derived.bytes)
    invariant(block !== null, 'a derived block does not decode')
    invariant(encodeBlock(block).every((b, i) => b === derived.bytes[i]), 'a derived block does not re-encode to itself')
    invariant(block.kind === 'proposal' && (block.outcomes?.length ?? -1) === (result.outcomes?.length ?? -1), 'the block lists other outcomes')
  }
}
