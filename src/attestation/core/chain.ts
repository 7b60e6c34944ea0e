/**
 * @module attestation/core/chain
 * Derivation of the chain from the committed log (DESIGN.md §8): a pure, total function of the chain
 * state and one applied entry. Every node applies the same entries, so every node derives the same
 * bytes — the same head CID at the same height. Seals are judged here too, by the one function the
 * offline verifier also uses, so a node and a verifier cannot disagree about a seal.
 */
import { equalBytes } from '../../codec/index.js'
import { decodeSignedProposal, encodeSignedProposal, PROTOCOL_LEVEL_MIN, PROTOCOL_SEAL_HANDOVER } from '../../consensus/shape/core/index.js'
import type { Envelope, Outcome, SignedProposal } from '../../consensus/shape/core/index.js'
import { assert } from '../../util/assert.js'
import { cidBytesOf, decodeSealCommand, encodeBlock, genesisCid, witnessSubject } from './block.js'
import { MAX_BLOCK_BYTES, SEAL_WINDOW_HEIGHTS } from './constants.js'
import type { Block, BlockOutcome, ChainState, ProposalBlock, Seal, SealBlock, SignatureVerifier } from './types.js'

export function emptyChainState (clusterId: string): ChainState {
  return {
    clusterId, firstVoter: '', height: 0, head: new Uint8Array(), voters: [], sealedHeight: 0, lastProposalHeight: 0,
    recent: [], voterHistory: [{ height: 0, voters: [] }], protocol: PROTOCOL_LEVEL_MIN, handoverFloor: 0
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

/**
 * Where a seal's hand-over is anchored (protocol level 8): the last sealed height, or the floor above it — the
 * block that raised the chain to level 8, or the last quorum-recovery demote; block 1 before any of them.
 */
export function handoverHeight (state: ChainState): number {
  return Math.max(1, state.sealedHeight, state.handoverFloor)
}

/**
 * The voters a seal must also carry a majority of, from protocol level 8 on: those in force at the handover
 * height. Without them, a key that became a voter only in blocks no earlier voter majority has witnessed — any
 * member may propose its own promotion — could promote itself, demote the others and seal that alone, and an
 * export of it would verify against the pinned genesis (docs/CHAIN.md §9). Empty below level 8.
 */
export function handoverVoters (state: ChainState): string[] {
  return state.protocol >= PROTOCOL_SEAL_HANDOVER ? votersAt(state, handoverHeight(state)) : []
}

/**
 * Whether the next seal needs `nodeId`'s signature (level 8): it is a hand-over voter, and the other hand-over
 * voters still `live` are fewer than their majority. Taken out of the cluster before a seal covers its departure,
 * such a node could never sign again and the chain would never seal again (docs/CHAIN.md §4, "Taking a voter out").
 */
export function departureNeedsWitness (state: ChainState, nodeId: string, live: ReadonlySet<string>): boolean {
  const handover = handoverVoters(state)
  if (!handover.includes(nodeId)) return false
  return handover.filter((id) => id !== nodeId && live.has(id)).length < majorityOf(handover.length)
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
  // A malformed outcome keeps the raw bytes whatever this build decodes (a reason the level does not know yet,
  // apply.ts): the block every build derives from it.
  const signed = entry.outcome.kind === 'rejected' && entry.outcome.code === 'malformed' ? null : entry.decoded ?? decodeSignedProposal(entry.command)
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
  return advance(state, block, signed?.envelope ?? null)
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
  return advance(state, block, null)
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
  const judged = judgeWitnesses(state.clusterId, seal, votersAt(state, seal.height), verify)
  return judged.kind === 'applied' ? judgeHandover(state, seal) : judged
}

/** An export's closing checkpoint over the head: the witness rules with the head's voters, and the hand-over. */
export function judgeCheckpoint (state: ChainState, checkpoint: Seal, verify: SignatureVerifier): BlockOutcome {
  const judged = judgeWitnesses(state.clusterId, checkpoint, votersAt(state, state.height), verify)
  return judged.kind === 'applied' ? judgeHandover(state, checkpoint) : judged
}

/**
 * From protocol level 8: a majority of the hand-over voters (`handoverVoters`) among the witnesses, whose
 * signatures the caller has verified. Counted like the voters at the sealed height: each signer once.
 */
export function judgeHandover (state: ChainState, seal: Pick<Seal, 'witnesses'>): BlockOutcome {
  const voters = handoverVoters(state)
  if (voters.length === 0) return { kind: 'applied' }
  const counted = seal.witnesses.filter((w) => voters.includes(w.nodeId)).length
  const needed = majorityOf(voters.length)
  if (counted >= needed) return { kind: 'applied' }
  return {
    kind: 'rejected',
    code: 'seal-handover',
    message: `${counted} of the ${voters.length} voters in force at height ${handoverHeight(state)} signed; ${needed} needed`
  }
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
function advance (state: ChainState, block: Block, envelope: Envelope | null): DerivedBlock {
  assert(block.height === state.height + 1, 'blocks advance one height at a time')
  const bytes = encodeBlock(block)
  const cid = cidBytesOf(bytes)
  advanceState(state, block, cid, envelope)
  return { block, bytes, cid }
}

/**
 * Moves `state` past a block whose CID is `cid` (shared by derivation, verification and export). `envelope` is
 * the block's decoded envelope when the caller has it (null: none, or not a well-formed proposal); left out,
 * it is decoded here from the block when the block is an applied proposal.
 */
export function advanceState (state: ChainState, block: Block, cid: Uint8Array, envelope?: Envelope | null): void {
  state.height = block.height
  state.head = cid
  state.recent.push(cid)
  // Trimmed in batches: one splice per SEAL_WINDOW_HEIGHTS blocks instead of a shift per block.
  if (state.recent.length >= 2 * SEAL_WINDOW_HEIGHTS) state.recent.splice(0, state.recent.length - SEAL_WINDOW_HEIGHTS)
  if (block.kind === 'proposal') {
    state.lastProposalHeight = block.height
    const votersBefore = state.voters
    if (block.voters !== undefined) {
      state.voters = [...block.voters]
      state.voterHistory.push({ height: block.height, voters: [...block.voters] })
    }
    if (block.outcome.kind === 'applied') followEnvelope(state, block, envelope === undefined ? envelopeOf(block) : envelope, votersBefore)
  } else if (block.outcome.kind === 'applied') {
    state.sealedHeight = block.seal.height
  }
  pruneVoterHistory(state)
}

/** The envelope of a proposal block, or null when it records none that decodes. */
function envelopeOf (block: ProposalBlock): Envelope | null {
  if (block.envelope.length === 0 || (block.outcome.kind === 'rejected' && block.outcome.code === 'malformed')) return null
  return decodeSignedProposal(encodeSignedProposal(block.envelope, block.signature))?.envelope ?? null
}

/**
 * What an applied proposal changes in the chain's own rules: the protocol level, and the hand-over's floor —
 * the raise to level 8 (so that no seal reaches back to voters from before the rule, which a node restored from
 * an older build's snapshot may not hold: every replica judges alike), and each quorum recovery's demote.
 */
function followEnvelope (state: ChainState, block: ProposalBlock, envelope: Envelope | null, votersBefore: readonly string[]): void {
  if (envelope?.v !== 1) return
  const command = envelope.command
  if (command.kind === 'bootstrap' || command.kind === 'set-protocol') {
    const level = command.kind === 'bootstrap' ? command.protocol ?? PROTOCOL_LEVEL_MIN : command.level
    if (state.protocol < PROTOCOL_SEAL_HANDOVER && level >= PROTOCOL_SEAL_HANDOVER) state.handoverFloor = block.height
    state.protocol = level
  } else if (block.voters !== undefined && isRecoveryDemote(state, envelope, votersBefore)) {
    state.handoverFloor = block.height
  }
}

/**
 * A quorum recovery's demote (`revoada recover-quorum`, docs/OPERATIONS.md): from level 8, signed with reason
 * `quorum-recovery` by a voter, of another voter's etcd role. It re-anchors the hand-over at its height, since
 * the voters it demotes are lost for good and can sign nothing; an export shows each one (its report's
 * `recoveries`), as what it is: history after it rests on the voters the recovery left.
 */
function isRecoveryDemote (state: ChainState, envelope: Envelope & { v: 1 }, votersBefore: readonly string[]): boolean {
  const command = envelope.command
  return state.protocol >= PROTOCOL_SEAL_HANDOVER && envelope.reason === 'quorum-recovery' && command.kind === 'demote' &&
    command.roles.includes('etcd') && command.nodeId !== envelope.proposer && votersBefore.includes(envelope.proposer) &&
    votersBefore.includes(command.nodeId)
}

/**
 * Keeps the voter sets needed to judge a seal: those inside the window, plus the one in force at its start,
 * and from the one in force at the hand-over height on (a voter change no seal has covered yet stays, however
 * many blocks follow it unsealed: pruned, a forger could bury it under 1,024 blocks and seal alone).
 */
function pruneVoterHistory (state: ChainState): void {
  const keepFrom = Math.min(state.height - SEAL_WINDOW_HEIGHTS + 1, handoverHeight(state))
  while (state.voterHistory.length > 1 && state.voterHistory[1]!.height <= keepFrom) state.voterHistory.shift()
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
  if (state.voterHistory[0]!.height > Math.max(0, Math.min(state.height - SEAL_WINDOW_HEIGHTS + 1, handoverHeight(state)))) return 'voter history lost the hand-over voters'
  return null
}

export type { Block }
