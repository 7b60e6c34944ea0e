/**
 * @module test/fuzz/targets/batch-envelope
 * Batch envelopes (v2, and v3: a leader's batch with followers' forwarded groups under `via`; issue 16) as a
 * hostile or buggy member could get them committed: command counts
 * from 0 to past MAX_BATCH_COMMANDS, commands of every kind (batchable or not), damaged fields, signed by
 * a member, a non-member or badly. Input: one signed proposal's bytes.
 *
 * Decoding never throws and never trusts the count: a batch decodes with 1..MAX_BATCH_COMMANDS batchable
 * commands or is refused (null / a typed decode error). Apply is total: one outcome per command; an
 * envelope refused as a whole refuses each command alike and leaves the shape; the chain block derived
 * from the entry re-encodes to itself and lists exactly those outcomes. v3: groups decode only with distinct
 * `via` sessions other than the envelope's and operator kinds only; a group the (random) session lookup
 * does not call new is skipped as `duplicate-request` / `stale-request` and is never reported applied.
 */
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import {
  BATCHABLE_KINDS, CONTROL_PLANE_ROLES, MAX_BATCH_COMMANDS, MeshShape, OPERATOR_BATCHABLE_KINDS, REASONS, decodeProposalOrError, encodeSignedProposal,
  envelopeBytesAndCid, envelopeCommands
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

/** v3 groups: a few sessions (so repeats happen), sometimes the envelope's own, sometimes no via. */
function groups (rng: FuzzRng, own: string): unknown[] {
  const sessions = [`${signers[1]!.nodeId}/s.r`, `${signers[2]!.nodeId}/s.r`, `${signers[3]!.nodeId}/t.r`, own, 'noslash']
  return Array.from({ length: rng.chance(0.05) ? 0 : 1 + rng.int(4) }, (_, i) => {
    const commands = Array.from({ length: Math.max(0, Math.floor(count(rng) / 2)) }, () => ({ command: command(rng), reason: rng.pick(REASONS) }))
    const via = i === 0 && rng.chance(0.3) ? undefined : { clientId: rng.chance(0.9) ? rng.pick(sessions.slice(0, 3)) : rng.pick(sessions), seq: rng.int(100) }
    return via === undefined ? { commands } : { commands, via }
  })
}

function batch (rng: FuzzRng): Uint8Array {
  const signer = rng.chance(0.9) ? rng.pick(signers.slice(0, 3)) : signers[3] as Signer
  const commands = Array.from({ length: count(rng) }, () => ({ command: command(rng), reason: rng.pick(REASONS) }))
  const proposalId = { clientId: `${signer.nodeId}/s`, seq: 1 + rng.int(1000) }
  const merged = rng.chance(0.35)
  let envelope: unknown = {
    v: merged ? 3 : 2, clusterId: rng.chance(0.95) ? CLUSTER : 'other', ...(merged ? { groups: groups(rng, proposalId.clientId) } : { commands }), proposer: signer.nodeId,
    proposalId, proposedAtMs: rng.int(2 ** 32)
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
  if (decoded.envelope.v === 3) {
    const all = envelopeCommands(decoded.envelope)
    invariant(all.length >= 1 && all.length <= MAX_BATCH_COMMANDS, () => `decoded a merged batch of ${all.length} commands`)
    for (const { command: c } of all) invariant((OPERATOR_BATCHABLE_KINDS as readonly string[]).includes(c.kind), () => `merged batch carries ${c.kind}`)
    const sessions = decoded.envelope.groups.flatMap((g) => g.via !== undefined ? [g.via.clientId] : [])
    invariant(new Set([...sessions, decoded.envelope.proposalId.clientId]).size === sessions.length + 1, 'a via session repeats or is the envelope\'s')
    invariant(decoded.envelope.groups.every((g, i) => g.commands.length > 0 && (i === 0 || g.via !== undefined)), 'an empty group, or one without via after the first')
    return
  }
  if (decoded.envelope.v !== 2) return
  const n = decoded.envelope.commands.length
  invariant(n >= 1 && n <= MAX_BATCH_COMMANDS, () => `decoded a batch of ${n} commands`)
  for (const { command: c } of decoded.envelope.commands) invariant((BATCHABLE_KINDS as readonly string[]).includes(c.kind), () => `batch carries ${c.kind}`)
}

export const batchEnvelopeTarget: FuzzTarget = {
  name: 'batch-envelope',
  description: 'signed batch envelope (v2, v3) → decode (bounded count, typed errors) → ShapeMachine.apply (one outcome per command) → chain block',
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
    // The session table's verdict on each forwarded request id, derived from the input (deterministic).
    const lookup = (id: { seq: number }): 'new' | 'duplicate' | 'stale' => (['new', 'new', 'duplicate', 'stale'] as const)[id.seq % 4]!
    const { result, groups: appliedGroups } = machine.apply(input, { index: 1, term: 1, timeMs: 0, requestLookup: lookup })
    const decoded = decodeProposalOrError(input)
    if (!(decoded instanceof Error) && decoded.envelope.v === 3) {
      const envelope = decoded.envelope
      invariant(result.outcomes?.length === envelopeCommands(envelope).length, 'a merged result without one outcome per command')
      const fresh = envelope.groups.filter((g) => g.via !== undefined && lookup(g.via) === 'new').map((g) => `${g.via!.clientId}/${g.via!.seq}`)
      const reported = (appliedGroups ?? []).map((g) => `${g.id.clientId}/${g.id.seq}`)
      invariant(reported.join('|') === (result.outcome.kind === 'applied' ? fresh.join('|') : ''), 'reported groups are not the new ones of an accepted envelope')
      let at = 0
      for (const g of envelope.groups) {
        const seen = g.via === undefined ? 'new' : lookup(g.via)
        const codes = result.outcomes.slice(at, at += g.commands.length).map((o) => o.kind === 'applied' ? 'applied' : o.code)
        if (result.outcome.kind === 'applied' && seen !== 'new') invariant(codes.every((c) => c === `${seen}-request`), () => `a ${seen} group got ${codes.join(',')}`)
      }
      if (result.outcomes.every((o) => o.kind === 'rejected')) invariant(machine.shapeCid() === before, 'no command applied but the shape changed')
    } else if (!(decoded instanceof Error) && decoded.envelope.v === 2) {
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
