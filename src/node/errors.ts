/**
 * @module node/errors
 * Operating errors of node start-up (STYLE §10). Callers match on `name`.
 */

/** Another live process holds this data dir: two nodes on one WAL would corrupt it. */
export class DataDirInUseError extends Error {
  static override readonly name = 'DataDirInUseError'
  constructor (readonly dataDir: string, readonly pid: number | undefined) {
    super(`data dir ${dataDir} is in use by pid ${pid ?? 'unknown'}; stop that node first (or pick another --data-dir)`)
    this.name = 'DataDirInUseError'
  }
}

/**
 * The data dir holds a cluster (`cluster.json`) but its raft directory is empty or gone, and no peer is
 * known to rejoin through: bootstrapping would create a second cluster under the same id.
 */
export class RaftStateLostError extends Error {
  static override readonly name = 'RaftStateLostError'
  constructor (readonly dataDir: string, readonly clusterId: string) {
    super(`data dir ${dataDir} belongs to cluster ${clusterId} but its raft directory is empty or missing, and no ` +
      'peer is known to rejoin through. Start it with --join <join-string of a live member> to rejoin as a learner, ' +
      'or, only if every other member is gone for good, with --force-new-cluster to bootstrap a new cluster from ' +
      'this node alone (docs/OPERATIONS.md, "Lost raft directory")')
    this.name = 'RaftStateLostError'
  }
}

/** `revoada recover-quorum` on a data dir it cannot recover from (no cluster yet, no log, or not a voter). */
export class QuorumRecoveryError extends Error {
  static override readonly name = 'QuorumRecoveryError'
  constructor (message: string) {
    super(message)
    this.name = 'QuorumRecoveryError'
  }
}
