/**
 * @module attestation/core/verify
 * Offline verification of an exported chain (DESIGN.md §8, docs/CHAIN.md §6) with nothing but the file
 * and the genesis: every link, height and Raft position, every proposer signature, every voter change,
 * every seal re-judged with the same function the nodes used (a majority of the voters *at the sealed
 * height*, derived from the chain itself), and the closing checkpoint. The first failure throws a
 * named ChainVerifyError carrying its height.
 */
import { equalBytes, CID } from '../../codec/index.js'
import { commandNodeIds, decodeSignedProposal, encodeSignedProposal, envelopeCommands, PROTOCOL_LEVEL } from '../../consensus/shape/core/index.js'
import {
  BrokenLinkError, ChainLevelUnsupportedError, ChainVerifyError, CheckpointError, DuplicateWitnessError, ExportsDivergeError, GenesisMismatchError,
  HeightGapError, MalformedBlockError, OutcomeMismatchError, ProposalMismatchError, ProposerSignatureError, RaftOrderError,
  SealHandoverError, SealHeadMismatchError, SealQuorumError, SealRangeError, StaleSealError, UnknownProposerError, VoterChangeError, WitnessOrderError,
  WitnessSignatureError, WrongClusterError
} from '../errors.js'
import { cidBytesOf, decodeBlock, genesisCid } from './block.js'
import { advanceState, cloneChainState, emptyChainState, judgeCheckpoint, judgeSeal, majorityOf } from './chain.js'
import type { ChainExport } from './export.js'
import type { Command, Envelope } from '../../consensus/shape/core/index.js'
import type { Block, BlockOutcome, ChainState, Genesis, ProposalBlock, SignatureVerifier } from './types.js'

export interface VerifyOptions {
  verify: SignatureVerifier
  /** Genesis fields the operator pins; the export's own genesis must match them. */
  pinned?: Partial<Genesis>
}

export interface VerifyReport {
  genesis: Genesis
  /** First verified height (1 unless the export starts from a base state). */
  fromHeight: number
  height: number
  head: string
  /** Highest height covered by a committed seal. */
  sealedHeight: number
  /** Height of a valid closing checkpoint, or 0. */
  checkpointHeight: number
  blocks: number
  seals: number
  /** Voters at the head. */
  voters: string[]
  /**
   * Whether each proposer and each new voter was checked to be a member where it acts (members followed from
   * block 1's bootstrap through every applied `add-member` / `remove-member`). False for an export that starts
   * from a base state, which carries the voters but not the members.
   */
  membersChecked: boolean
  /** The protocol level at the head, as the chain raised it (1 until a bootstrap or `set-protocol` set it). */
  protocol: number
  /**
   * Each quorum recovery's demote (protocol level 8): a voter that demoted another as lost for good. The
   * hand-over re-anchors there, so history after it rests on the voters the recovery left (docs/CHAIN.md §9).
   */
  recoveries: Array<{ height: number, proposer: string, demoted: string }>
  /** CID strings per height, for consistency checks between exports. */
  cids: string[]
}

const SEAL_ERRORS: Record<string, new (height: number, message: string) => ChainVerifyError> = {
  'stale-seal': StaleSealError,
  'future-seal': SealRangeError,
  'seal-out-of-window': SealRangeError,
  'head-mismatch': SealHeadMismatchError,
  'duplicate-witness': DuplicateWitnessError,
  'unsorted-witnesses': WitnessOrderError,
  'bad-witness-signature': WitnessSignatureError,
  'seal-quorum': SealQuorumError,
  'seal-handover': SealHandoverError,
  'wrong-cluster': WrongClusterError
}

const cidString = (bytes: Uint8Array): string => {
  try {
    return CID.decode(bytes).toString()
  } catch {
    return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
  }
}

