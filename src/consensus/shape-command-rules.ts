/**
 * @module consensus/shape-command-rules
 * The CommandRules of MeshShape commands (issue 9 item 4): a command is a signed envelope; its proposal
 * id is the envelope's, its proposer the envelope's signer, and the configuration change it needs is
 * derived by the leader from its own applied shape and configuration — the voters move only along the
 * shape's committed path, never because a peer asked for a configuration change.
 */
import type { ConfChange, ConfState } from './core/types.js'
import { isMemberOf } from './core/quorum.js'
import type { CommandRules } from './raft-node.js'
import { decodeRequest, decodeSignedProposal, envelopeCommands, envelopeRequestIds, isRequestBytes, isUnknownReasonAtLevel, requestOwner, requiredConfChange } from './shape/core/index.js'
import type { Command, MeshShape } from './shape/core/index.js'
import { peerIdTextProblem } from '../codec/index.js'

/** The ids `command` names as members: its node, a promote's `with` and `replacing`. */
function memberIdsOf (command: Command): string[] {
  switch (command.kind) {
    case 'set-protocol': case 'set-target': case 'set-catalog': return []
    case 'promote': return [command.nodeId, ...(command.with ?? []), ...(command.replacing !== undefined ? [command.replacing] : [])]
    default: return [command.nodeId]
  }
}

/**
 * Why `commands` must not enter the log against `shape`: a member id that is neither the canonical text of
 * an ed25519 PeerId (codec/peer-id.ts) nor already a member. Apply takes any 1–128 character id, and making
 * it stricter would change what old logs replay to; so such ids are refused where commands come in (the
 * leader's intake, this node's own proposals), one key never two members. An id the shape already holds
 * passes, so a member committed before this check can still be demoted and removed.
 */
export function commandsMemberIdProblem (shape: MeshShape, commands: Iterable<Command>): string | null {
  for (const command of commands) {
    for (const id of memberIdsOf(command)) {
      if (shape.has(id)) continue
      const problem = peerIdTextProblem(id)
      if (problem !== null) return `${command.kind} names ${JSON.stringify(id.slice(0, 80))}, not the canonical text of an ed25519 peer id: ${problem}`
    }
  }
  return null
}


/**
 * The configuration change `command` needs against `shape` and `conf`: admission adds the new member
 * as a learner; a command that moves the etcd role moves exactly those voters (one joint change).
 */
export function deriveConfChange (shape: MeshShape, command: Uint8Array, conf: ConfState): ConfChange | null {
  const proposal = decodeSignedProposal(command)
  // A batch envelope (v2, v3) never travels in a configuration change (its apply refuses one); nor does an
  // envelope whose reason the shape's level does not know (it applies as malformed).
  if (proposal === null || proposal.envelope.v !== 1 || isUnknownReasonAtLevel(proposal, shape.protocol)) return null
  const cmd = proposal.envelope.command
  if (cmd.kind === 'bootstrap') return null
  if (cmd.kind === 'rejoin') {
    // Only a node itself may ask to rejoin (apply refuses any other), so no other proposer's rejoin moves a
    // voter: derived anyway, one naming the leader would have it refuse proposals as if it were leaving.
    if (cmd.nodeId !== proposal.envelope.proposer) return null
    // Removal (not a demotion to learner) resets the leader's progress for the node, whose log is gone;
    // checkVoterMove counts the removal of a voter as the voter step the shape's etcd revocation needs.
    return isMemberOf(conf, cmd.nodeId) ? { steps: [{ type: 'remove', nodeId: cmd.nodeId }], transition: 'auto' } : null
  }
  if (cmd.kind === 'add-member') {
    return isMemberOf(conf, cmd.nodeId) ? null : { steps: [{ type: 'add-learner', nodeId: cmd.nodeId }], transition: 'auto' }
  }
  const change = requiredConfChange(shape, cmd)
  return change === null || change === 'rejected' ? null : change
}

/** CommandRules for a node whose applied shape is `shape()`. */
export function shapeCommandRules (shape: () => MeshShape): CommandRules {
  return {
    identify (command) {
      if (isRequestBytes(command)) {
        // A forwarded request (issue 16) is proposed under its own id, which names the node that sends it.
        const request = decodeRequest(command)
        return request instanceof Error ? null : { id: request.id, proposer: requestOwner(request.id) }
      }
      const proposal = decodeSignedProposal(command)
      // Unknown at the shape's level: no id, as the builds that cannot decode it give none (the same sessions everywhere).
      if (proposal === null || isUnknownReasonAtLevel(proposal, shape().protocol)) return null
      const { envelope } = proposal
      // A level is raised by the leader's protocol loop alone, once every member advertises it; forwarded, a
      // level above some build's would halt every node of that build at apply (a key holder's one frame).
      const leaderOnly = envelope.v === 1 && (envelope.command.kind === 'set-protocol' || envelope.command.kind === 'bootstrap')
      return { id: envelope.proposalId, proposer: envelope.proposer, ...(leaderOnly ? { leaderOnly: envelope.command.kind } : {}) }
    },
    confChangeFor (command, conf) {
      return deriveConfChange(shape(), command, conf)
    },
    memberIdProblem (command) {
      // A request is judged by the leader's intake (forwarded-request-intake.ts), whose refusal is answered.
      if (isRequestBytes(command)) return null
      const proposal = decodeSignedProposal(command)
      return proposal === null ? null : commandsMemberIdProblem(shape(), envelopeCommands(proposal.envelope).map((c) => c.command))
    },
    isRequest: isRequestBytes,
    isMember: (nodeId) => shape().has(nodeId),
    requestIds (command) {
      const proposal = decodeSignedProposal(command)
      return proposal === null ? [] : envelopeRequestIds(proposal.envelope)
    }
  }
}
