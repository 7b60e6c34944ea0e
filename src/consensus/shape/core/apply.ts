/**
 * @module consensus/shape/core/apply
 * The MeshShape transition function: pure and total. Every committed proposal yields a typed result —
 * applied, or rejected with a code — and a rejected one leaves the shape untouched: the next shape is
 * computed on a copy, its invariants checked, and only then returned (STYLE §8). A batch envelope's
 * commands apply in order, each with its own outcome (`outcomes`).
 *
 * Signature checks are injected (`verified`): the IO edge verifies each entry once and caches the
 * verdict by CID, so the same bytes get the same verdict on every node without this core touching
 * node:crypto.
 */
import type { ConfChange, ConfChangeStep } from '../../core/types.js'
import { assert } from '../../../util/assert.js'
import { decodeProposalOrError } from './envelope.js'
import type { SignedProposal } from './envelope.js'
import { MeshShape } from './mesh-shape.js'
import { CONTROL_PLANE_ROLES } from './types.js'
import type { ApplyResult, Command, GroupResult, MergedEnvelope, Outcome, RejectionCode, RequestId, RequestLookup } from './types.js'
import { MAX_ETCD_HOLDERS, MAX_MEMBERS, MAX_ROLE_HOLDERS } from './constants.js'
import { templatesProblem } from './catalog.js'
import { MalformedProposalError, ProtocolLevelUnsupportedError } from './errors.js'
import { PROTOCOL_LEVEL, PROTOCOL_LEVEL_MIN, PROTOCOL_SEAL_HANDOVER } from './protocol.js'

export interface ShapeApplyContext {
  index: number
  term: number
  clusterId: string
  /** The configuration change this command travels in, if any (an etcd change must travel in one). */
  confChange?: ConfChange
  /** Whether `proposal.signature` is the proposer's valid signature of its CID (injected, cached). */
  verified: (proposal: SignedProposal) => boolean
  /**
   * What the replicated session table knows of a forwarded group's request id (a v3 envelope's `via`):
   * only a `new` one applies. Injected by the driver, identical on every replica. @default every id new
   */
  requestLookup?: (id: RequestId) => RequestLookup
}

const reject = (code: RejectionCode, message: string): Outcome => ({ kind: 'rejected', code, message })

/**
 * What applying one committed proposal gives: the next shape, the entry's result, and for a merged
 * envelope (v3) the forwarded groups that applied now (their `via` was new), which the driver records in
 * the session table and answers.
 */
export interface ProposalApplied {
  shape: MeshShape
  result: ApplyResult
  groups?: GroupResult[]
}

/** Applies one committed proposal's bytes to `shape` (a v1 envelope's command, or a batch's commands in order). */
export function applyProposal (shape: MeshShape, bytes: Uint8Array, ctx: ShapeApplyContext): ProposalApplied {
  const proposal = decodeProposalOrError(bytes)
  const base = { index: ctx.index, term: ctx.term }
  if (proposal instanceof Error) return { shape, result: { ...base, cid: '', outcome: reject('malformed', proposal.message) } }
  // Below level 8 a `quorum-recovery` reason is what every earlier build decodes it as: malformed, same message.
  if (isUnknownReasonAtLevel(proposal, shape.protocol)) return { shape, result: { ...base, cid: '', outcome: reject('malformed', new MalformedProposalError().message) } }
  const cid = proposal.cid.toString()
  const { envelope } = proposal
  const refusal = envelopeRefusal(shape, proposal, ctx)
  if (envelope.v === 2) {
    if (refusal !== null) return { shape, result: { ...base, cid, outcome: refusal, outcomes: envelope.commands.map(() => refusal) } }
    const applied = applyBatch(shape, envelope.commands.map((c) => c.command))
    return { shape: applied.shape, result: { ...base, cid, outcome: { kind: 'applied' }, outcomes: applied.outcomes } }
  }
  if (envelope.v === 3) {
    if (refusal !== null) {
      // Nothing of a refused envelope is recorded: each follower's request stays pending and is retried.
      return { shape, result: { ...base, cid, outcome: refusal, outcomes: envelope.groups.flatMap((g) => g.commands.map(() => refusal)) } }
    }
    return applyMerged(shape, envelope, { ...base, cid }, ctx.requestLookup)
  }
  let outcome: Outcome
  let next: MeshShape | null = null
  if (refusal !== null) {
    outcome = refusal
  } else if (envelope.command.kind === 'rejoin' && envelope.command.nodeId !== envelope.proposer) {
    outcome = reject('not-self', 'only a node itself may ask to rejoin')
  } else {
    const attempt = transition(shape, envelope.command)
    if (attempt.kind === 'rejected') {
      outcome = attempt
    } else {
      // The bootstrap command follows the genesis configuration entry that made its node the voter.
      outcome = envelope.command.kind === 'bootstrap' ? { kind: 'applied' } : checkVoterMove(shape, attempt.shape, ctx.confChange)
      if (outcome.kind === 'applied') next = attempt.shape
    }
  }
  if (next !== null) next.checkInvariants()
  return { shape: next ?? shape, result: { ...base, cid, outcome } }
}