/** Verifies `exp`; returns a report or throws the first failure. */
export function verifyChain (exp: ChainExport, options: VerifyOptions): VerifyReport {
  const { genesis } = exp
  checkPinned(genesis, options.pinned)
  const state = startState(exp)
  const fromHeight = state.height + 1
  const members: Set<string> | null = exp.base === undefined ? new Set() : null
  const cids: string[] = []
  let lastIndex = -1
  let lastTerm = 0
  let seals = 0
  const recoveries: VerifyReport['recoveries'] = []
  for (const bytes of exp.blocks) {
    const height = state.height + 1
    const block = decodeBlock(bytes)
    if (block === null) throw new MalformedBlockError(height, 'not a canonical, well-formed block')
    checkPosition(state, block, genesis)
    if (block.index <= lastIndex || block.term < lastTerm) {
      throw new RaftOrderError(height, `raft position ${block.index}/${block.term} after ${lastIndex}/${lastTerm}`)
    }
    lastIndex = block.index
    lastTerm = block.term
    let envelope: Envelope | null = null
    if (block.kind === 'proposal') {
      envelope = checkProposal(state, block, genesis, options.verify, members)
    } else {
      checkSeal(state, block, options.verify)
      if (block.outcome.kind === 'applied') seals++
    }
    const floorBefore = state.handoverFloor
    advanceState(state, block, cidBytesOf(bytes), envelope)
    if (state.protocol > PROTOCOL_LEVEL) {
      throw new ChainLevelUnsupportedError(height, `the chain raised its protocol level to ${state.protocol}; this build verifies up to ${PROTOCOL_LEVEL}: verify with a newer build`)
    }
    if (state.handoverFloor !== floorBefore && envelope?.v === 1 && envelope.command.kind === 'demote') {
      recoveries.push({ height, proposer: envelope.proposer, demoted: envelope.command.nodeId })
    }
    cids.push(cidString(state.head))
  }
  const checkpointHeight = checkCheckpoint(state, exp, options.verify)
  return {
    genesis, fromHeight, height: state.height, head: state.height > 0 ? cidString(state.head) : '', sealedHeight: state.sealedHeight,
    checkpointHeight, blocks: exp.blocks.length, seals, voters: state.voters, membersChecked: members !== null, protocol: state.protocol,
    recoveries, cids
  }
}

function checkPinned (genesis: Genesis, pinned: Partial<Genesis> | undefined): void {
  if (pinned?.clusterId !== undefined && pinned.clusterId !== genesis.clusterId) {
    throw new GenesisMismatchError(0, `export is for cluster ${genesis.clusterId}, pinned ${pinned.clusterId}`)
  }
  if (pinned?.firstVoter !== undefined && pinned.firstVoter !== genesis.firstVoter) {
    throw new GenesisMismatchError(0, `export's first voter is ${genesis.firstVoter}, pinned ${pinned.firstVoter}`)
  }
}

function startState (exp: ChainExport): ChainState {
  if (exp.base === undefined) {
    const state = emptyChainState(exp.genesis.clusterId)
    state.firstVoter = exp.genesis.firstVoter
    state.head = genesisCid(exp.genesis)
    return state
  }
  // NB: a base skips the member checks (it carries no members). At height 0 it stands for the genesis, which
  // needs none: an export from height 1 is a full one (the nodes never attach a base to it, reader.ts).
  if (exp.base.height === 0) throw new MalformedBlockError(0, 'the base state is at height 0: an export from height 1 carries no base')
  if (exp.base.clusterId !== exp.genesis.clusterId || exp.base.firstVoter !== exp.genesis.firstVoter) {
    throw new GenesisMismatchError(exp.base.height, 'the base state belongs to another genesis')
  }
  return cloneChainState(exp.base)
}

function checkPosition (state: ChainState, block: Block, genesis: Genesis): void {
  const height = state.height + 1
  if (block.clusterId !== genesis.clusterId) throw new WrongClusterError(height, `block names cluster ${block.clusterId}`)
  if (block.height !== height) throw new HeightGapError(height, `block says height ${block.height}`)
  if (!equalBytes(block.prev, state.head)) throw new BrokenLinkError(height, 'prev is not the CID of the block before')
}

/**
 * Follows the shape's members through an accepted proposal block: its applied `bootstrap` and `add-member`
 * commands add one, its applied `remove-member` commands remove one (the only commands that change them).
 */
function followMembers (members: Set<string>, block: ProposalBlock, envelope: Envelope): void {
  const commands: Command[] = envelope.v === 1 ? [envelope.command] : envelopeCommands(envelope).map((c) => c.command)
  const outcomes = envelope.v === 1 ? [block.outcome] : block.outcomes ?? []
  commands.forEach((command, i) => {
    if (outcomes[i]?.kind !== 'applied') return
    if (command.kind === 'bootstrap' || command.kind === 'add-member') members.add(command.nodeId)
    else if (command.kind === 'remove-member') members.delete(command.nodeId)
  })
}

/**
 * The shape refuses an envelope whose proposer is no member (after a wrong cluster and a bad signature, before
 * anything else) as `unknown-proposer`. Offline the members are followed from block 1 (`followMembers`): a
 * block signed by a node that was no member there and recorded as anything else would let any key extend a
 * real chain with its own voter changes and seal them alone (docs/CHAIN.md §9).
 */
