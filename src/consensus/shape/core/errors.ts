/**
 * @module consensus/shape/core/errors
 * Operating errors of the MeshShape core (STYLE §10). Callers match on `name`. (Commands never throw:
 * a command that cannot apply is a typed rejection in its ApplyResult.)
 */

/** Shape data (a snapshot's machine bytes) is not a valid MeshShape; the restore is refused. */
export class ShapeDataInvalidError extends Error {
  static override readonly name = 'ShapeDataInvalidError'
  constructor (message = 'invalid shape data') {
    super(message)
    this.name = 'ShapeDataInvalidError'
  }
}

/** A batch envelope (v2) carries more than MAX_BATCH_COMMANDS commands; it is committed as `malformed`. */
export class ProposalBatchTooLargeError extends Error {
  static override readonly name = 'ProposalBatchTooLargeError'
  constructor (message = 'batch envelope carries too many commands') {
    super(message)
    this.name = 'ProposalBatchTooLargeError'
  }
}

/** A batch envelope (v2) carries no command; it is committed as `malformed`. */
export class ProposalBatchEmptyError extends Error {
  static override readonly name = 'ProposalBatchEmptyError'
  constructor (message = 'batch envelope carries no command') {
    super(message)
    this.name = 'ProposalBatchEmptyError'
  }
}

/** Bytes that are not exactly one signed proposal envelope; it is committed as `malformed`. */
export class MalformedProposalError extends Error {
  static override readonly name = 'MalformedProposalError'
  constructor (message = 'not a signed proposal envelope') {
    super(message)
    this.name = 'MalformedProposalError'
  }
}

/**
 * A request a follower forwarded to the leader (issue 16) that the leader refuses: not a request, too
 * many commands or bytes, a command that may not travel in one, an id that is not the sender's. The
 * leader counts it, logs it and drops it (the follower's callers time out or are answered by a retry).
 */
export class ForwardedRequestInvalidError extends Error {
  // NB: the leader answers this refusal to the follower (consensus/request-refusal.ts); a refusal that a
  // retry may overcome (not leading now, a level not applied yet, a full queue) is another error.
  static override readonly name = 'ForwardedRequestInvalidError'
  constructor (message = 'not a forwarded request') {
    super(message)
    this.name = 'ForwardedRequestInvalidError'
  }
}

/**
 * A forwarded request the leader does not take now but may take on the follower's retry (it does not lead,
 * or has not applied the protocol level the follower forwards at yet): counted and logged, not answered.
 */
export class ForwardedRequestDeferredError extends Error {
  static override readonly name = 'ForwardedRequestDeferredError'
  constructor (message: string) {
    super(message)
    this.name = 'ForwardedRequestDeferredError'
  }
}

/**
 * A committed entry or snapshot carries a protocol level above the one this build understands (protocol.ts):
 * applying it would diverge from the nodes that know it. The Raft driver stops this node without applying it
 * (docs/OPERATIONS.md, "Rolling upgrades"): upgrade the node, then start it again.
 */
export class ProtocolLevelUnsupportedError extends Error {
  static override readonly name = 'ProtocolLevelUnsupportedError'
  constructor (readonly level: number, readonly known: number) {
    super(`the cluster runs protocol level ${level}; this build knows levels up to ${known}: upgrade revoada on this node, then start it again`)
    this.name = 'ProtocolLevelUnsupportedError'
  }
}