/**
 * Whether `proposal` carries a reason the shape's level does not know yet (`quorum-recovery` below
 * PROTOCOL_SEAL_HANDOVER): such an entry applies as `malformed` on every build, old and new alike.
 */
export function isUnknownReasonAtLevel (proposal: SignedProposal, level: number): boolean {
  return level < PROTOCOL_SEAL_HANDOVER && proposal.envelope.v === 1 && proposal.envelope.reason === 'quorum-recovery'
}

/** Why the envelope as a whole is refused (cluster, signature, proposer), or null when it may apply. */
function envelopeRefusal (shape: MeshShape, proposal: SignedProposal, ctx: ShapeApplyContext): Outcome | null {
  const { envelope } = proposal
  if (envelope.clusterId !== ctx.clusterId) return reject('wrong-cluster', `proposal for cluster ${envelope.clusterId}`)
  if (!ctx.verified(proposal)) return reject('bad-signature', `signature does not verify for ${envelope.proposer}`)
  if (shape.size > 0 && !shape.has(envelope.proposer)) return reject('unknown-proposer', `${envelope.proposer} is not a member`)
  // A batch never travels in a configuration change: its commands cannot move voters (docs/CONSENSUS.md).
  if (envelope.v !== 1 && ctx.confChange !== undefined) return reject('voter-mismatch', 'a batch envelope travels in a configuration change')
  return null
}

/**
 * Applies a batch's commands in order, each to the shape the previous ones left: each gets its own
 * outcome, and a rejected one changes nothing, exactly as if they had been committed one by one without
 * configuration changes (a command that would move the voters is `voters-not-moved`).
 */
export function applyBatch (shape: MeshShape, commands: readonly Command[]): { shape: MeshShape, outcomes: Outcome[] } {
  let current = shape
  const outcomes: Outcome[] = []
  for (const command of commands) {
    const attempt = transition(current, command)
    if (attempt.kind === 'rejected') {
      outcomes.push(attempt)
      continue
    }
    const outcome = checkVoterMove(current, attempt.shape, undefined)
    outcomes.push(outcome)
    if (outcome.kind === 'applied') {
      attempt.shape.checkInvariants()
      current = attempt.shape
    }
  }
  return { shape: current, outcomes }
}

/**
 * A merged envelope's groups in order, each applied like a batch to the shape the previous ones left —
 * unless its `via` is known to the session table: a duplicate (a follower's retry that reached a leader
 * twice, or two leaders) or stale group is skipped, each of its commands marked `duplicate-request` /
 * `stale-request`, and the shape does not move. The outcomes are the concatenation of the groups'.
 */