function checkProposer (members: ReadonlySet<string> | null, block: ProposalBlock, height: number): void {
  const code = block.outcome.kind === 'rejected' ? block.outcome.code : ''
  if (members === null || height === 1 || code === 'wrong-cluster' || code === 'bad-signature') return
  const member = members.has(block.proposer)
  if (!member && code !== 'unknown-proposer') throw new UnknownProposerError(height, `${block.proposer} was no member there, and its proposal is recorded as judged`)
  if (member && code === 'unknown-proposer') throw new UnknownProposerError(height, `${block.proposer} was a member there, and its proposal is recorded as an unknown proposer's`)
}

/** Checks a proposal block; returns its envelope (null for a malformed one, which records none). */
function checkProposal (state: ChainState, block: ProposalBlock, genesis: Genesis, verify: SignatureVerifier, members: Set<string> | null): Envelope | null {
  const { height, outcome } = block
  const code = outcome.kind === 'rejected' ? outcome.code : ''
  if (block.envelope.length > 0 && !equalBytes(cidBytesOf(block.envelope), block.proposal)) {
    throw new ProposalMismatchError(height, 'the envelope does not hash to the proposal CID')
  }
  if (code === 'malformed') {
    // NB: block 1 is the first voter's applied bootstrap whatever it records; a malformed one has no signature to
    // check, and without this a forger's own bootstrap at block 2 made it a voter under the pinned genesis.
    if (state.height === 0) throw new GenesisMismatchError(height, 'block 1 is not the first voter\'s applied bootstrap')
    if (block.voters !== undefined) throw new VoterChangeError(height, 'a malformed command changed the voters')
    if (block.outcomes !== undefined) throw new OutcomeMismatchError(height, 'a malformed command lists command outcomes')
    return null
  }
  const signed = decodeSignedProposal(encodeSignedProposal(block.envelope, block.signature))
  if (signed === null) throw new ProposalMismatchError(height, 'the envelope is not a well-formed proposal')
  if (signed.envelope.proposer !== block.proposer) throw new ProposalMismatchError(height, 'the proposer is not the envelope\'s')
  if (code !== 'wrong-cluster') {
    const valid = verify({ nodeId: block.proposer, purpose: 'proposal', clusterId: genesis.clusterId, subject: block.proposal, signature: block.signature })
    if (valid !== (code !== 'bad-signature')) {
      throw new ProposerSignatureError(height, valid ? 'a valid signature is recorded as bad' : `signature of ${block.proposer} does not verify`)
    }
  }
  const envelope = signed.envelope
  checkProposer(members, block, height)
  checkEnvelope(state, block, genesis, envelope, members)
  if (members !== null) followMembers(members, block, envelope)
  return envelope
}

/** The outcomes and the voter change of a proposal block whose envelope decoded and whose proposer was judged. */
function checkEnvelope (state: ChainState, block: ProposalBlock, genesis: Genesis, envelope: Envelope, members: ReadonlySet<string> | null): void {
  const { height, outcome } = block
  if (envelope.v === 2) return checkBatchOutcomes(block, envelope.commands.length)
  // A leader's batch with forwarded requests (issue 16): one outcome per command over all its groups.
  if (envelope.v === 3) return checkBatchOutcomes(block, envelopeCommands(envelope).length)
  if (block.outcomes !== undefined) throw new OutcomeMismatchError(height, 'a single-command block lists command outcomes')
  const command = envelope.command
  if (height === 1 || state.height === 0) {
    const bootstrap = command.kind === 'bootstrap' && command.nodeId === genesis.firstVoter && block.proposer === genesis.firstVoter
    if (!bootstrap || outcome.kind !== 'applied' || block.voters?.join(',') !== genesis.firstVoter) {
      throw new GenesisMismatchError(height, 'block 1 is not the first voter\'s applied bootstrap')
    }
    return
  }
  if (block.voters === undefined) return
  const before = new Set(state.voters)
  // One voter per command, or every new voter of a joined etcd promotion (`promote … with`, issue 16), and the
  // voter it replaces (`promote … replacing`).
  const targets = commandNodeIds(command).filter((id) => command.kind !== 'promote' || !before.has(id) || id === command.replacing).sort()
  const after = new Set(block.voters)
  const changed = [...before].filter((id) => !after.has(id)).concat([...after].filter((id) => !before.has(id))).sort()
  const sorted = block.voters.every((id, i) => i === 0 || block.voters![i - 1]! < id)
  if (outcome.kind !== 'applied' || !sorted || after.size === 0 || changed.length === 0 || changed.join(',') !== targets.join(',')) {
    throw new VoterChangeError(height, `voters [${state.voters.join(',')}] → [${block.voters.join(',')}] by ${command.kind}`)
  }
  // The shape promotes members only (`unknown-node`).
  const stranger = members === null ? undefined : [...after].find((id) => !before.has(id) && !members.has(id))
  if (stranger !== undefined) throw new VoterChangeError(height, `${stranger} becomes a voter without being a member`)
}

