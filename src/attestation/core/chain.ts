/**
 * @module attestation/core/chain
 * Derivation of the chain from the committed log (DESIGN.md §8): a pure, total function of the chain
 * state and one applied entry. Every node applies the same entries, so every node derives the same
 * bytes — the same head CID at the same height. Seals are judged here too, by the one function the
 * offline verifier also uses, so a node and a verifier cannot disagree about a seal.
 */
import { equalBytes } from '../../codec/index.js'
import { decodeSignedProposal } from '../../consensus/shape/core/index.js'
import type { Outcome, SignedProposal } from '../../consensus/shape/core/index.js'
import { assert } from '../../util/assert.js'
import { cidBytesOf, decodeSealCommand, encodeBlock, genesisCid, witnessSubject } from './block.js'
import { MAX_BLOCK_BYTES, SEAL_WINDOW_HEIGHTS } from './constants.js'
import type { Block, BlockOutcome, ChainState, ProposalBlock, Seal, SealBlock, SignatureVerifier } from './types.js'

export function emptyChainState (clusterId: string): ChainState {
  return {
    clusterId, firstVoter: '', height: 0, head: new Uint8Array(), voters: [], sealedHeight: 0, lastProposalHeight: 0,
    recent: [], voterHistory: [{ height: 0, voters: [] }]
  }
}

/** Strict majority of `n` voters. */
export function majorityOf (n: number): number {
  return Math.floor(n / 2) + 1
}

/** The CID bytes of the block at `height`, when it is within the window; null otherwise. */
export function cidAt (state: ChainState, height: number): Uint8Array | null {
  const offset = height - (state.height - state.recent.length + 1)
  // The window is exactly SEAL_WINDOW_HEIGHTS, however many CIDs `recent` holds between trims.
  if (height < 1 || height <= state.height - SEAL_WINDOW_HEIGHTS || offset < 0 || offset >= state.recent.length) return null
  return state.recent[offset] ?? null
}

/** The voter set in force at `height` (after the block at that height). */
export function votersAt (state: ChainState, height: number): string[] {
  let voters: string[] = []
  for (const entry of state.voterHistory) {
    if (entry.height > height) break
    voters = entry.voters
  }
  return voters
}

/** A derived block with its bytes and CID bytes. */
export interface DerivedBlock {
  block: Block
  bytes: Uint8Array
  cid: Uint8Array
}

/** What the node knows about one applied shape entry. */
export interface AppliedShapeEntry {
  index: number
  term: number
  timeMs: number
  /** The committed command bytes (a signed proposal, or anything the shape judged malformed). */
  command: Uint8Array
  outcome: Outcome
  /** CID bytes of the shape after the entry. */
  shape: Uint8Array
  /** Sorted voters (etcd holders) after the entry. */
  votersAfter: string[]
  /** `command` already decoded by the shape machine, when it was (saves a second decode). */
  decoded?: SignedProposal | null
  /** A batch envelope's per-command outcomes (ApplyResult.outcomes); absent for a v1 envelope. */
  outcomes?: Outcome[]
}

const sameVoters = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((id, i) => id === b[i])

/** The chain's anchor once block 1's proposer is known. */
function prevOf (state: ChainState, firstVoter: string): Uint8Array {
  return state.height === 0 ? genesisCid({ clusterId: state.clusterId, firstVoter }) : state.head
}

/** Derives the block of an applied shape entry and advances `state` (mutated) past it. */
export function appendProposalBlock (state: ChainState, entry: AppliedShapeEntry): DerivedBlock {
  const signed = entry.decoded ?? decodeSignedProposal(entry.command)
  const firstVoter = state.height === 0 && signed !== null && signed.envelope.v === 1 && signed.envelope.command.kind === 'bootstrap' && entry.outcome.kind === 'applied'
    ? signed.envelope.proposer
    : state.firstVoter
  // A malformed command is kept as it is when small enough to fit a block; its CID always is.
  const envelope = signed?.envelopeBytes ?? (entry.command.length <= MAX_BLOCK_BYTES / 2 ? entry.command : new Uint8Array())
  const block: ProposalBlock = {
    kind: 'proposal',
    clusterId: state.clusterId,
    height: state.height + 1,
    prev: prevOf(state, firstVoter),
    index: entry.index,
    term: entry.term,
    timeMs: entry.timeMs,
    outcome: toBlockOutcome(entry.outcome),
    proposal: signed !== null ? signed.cid.bytes : cidBytesOf(entry.command),
    proposer: signed?.envelope.proposer ?? '',
    signature: signed?.signature ?? new Uint8Array(),
    envelope,
    shape: entry.shape,
    ...(sameVoters(entry.votersAfter, state.voters) ? {} : { voters: [...entry.votersAfter] }),
    ...(entry.outcomes !== undefined ? { outcomes: entry.outcomes.map(toBlockOutcome) } : {})
  }
  state.firstVoter = firstVoter
  return advance(state, block)
}

/** Derives the block of a committed seal entry (judged here, applied or rejected) and advances `state`. */
export function appendSealBlock (state: ChainState, entry: { index: number, term: number, timeMs: number, command: Uint8Array }, verify: SignatureVerifier): DerivedBlock {
  const decoded = decodeSealCommand(entry.command)
  const seal: Seal = decoded?.seal ?? { height: 0, head: new Uint8Array(), witnesses: [] }
  let outcome: BlockOutcome
  if (decoded === null) outcome = { kind: 'rejected', code: 'malformed-seal', message: 'not a seal entry' }
  else if (decoded.clusterId !== state.clusterId) outcome = { kind: 'rejected', code: 'wrong-cluster', message: `seal for cluster ${decoded.clusterId}` }
  else outcome = judgeSeal(state, seal, verify)
  const block: SealBlock = {
    kind: 'seal',
    clusterId: state.clusterId,
    height: state.height + 1,
    prev: prevOf(state, state.firstVoter),
    index: entry.index,
    term: entry.term,
    timeMs: entry.timeMs,
    outcome,
    seal
  }
  return advance(state, block)
}