function applyMerged (shape: MeshShape, envelope: MergedEnvelope, base: { index: number, term: number, cid: string },
  lookup: ((id: RequestId) => RequestLookup) | undefined): ProposalApplied {
  let current = shape
  const outcomes: Outcome[] = []
  const groups: GroupResult[] = []
  for (const group of envelope.groups) {
    const seen = group.via === undefined ? 'new' : (lookup?.(group.via) ?? 'new')
    if (seen !== 'new') {
      const via = group.via as RequestId
      const skipped = seen === 'duplicate'
        ? reject('duplicate-request', `request ${via.clientId}/${via.seq} was already applied`)
        : reject('stale-request', `request ${via.clientId}/${via.seq} is older than the session table remembers`)
      for (const _ of group.commands) outcomes.push(skipped)
      continue
    }
    const applied = applyBatch(current, group.commands.map((c) => c.command))
    current = applied.shape
    const first = outcomes.length
    outcomes.push(...applied.outcomes)
    if (group.via !== undefined) groups.push({ via: group.via, result: { ...base, outcome: { kind: 'applied' }, outcomes: applied.outcomes, group: { first, commands: 0 } } })
  }
  // Each group's answer names where its commands sit among the entry's.
  for (const g of groups) (g.result.group as { commands: number }).commands = outcomes.length
  assert(outcomes.length === envelope.groups.reduce((n, g) => n + g.commands.length, 0), 'one outcome per command')
  return { shape: current, result: { ...base, outcome: { kind: 'applied' }, outcomes }, groups }
}

type Transition = { kind: 'applied', shape: MeshShape } | (Outcome & { kind: 'rejected' })

/**
 * Computes the shape after `command`, or why it cannot apply.
 * @throws ProtocolLevelUnsupportedError when the command carries a protocol level above this build's
 */
