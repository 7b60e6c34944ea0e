/**
 * @module consensus/core/errors
 * Operating errors of the Raft core (STYLE §10): conditions a caller must handle. Network input never
 * throws (it is dropped and counted); only local API calls throw these.
 */

/** A proposal was not accepted: no known leader, too many uncommitted bytes, or a leadership transfer. */
export class ProposalDroppedError extends Error {
  static override readonly name = 'ProposalDroppedError'
  constructor (message = 'proposal dropped') {
    super(message)
    this.name = 'ProposalDroppedError'
  }
}

/** A configuration change was refused: another is pending, or the change is malformed for this config. */
export class ConfChangeRejectedError extends Error {
  static override readonly name = 'ConfChangeRejectedError'
  constructor (message = 'configuration change rejected') {
    super(message)
    this.name = 'ConfChangeRejectedError'
  }
}

/** The RaftConfig is invalid (bad values or relationships between fields). */
export class InvalidRaftConfigError extends Error {
  static override readonly name = 'InvalidRaftConfigError'
  constructor (message = 'invalid raft config') {
    super(message)
    this.name = 'InvalidRaftConfigError'
  }
}

/** A leadership transfer was refused (not leader, unknown or non-voter target). */
export class TransferRejectedError extends Error {
  static override readonly name = 'TransferRejectedError'
  constructor (message = 'leadership transfer rejected') {
    super(message)
    this.name = 'TransferRejectedError'
  }
}

/** A session table (from a snapshot, so from the network or disk) is malformed; the snapshot is refused. */
export class SessionsDataInvalidError extends Error {
  static override readonly name = 'SessionsDataInvalidError'
  constructor (message = 'session table invalid') {
    super(message)
    this.name = 'SessionsDataInvalidError'
  }
}
