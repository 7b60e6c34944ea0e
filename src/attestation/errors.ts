/**
 * @module attestation/errors
 * Why a chain, a seal or an export is refused (STYLE §10): one class per condition, matched by `name`.
 * Verification errors carry the height of the first failing block (0 for the export as a whole).
 */

/** Base of every chain verification failure: `height` names the first block that fails. */
export class ChainVerifyError extends Error {
  static override readonly name: string = 'ChainVerifyError'
  /** The reason without the height prefix. */
  readonly reason: string
  constructor (readonly height: number, message: string) {
    super(`height ${height}: ${message}`)
    this.reason = message
    this.name = 'ChainVerifyError'
  }
}

function define (name: string): new (height: number, message: string) => ChainVerifyError {
  const cls = class extends ChainVerifyError {
    constructor (height: number, message: string) {
      super(height, message)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

/** A block or export is not the canonical encoding of a well-formed value. */
export const MalformedBlockError = define('MalformedBlockError')
/** The export's genesis differs from the pinned one, or block 1 is not the genesis voter's bootstrap. */
export const GenesisMismatchError = define('GenesisMismatchError')
/** A block names a different cluster than the genesis. */
export const WrongClusterError = define('WrongClusterError')
/** A block's height is not its predecessor's plus one. */
export const HeightGapError = define('HeightGapError')
/** A block's `prev` is not the CID of the block before it. */
export const BrokenLinkError = define('BrokenLinkError')
/** Raft indexes do not strictly increase, or terms decrease. */
export const RaftOrderError = define('RaftOrderError')
/** The envelope's CID or proposer differs from the block's `proposal` / `proposer`. */
export const ProposalMismatchError = define('ProposalMismatchError')
/** The proposer's signature does not verify (or verifies where the block says it did not). */
export const ProposerSignatureError = define('ProposerSignatureError')
/** A voter set changed other than by the one node an applied command names. */
export const VoterChangeError = define('VoterChangeError')
/** A proposal recorded as judged is signed by a node that was no member there, or a member's is recorded as an unknown proposer's. */
export const UnknownProposerError = define('UnknownProposerError')
/** A seal's recorded outcome differs from what the chain itself implies. */
export const OutcomeMismatchError = define('OutcomeMismatchError')
/** A seal covers a height not above the previous seal (an old seal replayed). */
export const StaleSealError = define('StaleSealError')
/** A seal covers a height the chain has not reached, or one beyond the seal window. */
export const SealRangeError = define('SealRangeError')
/** A seal's head CID is not the block at the height it claims. */
export const SealHeadMismatchError = define('SealHeadMismatchError')
/** A witness signature does not verify. */
export const WitnessSignatureError = define('WitnessSignatureError')
/** Witnesses are not strictly sorted by node id. */
export const WitnessOrderError = define('WitnessOrderError')
/** The same witness signs twice. */
export const DuplicateWitnessError = define('DuplicateWitnessError')
/** A seal lacks a majority of the voters at the height it covers. */
export const SealQuorumError = define('SealQuorumError')
/** A seal lacks a majority of the voters in force where the chain was last sealed or recovered (protocol level 8). */
export const SealHandoverError = define('SealHandoverError')
/** The chain raised its protocol level above what this build verifies (a newer build's rules). */
export const ChainLevelUnsupportedError = define('ChainLevelUnsupportedError')
/** The export's closing checkpoint does not cover its last block with a voter majority. */
export const CheckpointError = define('CheckpointError')
/** Two exports disagree at a height both hold (neither extends the other). */
export const ExportsDivergeError = define('ExportsDivergeError')

/** An export was asked to start above head + 1: there is no block there to start from (the operator's mistake). */
export class ExportFromBeyondHeadError extends Error {
  static override readonly name = 'ExportFromBeyondHeadError'
  constructor (readonly from: number, readonly height: number, readonly firstHeight: number) {
    super(`from=${from} is beyond the head: this node's chain ends at height ${height}; export from ${firstHeight} to ${height + 1}`)
    this.name = 'ExportFromBeyondHeadError'
  }
}

/**
 * An export asked of a node would be larger than a verifier reads (MAX_EXPORT_BYTES): refused before it is built,
 * naming the lowest height an export to the head can start from.
 */
export class ExportTooLargeError extends Error {
  static override readonly name = 'ExportTooLargeError'
  constructor (readonly from: number, readonly lowestFrom: number, readonly bytesMax: number) {
    super(`an export from ${from} would be larger than \`chain verify\` reads (${bytesMax} bytes, 1 GiB): export from ${lowestFrom} or above (--from ${lowestFrom})`)
    this.name = 'ExportTooLargeError'
  }
}

/**
 * An export is larger than the verifier reads (EXPORT_FILE_BYTES_MAX): a file, or the running node's answer
 * (`file` is then its URL, and `bytes` what it declared, or `atLeast` what was read when the read stopped).
 */
export class ExportFileTooLargeError extends Error {
  static override readonly name = 'ExportFileTooLargeError'
  constructor (readonly file: string, readonly bytes: number, readonly bytesMax: number, atLeast = false) {
    super(`${file} is ${atLeast ? 'at least ' : ''}${bytes} bytes; an export is read whole, at most ${bytesMax} bytes (1 GiB): export a shorter range (\`revoada chain export --from <height>\`)`)
    this.name = 'ExportFileTooLargeError'
  }
}

/**
 * The chain file closed after a disk error (a cut or a new segment the disk refused, docs/CHAIN.md §4): its
 * blocks cannot be read until the next start opens it again.
 */
export class ChainFileClosedError extends Error {
  static override readonly name = 'ChainFileClosedError'
  constructor (message = 'the chain file is closed: the node is stopping, or a disk error closed it (the node\'s log says which); its blocks can be read again after the next start') {
    super(message)
    this.name = 'ChainFileClosedError'
  }
}

/** The chain file on disk is damaged before its tail (a torn tail is truncated, not an error). */
export class ChainStoreCorruptError extends Error {
  static override readonly name = 'ChainStoreCorruptError'
  constructor (message = 'chain store is corrupt') {
    super(message)
    this.name = 'ChainStoreCorruptError'
  }
}