export function transition (shape: MeshShape, command: Command): Transition {
  // Each case checks `shape` first and copies it only to change the copy: a rejected command copies nothing.
  const id = 'nodeId' in command ? command.nodeId : ''
  switch (command.kind) {
    case 'bootstrap': {
      if (shape.size > 0) return reject('not-empty', 'bootstrap on a non-empty shape') as Transition
      const level = command.protocol ?? PROTOCOL_LEVEL_MIN
      if (level > PROTOCOL_LEVEL) throw new ProtocolLevelUnsupportedError(level, PROTOCOL_LEVEL)
      const started = level > PROTOCOL_LEVEL_MIN ? shape.withProtocol(level) : shape.copy()
      started.addMember(id)
      started.grant(id, CONTROL_PLANE_ROLES)
      return finish(started)
    }
    case 'set-protocol':
      // Upward only; a level this build does not know stops this node (the driver halts) before anything
      // is written: the nodes that know it apply it, and this one must not go on without it.
      if (command.level <= shape.protocol) return reject('protocol-not-raised', `protocol level ${command.level} is not above ${shape.protocol}`) as Transition
      if (command.level > PROTOCOL_LEVEL) throw new ProtocolLevelUnsupportedError(command.level, PROTOCOL_LEVEL)
      // withProtocol rewrites the catalog's CIDs to their canonical text when the level reaches
      // PROTOCOL_CANONICAL_CATALOG: part of the committed shape (and its CID), the same on every replica.
      return { kind: 'applied', shape: shape.withProtocol(command.level) }
    case 'add-member': {
      if (shape.has(id)) return reject('already-member', `${id} is already a member`) as Transition
      if (shape.wasRemoved(id)) return reject('removed-member', `${id} was removed from the cluster; it must reset to rejoin`) as Transition
      if (shape.size >= MAX_MEMBERS) return reject('limit-exceeded', `at most ${MAX_MEMBERS} members`) as Transition
      const next = shape.copy()
      next.addMember(id)
      return finish(next)
    }
    case 'remove-member': {
      if (!shape.has(id)) return reject('unknown-node', `${id} is not a member`) as Transition
      if (CONTROL_PLANE_ROLES.some((role) => shape.holds(id, role))) {
        return reject('holds-control-plane-role', `${id} holds a control-plane role: demote it first`) as Transition
      }
      const next = shape.copy()
      next.removeMember(id)
      return finish(next)
    }
    case 'promote': {
      // Every promoted node (`nodeId`, then `with`) gets the roles, or none does.
      const nodes = [command.nodeId, ...(command.with ?? [])]
      for (const node of nodes) {
        if (!shape.has(node)) return reject('unknown-node', `${node} is not a member`) as Transition
        if (shape.isQuarantined(node)) return reject('node-quarantined', `${node} is quarantined`) as Transition
        // A pinned promote of a role already held only pins it; an unpinned one is a mistake worth naming.
        if (command.pin !== true && command.roles.some((role) => shape.holds(node, role))) {
          const held = command.roles.filter((role) => shape.holds(node, role))
          return reject('role-already-held', `${node} already holds ${held.join(',')}`) as Transition
        }
      }
      // A replacement: the replaced node gives up exactly these roles in the same change (as its demotion would,
      // pins of those roles dropped), so the voters move out and in with one joint configuration change.
      const replaced = command.replacing
      if (replaced !== undefined) {
        if (!shape.has(replaced)) return reject('unknown-node', `${replaced} is not a member`) as Transition
        if (!command.roles.every((role) => shape.holds(replaced, role))) {
          const missing = command.roles.filter((role) => !shape.holds(replaced, role))
          return reject('role-not-held', `${replaced} does not hold ${missing.join(',')}`) as Transition
        }
      }
      const next = shape.copy()
      if (replaced !== undefined) {
        next.revoke(replaced, command.roles)
        next.setPins(replaced, command.roles, undefined)
      }
      for (const node of nodes) {
        next.grant(node, command.roles)
        next.setPins(node, command.roles, command.pin === true ? true : undefined)
      }
      for (const role of command.roles) {
        const max = role === 'etcd' ? MAX_ETCD_HOLDERS : MAX_ROLE_HOLDERS
        const holders = next.holderCount(role)
        if (holders > shape.holderCount(role) && holders > max) return reject('limit-exceeded', `at most ${max} ${role} holders`) as Transition
      }
      return finish(next)
    }
    case 'demote': {
      if (!shape.has(id)) return reject('unknown-node', `${id} is not a member`) as Transition
      if (command.pin !== true && !command.roles.every((role) => shape.holds(id, role))) {
        const missing = command.roles.filter((role) => !shape.holds(id, role))
        return reject('role-not-held', `${id} does not hold ${missing.join(',')}`) as Transition
      }
      const next = shape.copy()
      next.revoke(id, command.roles)
      next.setPins(id, command.roles, command.pin === true ? false : undefined)
      return finish(next)
    }
    case 'unpin': {
      if (!shape.has(id)) return reject('unknown-node', `${id} is not a member`) as Transition
      const roles = command.roles ?? CONTROL_PLANE_ROLES
      if (!roles.some((role) => shape.pinOf(id, role) !== undefined)) return reject('not-pinned', `${id} has no pin on ${roles.join(',')}`) as Transition
      const next = shape.copy()
      next.setPins(id, roles, undefined)
      return finish(next)
    }
    case 'quarantine': {
      if (!shape.has(id)) return reject('unknown-node', `${id} is not a member`) as Transition
      if (shape.isQuarantined(id)) return reject('node-quarantined', `${id} is already quarantined`) as Transition
      const next = shape.copy()
      next.clear(id)
      next.grant(id, ['quarantined'])
      return finish(next)
    }
    case 'rejoin': {
      if (!shape.has(id)) return reject('unknown-node', `${id} is not a member`) as Transition
      // Its etcd pin goes with the role: the node's lost vote record outweighs the operator's pin.
      const next = shape.copy()
      next.revoke(id, ['etcd'])
      next.setPins(id, ['etcd'], undefined)
      return finish(next)
    }
    case 'restore': {
      if (!shape.has(id)) return reject('unknown-node', `${id} is not a member`) as Transition
      if (!shape.isQuarantined(id)) return reject('not-quarantined', `${id} is not quarantined`) as Transition
      const next = shape.copy()
      next.revoke(id, ['quarantined'])
      return finish(next)
    }
    case 'set-catalog': {
      // Judged at the shape's level: below PROTOCOL_CANONICAL_CATALOG exactly as every earlier build judges it
      // (a mixed-case template CID applies), from it a non-canonical spelling is `invalid-catalog` (catalog.ts).
      const problem = templatesProblem(command.templates, shape.protocol)
      if (problem !== null) return reject('invalid-catalog', problem) as Transition
      const next = shape.copy()
      next.setTemplates(command.role, command.templates)
      return { kind: 'applied', shape: next }
    }
    case 'set-target':
      if (command.target.etcd < 1) return reject('invalid-target', 'the target needs at least one etcd holder') as Transition
      return { kind: 'applied', shape: shape.withTarget(command.target) }
  }
}