function toBlockOutcome (outcome: Outcome): BlockOutcome {
  return outcome.kind === 'applied' ? { kind: 'applied' } : { kind: 'rejected', code: outcome.code, message: outcome.message }
}

/**
 * Whether `seal` may be committed on top of `state`: above the last seal, within the window, naming the
 * right head, strictly sorted witnesses with valid signatures, and a majority of the voters at that
 * height among them. Learners' signatures must verify too but do not count.
 */
export function judgeSeal (state: ChainState, seal: Seal, verify: SignatureVerifier): BlockOutcome {
  const reject = (code: string, message: string): BlockOutcome => ({ kind: 'rejected', code, message })
  if (seal.height <= state.sealedHeight) return reject('stale-seal', `seal of height ${seal.height} is not above the last sealed height ${state.sealedHeight}`)
  if (seal.height > state.height) return reject('future-seal', `seal of height ${seal.height} is above the chain height ${state.height}`)
  const head = cidAt(state, seal.height)
  if (head === null) return reject('seal-out-of-window', `seal of height ${seal.height} is more than ${SEAL_WINDOW_HEIGHTS} heights old`)
  if (!equalBytes(head, seal.head)) return reject('head-mismatch', `seal names a head that is not the block at height ${seal.height}`)
  return judgeWitnesses(state.clusterId, seal, votersAt(state, seal.height), verify)
}

/** The witness part of a seal judgement (shared with export checkpoints). */
export function judgeWitnesses (clusterId: string, seal: Seal, voters: readonly string[], verify: SignatureVerifier): BlockOutcome {
  const reject = (code: string, message: string): BlockOutcome => ({ kind: 'rejected', code, message })
  const subject = witnessSubject(seal.height, seal.head)
  let counted = 0
  for (let i = 0; i < seal.witnesses.length; i++) {
    const witness = seal.witnesses[i]!
    const before = seal.witnesses[i - 1]
    if (before !== undefined && before.nodeId === witness.nodeId) return reject('duplicate-witness', `${witness.nodeId} signs twice`)
    if (before !== undefined && before.nodeId > witness.nodeId) return reject('unsorted-witnesses', 'witnesses are not sorted by node id')
    if (!verify({ nodeId: witness.nodeId, purpose: 'witness', clusterId, subject, signature: witness.signature })) {
      return reject('bad-witness-signature', `witness signature of ${witness.nodeId} does not verify`)
    }
    if (voters.includes(witness.nodeId)) counted++
  }
  const needed = majorityOf(voters.length)
  if (voters.length === 0 || counted < needed) return reject('seal-quorum', `${counted} of ${voters.length} voters signed; ${needed} needed`)
  return { kind: 'applied' }
}

/** Moves `state` past `block` (mutating it) and returns the block with its bytes and CID. */
function advance (state: ChainState, block: Block): DerivedBlock {
  assert(block.height === state.height + 1, 'blocks advance one height at a time')
  const bytes = encodeBlock(block)
  const cid = cidBytesOf(bytes)
  advanceState(state, block, cid)
  return { block, bytes, cid }
}

/** Moves `state` past a block whose CID is `cid` (shared by derivation and verification). */
export function advanceState (state: ChainState, block: Block, cid: Uint8Array): void {
  state.height = block.height
  state.head = cid
  state.recent.push(cid)
  // Trimmed in batches: one splice per SEAL_WINDOW_HEIGHTS blocks instead of a shift per block.
  if (state.recent.length >= 2 * SEAL_WINDOW_HEIGHTS) state.recent.splice(0, state.recent.length - SEAL_WINDOW_HEIGHTS)
  if (block.kind === 'proposal') {
    state.lastProposalHeight = block.height
    if (block.voters !== undefined) {
      state.voters = [...block.voters]
      state.voterHistory.push({ height: block.height, voters: [...block.voters] })
    }
  } else if (block.outcome.kind === 'applied') {
    state.sealedHeight = block.seal.height
  }
  pruneVoterHistory(state)
}

/** Keeps the voter sets needed to judge a seal inside the window (plus the one in force at its start). */
function pruneVoterHistory (state: ChainState): void {
  const windowStart = state.height - SEAL_WINDOW_HEIGHTS + 1
  while (state.voterHistory.length > 1 && state.voterHistory[1]!.height <= windowStart) state.voterHistory.shift()
}

/** Copies a state (the verifier and the snapshot keep their own). */
export function cloneChainState (state: ChainState): ChainState {
  return {
    ...state,
    voters: [...state.voters],
    recent: [...state.recent],
    voterHistory: state.voterHistory.map((e) => ({ height: e.height, voters: [...e.voters] }))
  }
}

/** Why the state breaks an invariant, or null (run by tests after every step). */
export function chainStateProblem (state: ChainState): string | null {
  if (state.recent.length >= 2 * SEAL_WINDOW_HEIGHTS) return 'recent window overflows'
  if (state.height > 0 && !equalBytes(state.recent[state.recent.length - 1] ?? new Uint8Array(), state.head)) return 'head is not the last recent CID'
  const last = state.voterHistory[state.voterHistory.length - 1]
  if (last === undefined || !sameVoters(last.voters, state.voters)) return 'voter history does not end with the voters'
  if (state.sealedHeight > state.height) return 'sealed above the head'
  return null
}

export type { Block }
