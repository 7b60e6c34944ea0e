/**
 * @module consensus/errors
 * Operating errors of the consensus driver (STYLE §10). Callers match on `name`.
 */

/**
 * A proposal or read did not complete before its deadline; a proposal's fate is then unknown — unless
 * `proposed` is false: its deadline had passed before it was proposed, so nothing of it can commit.
 */
export class ConsensusTimeoutError extends Error {
  static override readonly name = 'ConsensusTimeoutError'
  readonly proposed: boolean
  constructor (message = 'consensus operation timed out', proposed = true) {
    super(message)
    this.name = 'ConsensusTimeoutError'
    this.proposed = proposed
  }
}

/** Too many proposals or reads are waiting; retry later. */
export class ConsensusBusyError extends Error {
  static override readonly name = 'ConsensusBusyError'
  constructor (message = 'too many pending consensus operations') {
    super(message)
    this.name = 'ConsensusBusyError'
  }
}

/** A command is larger than MAX_COMMAND_BYTES: its entry could not travel in one Raft frame. */
export class ProposalTooLargeError extends Error {
  static override readonly name = 'ProposalTooLargeError'
  constructor (message = 'proposal too large') {
    super(message)
    this.name = 'ProposalTooLargeError'
  }
}

/** The node is stopping or stopped. */
export class ConsensusStoppedError extends Error {
  static override readonly name = 'ConsensusStoppedError'
  constructor (message = 'consensus node stopped') {
    super(message)
    this.name = 'ConsensusStoppedError'
  }
}

/** A snapshot's bytes could not be decoded; the node refuses it and keeps its state. */
export class SnapshotDecodeError extends Error {
  static override readonly name = 'SnapshotDecodeError'
  constructor (message = 'snapshot cannot be decoded') {
    super(message)
    this.name = 'SnapshotDecodeError'
  }
}

/**
 * A proposal carries a command whose proposal id was already applied long enough ago that its result is
 * gone (or is pending right now): it is never applied a second time.
 */
export class ProposalReplayedError extends Error {
  static override readonly name = 'ProposalReplayedError'
  constructor (message = 'proposal id already applied or pending') {
    super(message)
    this.name = 'ProposalReplayedError'
  }
}

/**
 * This node cannot write its log (disk full, EIO): it accepts no proposals or reads until a retried write
 * succeeds, which happens on its own once space returns. `status` shows `storage.writable: false`.
 */
export class StorageUnavailableError extends Error {
  static override readonly name = 'StorageUnavailableError'
  constructor (reason: string) {
    super(`this node cannot write its log (${reason}); it accepts no proposals until the disk is writable again`)
    this.name = 'StorageUnavailableError'
  }
}

/**
 * This node was removed from its cluster (`revoada remove-member`, or it left with `revoada leave`): its
 * NodeId is never re-admitted, so it refuses to run until the operator resets it.
 */
export class NodeRemovedError extends Error {
  static override readonly name = 'NodeRemovedError'
  constructor (dataDir: string, detail: string) {
    super(`this node ${detail}; it will not be re-admitted under its NodeId. To rejoin, reset it: move ${dataDir} ` +
      'away and start with a fresh --data-dir and a new join string')
    this.name = 'NodeRemovedError'
  }
}

/** The request names a node that is not a member of the shape. */
export class UnknownMemberError extends Error {
  static override readonly name = 'UnknownMemberError'
  constructor (nodeId: string) {
    super(`${nodeId} is not a member of the cluster (see \`revoada shape\`)`)
    this.name = 'UnknownMemberError'
  }
}

/**
 * The leader refused a request this follower forwarded (its answer, consensus/request-refusal.ts): the
 * request's callers fail at once with the leader's reason, instead of at the operation timeout.
 */
export class ForwardedRequestRefusedError extends Error {
  static override readonly name = 'ForwardedRequestRefusedError'
  constructor (message: string) {
    super(message)
    this.name = 'ForwardedRequestRefusedError'
  }
}

/**
 * A command names a member id that is not the canonical text of an ed25519 PeerId (and is no member yet):
 * refused before it enters the log (docs/SECURITY.md, "One key, two members").
 */
export class InvalidMemberIdError extends Error {
  static override readonly name = 'InvalidMemberIdError'
  constructor (message = 'a member id that is not the canonical text of an ed25519 peer id') {
    super(message)
    this.name = 'InvalidMemberIdError'
  }
}

/** An operator request a safety check refuses (e.g. the only member asked to leave). */
export class RequestRefusedError extends Error {
  static override readonly name = 'RequestRefusedError'
  constructor (message: string) {
    super(message)
    this.name = 'RequestRefusedError'
  }
}

/**
 * A proposal this node appended as leader can never commit: the committed log holds another entry at its
 * index, or an entry of a later term before it (raft-node.ts, `resolveLeaderOnly`). Nothing of it was
 * applied, so submitting its commands again is safe; the batcher does that itself (proposal-batcher.ts) and
 * callers see this only when they have already been submitted again SHAPE_BATCH_RESUBMITS_MAX times.
 */
export class ProposalLostError extends Error {
  static override readonly name = 'ProposalLostError'
  /**
   * The lost proposal's deadline (the driver's monotonic clock): its commands, submitted again, keep it, so
   * their caller hears of them no later than it would have of the first submission.
   */
  readonly deadlineMs: number | undefined
  constructor (message: string, deadlineMs?: number) {
    super(message)
    this.name = 'ProposalLostError'
    this.deadlineMs = deadlineMs
  }
}

/**
 * Errors a state machine throws from apply when this build cannot apply what the cluster committed: the node
 * halts there instead of diverging (docs/OPERATIONS.md, "Rolling upgrades"). Thrown from canRestore (a
 * snapshot from the leader), they refuse that snapshot instead (snapshot-keeper.ts, refuseSnapshotAboveLevel).
 */
export const HALTING_APPLY_ERRORS: ReadonlySet<string> = new Set(['ProtocolLevelUnsupportedError'])
