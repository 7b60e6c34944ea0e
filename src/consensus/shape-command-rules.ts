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
import { decodeRequest, decodeSignedProposal, envelopeRequestIds, isRequestBytes, requestOwner, requiredConfChange } from './shape/core/index.js'
import type { MeshShape } from './shape/core/index.js'


/**
 * The configuration change `command` needs against `shape` and `conf`: admission adds the new member
 * as a learner; a command that moves the etcd role moves exactly those voters (one joint change).
 */
export function deriveConfChange (shape: MeshShape, command: Uint8Array, conf: ConfState): ConfChange | null {
  const proposal = decodeSignedProposal(command)
  // A batch envelope (v2, v3) never travels in a configuration change (its apply refuses one).
  if (proposal === null || proposal.envelope.v !== 1) return null
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
      if (proposal === null) return null
      const { envelope } = proposal
      // A level is raised by the leader's protocol loop alone, once every member advertises it; forwarded, a
      // level above some build's would halt every node of that build at apply (a key holder's one frame).
      const leaderOnly = envelope.v === 1 && (envelope.command.kind === 'set-protocol' || envelope.command.kind === 'bootstrap')
      return { id: envelope.proposalId, proposer: envelope.proposer, ...(leaderOnly ? { leaderOnly: envelope.command.kind } : {}) }
    },
    confChangeFor (command, conf) {
      return deriveConfChange(shape(), command, conf)
    },
    isRequest: isRequestBytes,
    isMember: (nodeId) => shape().has(nodeId),
    requestIds (command) {
      const proposal = decodeSignedProposal(command)
      return proposal === null ? [] : envelopeRequestIds(proposal.envelope)
    }
  }
}
