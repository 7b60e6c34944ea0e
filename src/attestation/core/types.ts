/**
 * @module attestation/core/types
 * The attestation chain's values (DESIGN.md §8, docs/CHAIN.md): the genesis a verifier pins, the two
 * block kinds (one per applied shape entry, one per committed seal entry), seals and witness
 * signatures, and the chain state the snapshot carries. CIDs are kept as their binary bytes.
 */

/** What an operator pins: the cluster and its first voter (whose NodeId embeds its ed25519 key). */
export interface Genesis {
  clusterId: string
  firstVoter: string
}

/** The outcome recorded in a block: applied, or committed as a typed rejection. */
export type BlockOutcome =
  | { kind: 'applied' }
  | { kind: 'rejected', code: string, message: string }

/** One witness signature over `revoada/v1/witness ‖ clusterId ‖ u64be(height) ‖ head CID`. */
export interface Witness {
  nodeId: string
  signature: Uint8Array
}

/** Witness signatures over one head: what a seal entry commits and an export's checkpoint carries. */
export interface Seal {
  height: number
  head: Uint8Array
  /** Strictly sorted by nodeId. Voters count toward the quorum; learners are kept, not counted. */
  witnesses: Witness[]
}

interface BlockCommon {
  clusterId: string
  /** 1 for the first block; each block is its predecessor's height + 1. */
  height: number
  /** CID bytes of the previous block (of the genesis record for height 1). */
  prev: Uint8Array
  /** Raft index and term of the committed entry this block derives from. */
  index: number
  term: number
  /** Leader wall-clock ms stamped on the entry (identical on every replica). */
  timeMs: number
  outcome: BlockOutcome
}

/** A block derived from an applied shape entry. */
export interface ProposalBlock extends BlockCommon {
  kind: 'proposal'
  /** CID bytes of the envelope (of the raw command when it is malformed). */
  proposal: Uint8Array
  /** '' when the command is malformed. */
  proposer: string
  /** The proposer's signature of the envelope CID ('proposal' purpose); empty when malformed. */
  signature: Uint8Array
  /** The signed envelope's canonical bytes (the raw command when malformed). */
  envelope: Uint8Array
  /** CID bytes of the MeshShape after this entry. */
  shape: Uint8Array
  /** The voters (etcd holders) after this entry, sorted; present only when they changed. */
  voters?: string[]
  /**
   * A batch envelope's entry only (block format v2, docs/CHAIN.md §2): each command's outcome, in the
   * envelope's order. `outcome` is then the envelope's own (applied when it was accepted).
   */
  outcomes?: BlockOutcome[]
}

/** A block derived from a committed seal entry. */
export interface SealBlock extends BlockCommon {
  kind: 'seal'
  seal: Seal
}

export type Block = ProposalBlock | SealBlock

/**
 * What the chain needs to derive the next block and judge a seal, carried by Raft snapshots.
 * Invariants: `recent.length < 2 * SEAL_WINDOW_HEIGHTS` (trimmed in batches), `recent` ends with `head` when height > 0,
 * `voterHistory` is sorted by height with its last entry equal to `voters`, and it holds the voters in force at
 * the handover height.
 */
export interface ChainState {
  clusterId: string
  /** '' until block 1 (the bootstrap) is derived. */
  firstVoter: string
  height: number
  /** CID bytes of the block at `height` (of the genesis at height 0, once known; empty before). */
  head: Uint8Array
  voters: string[]
  /** Highest height covered by an accepted seal (0 for none). */
  sealedHeight: number
  /** Height of the last proposal block (seals are not re-sealed on their own). */
  lastProposalHeight: number
  /** CID bytes of the last `recent.length` blocks, oldest first, ending at `height`. */
  recent: Uint8Array[]
  /**
   * Voter sets in force from `height` on, oldest first; pruned to the seal window and to the handover height
   * (`handoverHeight`), whichever is lower.
   */
  voterHistory: Array<{ height: number, voters: string[] }>
  /**
   * The cluster's protocol level as the chain follows it: an applied bootstrap's `protocol`, then each applied
   * `set-protocol` (1 before either). From PROTOCOL_SEAL_HANDOVER on, seals need the handover voters too.
   */
  protocol: number
  /**
   * The lowest height a seal's hand-over reaches back to (protocol level 8): the block that raised the chain to
   * level 8, or the last applied `quorum-recovery` demote; 0 before either.
   */
  handoverFloor: number
}

/** A verified signature check, injected so that the core stays free of node:crypto. */
export type SignatureVerifier = (check: {
  nodeId: string
  purpose: 'proposal' | 'witness'
  clusterId: string
  /** The part after the cluster id: the envelope CID, or `witnessSubject(height, head)`. */
  subject: Uint8Array
  signature: Uint8Array
}) => boolean
