/**
 * @module net/errors
 * Operating errors of the network layer; callers match on `name`.
 */

/** A join string is malformed, of an unknown version, or carries bad fields. */
export class JoinStringInvalidError extends Error {
  static override readonly name = 'JoinStringInvalidError'
  constructor (reason: string) {
    super(`invalid join string: ${reason}`)
    this.name = 'JoinStringInvalidError'
  }
}

/** cluster.json is unreadable, malformed or readable by others. */
export class ClusterFileError extends Error {
  static override readonly name = 'ClusterFileError'
  constructor (path: string, reason: string, cause?: unknown) {
    super(`cluster file ${path}: ${reason}`, { cause })
    this.name = 'ClusterFileError'
  }
}

/** `--join` names another cluster than the one already stored in the data dir. */
export class ClusterMismatchError extends Error {
  static override readonly name = 'ClusterMismatchError'
  constructor (stored: string, joining: string) {
    super(`data dir already belongs to cluster ${stored}, but the join string is for cluster ${joining}; ` +
      'use a fresh --data-dir to join another cluster')
    this.name = 'ClusterMismatchError'
  }
}

/**
 * A dial reached the remote but the private-network or secure-channel handshake failed or stalled: the
 * cluster pre-shared keys most likely differ (wrong join string, or the peer belongs to another cluster).
 */
export class ClusterKeyProbablyWrongError extends Error {
  static override readonly name = 'ClusterKeyProbablyWrongError'
  constructor (address: string, cause?: unknown) {
    super(`handshake with ${address} failed: the cluster pre-shared key is probably wrong ` +
      '(the peer is in another cluster, or the join string is stale)', { cause })
    this.name = 'ClusterKeyProbablyWrongError'
  }
}

/**
 * A dial reached the remote's port but the handshake failed, and the remote sent nothing on a fresh TCP connection
 * either: it is busy or starved (its accept queue full on a saturated machine, docs/bench/scale.md) or not a
 * cluster node. Not a key mismatch: a node with another key sends its pnet nonce as soon as it accepts.
 */
export class PeerNotAnsweringError extends Error {
  static override readonly name = 'PeerNotAnsweringError'
  constructor (address: string, cause?: unknown) {
    super(`handshake with ${address} failed: the peer accepts TCP but sends nothing (busy or starved, ` +
      'or not a revoada node); the dial is retried', { cause })
    this.name = 'PeerNotAnsweringError'
  }
}