/**
 * A batch envelope's block (v2): one outcome per command; an envelope refused as a whole (cluster,
 * signature, proposer) refuses each command the same way; a batch never moves the voters (its commands
 * never travel in a configuration change) and is never block 1.
 */
function checkBatchOutcomes (block: ProposalBlock, commands: number): void {
  const { height, outcome } = block
  if (height === 1) throw new GenesisMismatchError(height, 'block 1 is not the first voter\'s applied bootstrap')
  const outcomes = block.outcomes
  if (outcomes === undefined || outcomes.length !== commands) {
    throw new OutcomeMismatchError(height, `a batch of ${commands} commands lists ${outcomes?.length ?? 0} outcomes`)
  }
  if (outcome.kind === 'rejected' && !outcomes.every((o) => o.kind === 'rejected' && o.code === outcome.code && o.message === outcome.message)) {
    throw new OutcomeMismatchError(height, `the batch is rejected (${outcome.code}) but not each of its commands`)
  }
  if (block.voters !== undefined) throw new VoterChangeError(height, 'a batch envelope changed the voters')
}

function checkSeal (state: ChainState, block: Block & { kind: 'seal' }, verify: SignatureVerifier): void {
  const recorded = block.outcome
  // Neither can be judged again from the block, which keeps neither the entry's bytes nor the cluster it named;
  // both leave the state as it was, so a forger gains nothing by claiming one.
  if (recorded.kind === 'rejected' && (recorded.code === 'malformed-seal' || recorded.code === 'wrong-cluster')) return
  const judged: BlockOutcome = judgeSeal(state, block.seal, verify)
  if (recorded.kind === 'applied' && judged.kind === 'rejected') {
    const ErrorClass = SEAL_ERRORS[judged.code] ?? OutcomeMismatchError
    throw new ErrorClass(block.height, judged.message)
  }
  if (recorded.kind !== judged.kind || (recorded.kind === 'rejected' && judged.kind === 'rejected' && recorded.code !== judged.code)) {
    throw new OutcomeMismatchError(block.height, `seal recorded ${recorded.kind === 'applied' ? 'applied' : recorded.code}, the chain implies ${judged.kind === 'applied' ? 'applied' : judged.code}`)
  }
}

function checkCheckpoint (state: ChainState, exp: ChainExport, verify: SignatureVerifier): number {
  const checkpoint = exp.checkpoint
  if (checkpoint === undefined) return 0
  if (checkpoint.height !== state.height || !equalBytes(checkpoint.head, state.head)) {
    throw new CheckpointError(state.height, `checkpoint covers height ${checkpoint.height}, not the last block`)
  }
  const judged = judgeCheckpoint(state, checkpoint, verify)
  if (judged.kind === 'rejected') throw new CheckpointError(state.height, `${judged.code}: ${judged.message}`)
  return checkpoint.height
}

/**
 * Checks that two verified exports agree wherever both hold a height (so the longer extends the
 * shorter). Returns which one is longer.
 */
export function checkConsistency (a: VerifyReport, b: VerifyReport): 'equal' | 'first-extends' | 'second-extends' {
  if (a.genesis.clusterId !== b.genesis.clusterId || a.genesis.firstVoter !== b.genesis.firstVoter) {
    throw new ExportsDivergeError(0, 'the exports have different genesis records')
  }
  const from = Math.max(a.fromHeight, b.fromHeight)
  const to = Math.min(a.height, b.height)
  for (let h = from; h <= to; h++) {
    if (a.cids[h - a.fromHeight] !== b.cids[h - b.fromHeight]) throw new ExportsDivergeError(h, 'the exports hold different blocks')
  }
  if (from > to + 1) throw new ExportsDivergeError(to, 'the exports do not overlap')
  return a.height === b.height ? 'equal' : a.height > b.height ? 'first-extends' : 'second-extends'
}

export { majorityOf }