/** The shape a membership or role command leaves, or why it cannot: no voter, or a broken limit. */
function finish (next: MeshShape): Transition {
  if (next.size > 0 && next.voters().length === 0) return reject('last-voter', 'the shape would have no etcd holder (no voter)') as Transition
  const problem = next.invariantProblem()
  if (problem !== null) return reject('limit-exceeded', problem) as Transition
  return { kind: 'applied', shape: next }
}

/**
 * Voters are the etcd holders: a command that changes the etcd set is valid only inside the
 * configuration change that moves exactly those voters (one joint change, issue 6 item 3).
 */
export function checkVoterMove (before: MeshShape, after: MeshShape, confChange: ConfChange | undefined): Outcome {
  const voters = before.votersView()
  // A command without a configuration change (every command of a batch) is decided here without building
  // step lists, as the general path below would decide it: applied when it moves no voter.
  if (confChange === undefined) {
    return sameIds(voters, after.votersView()) ? { kind: 'applied' } : reject('voters-not-moved', 'an etcd change must be committed with its configuration change')
  }
  const expected = voterSteps(voters, after.votersView()).map((s) => `${s.type}:${s.nodeId}`).sort()
  // The change comes from a committed entry that any leader may have written: its steps are untrusted.
  const steps: unknown[] = Array.isArray(confChange.steps) ? confChange.steps : [null]
  if (!steps.every(isConfChangeStep)) return reject('voter-mismatch', 'the configuration change carries a malformed step')
  // Steps that only add or remove learners (admission, removal of a non-voter) move no voter.
  const actual = steps
    .filter((s) => s.type === 'add-voter' ? !voters.includes(s.nodeId) : voters.includes(s.nodeId))
    .map((s) => `${s.type === 'remove' ? 'add-learner' : s.type}:${s.nodeId}`).sort()
  if (actual.join('|') !== expected.join('|')) {
    return reject('voter-mismatch', `configuration change moves [${actual.join(',')}], the command moves [${expected.join(',')}]`)
  }
  return { kind: 'applied' }
}

/** Whether two lists of unique ids hold the same ids (what an empty voterSteps(a, b) says, without building it). */
function sameIds (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (const id of a) if (!b.includes(id)) return false
  return true
}

const STEP_TYPES: readonly unknown[] = ['add-voter', 'add-learner', 'remove']

function isConfChangeStep (step: unknown): step is ConfChangeStep {
  if (typeof step !== 'object' || step === null) return false
  const { type, nodeId } = step as Record<string, unknown>
  return STEP_TYPES.includes(type) && typeof nodeId === 'string'
}

/** The configuration steps that turn voter set `from` into `to` (removed voters stay as learners). */
export function voterSteps (from: readonly string[], to: readonly string[]): ConfChange['steps'] {
  const steps: ConfChange['steps'] = []
  for (const id of to) if (!from.includes(id)) steps.push({ type: 'add-voter', nodeId: id })
  for (const id of from) if (!to.includes(id)) steps.push({ type: 'add-learner', nodeId: id })
  return steps
}

/** What the proposer needs to know before proposing: the conf change a command requires, if any. */
export function requiredConfChange (shape: MeshShape, command: Command): ConfChange | null | 'rejected' {
  // Never moves voters; and its level is judged at apply only (a level this build does not know halts there).
  if (command.kind === 'set-protocol') return null
  const attempt = transition(shape, command)
  if (attempt.kind === 'rejected') return 'rejected'
  const steps = voterSteps(shape.voters(), attempt.shape.voters())
  return steps.length === 0 ? null : { steps, transition: 'auto', enterJoint: true }
}

export { MeshShape }
