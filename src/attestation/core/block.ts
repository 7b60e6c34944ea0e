/**
 * @module attestation/core/block
 * The byte format of the chain (docs/CHAIN.md §2): deterministic CBOR maps with fixed keys, CIDs as
 * their binary bytes, block CIDs CIDv1 dag-cbor BLAKE3-256 of the block's bytes. Decoding is strict:
 * unknown or missing keys, wrong types and non-canonical bytes are `null`, never a partial value.
 */
import { blake3, decodeCanonical, encodeCanonical, CanonicalWriter, BLAKE3_DIGEST_BYTES, BLAKE3_MULTIHASH_CODE, DAG_CBOR_CODE } from '../../codec/index.js'
import { CHAIN_BATCH_BLOCK_VERSION, CHAIN_FORMAT_VERSION, MAX_BLOCK_BYTES, MAX_OUTCOMES_PER_BLOCK, MAX_WITNESSES_PER_SEAL } from './constants.js'
import type { Block, BlockOutcome, Genesis, Seal, Witness } from './types.js'

type Rec = Record<string, unknown>
const isRecord = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isId = (v: unknown): v is string => typeof v === 'string' && v.length <= 128
const hasKeys = (v: Rec, keys: readonly string[]): boolean => {
  const own = Object.keys(v)
  return own.length === keys.length && keys.every((k) => Object.hasOwn(v, k))
}

// CIDv1 ‖ dag-cbor ‖ BLAKE3 multihash ‖ 32-byte length: the 4-byte prefix of every CID in the chain.
const CID_PREFIX = [0x01, DAG_CBOR_CODE, BLAKE3_MULTIHASH_CODE, BLAKE3_DIGEST_BYTES]

/** The CID bytes of an encoded value (dag-cbor, BLAKE3): what `cidOfBytesWithCodec(bytes, 0x71).bytes` gives. */
export function cidBytesOf (bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(CID_PREFIX.length + BLAKE3_DIGEST_BYTES)
  out.set(CID_PREFIX)
  out.set(blake3(bytes), CID_PREFIX.length)
  return out
}

export function encodeGenesis (genesis: Genesis): Uint8Array {
  return encodeCanonical({ v: CHAIN_FORMAT_VERSION, kind: 'genesis', cluster: genesis.clusterId, firstVoter: genesis.firstVoter })
}

/** The `prev` of block 1. */
export function genesisCid (genesis: Genesis): Uint8Array {
  return cidBytesOf(encodeGenesis(genesis))
}

function outcomeToData (outcome: BlockOutcome): Rec {
  return outcome.kind === 'applied' ? { kind: 'applied' } : { kind: 'rejected', code: outcome.code, message: outcome.message }
}

function outcomeFromData (v: unknown): BlockOutcome | null {
  if (!isRecord(v)) return null
  if (v.kind === 'applied' && hasKeys(v, ['kind'])) return { kind: 'applied' }
  if (v.kind !== 'rejected' || !hasKeys(v, ['kind', 'code', 'message'])) return null
  return typeof v.code === 'string' && typeof v.message === 'string' ? { kind: 'rejected', code: v.code, message: v.message } : null
}

export function sealToData (seal: Seal): Rec {
  return { height: seal.height, head: seal.head, witnesses: seal.witnesses.map((w) => [w.nodeId, w.signature]) }
}

export function sealFromData (v: unknown): Seal | null {
  if (!isRecord(v) || !hasKeys(v, ['height', 'head', 'witnesses'])) return null
  if (!isCount(v.height) || !(v.head instanceof Uint8Array) || !Array.isArray(v.witnesses)) return null
  if (v.witnesses.length > MAX_WITNESSES_PER_SEAL) return null
  const witnesses: Witness[] = []
  for (const w of v.witnesses as unknown[]) {
    if (!Array.isArray(w) || w.length !== 2 || !isId(w[0]) || !(w[1] instanceof Uint8Array)) return null
    witnesses.push({ nodeId: w[0], signature: w[1] })
  }
  return { height: v.height, head: v.head, witnesses }
}

const scratch = new CanonicalWriter()

/**
 * The canonical bytes of a block, written in the canonical key order directly (one block per committed
 * entry; equal to `encodeCanonical` of the same map, which test/attestation/block.test.ts checks).
 */
export function encodeBlock (block: Block): Uint8Array {
  const w = scratch
  w.length = 0
  const proposal = block.kind === 'proposal' ? block : null
  const outcomes = proposal?.outcomes
  // Canonical order: shorter keys first, then bytewise.
  w.head(5, proposal === null ? 10 : 14 + (proposal.voters !== undefined ? 1 : 0) + (outcomes !== undefined ? 1 : 0))
  w.key('v'); w.value(outcomes !== undefined ? CHAIN_BATCH_BLOCK_VERSION : CHAIN_FORMAT_VERSION)
  if (proposal !== null) { w.key('sig'); w.byteString(proposal.signature) }
  w.key('kind'); w.text(block.kind)
  w.key('prev'); w.byteString(block.prev)
  if (block.kind === 'seal') { w.key('seal'); w.value(sealToData(block.seal)) }
  w.key('term'); w.value(block.term)
  w.key('time'); w.value(block.timeMs)
  w.key('index'); w.value(block.index)
  if (proposal !== null) { w.key('shape'); w.byteString(proposal.shape) }
  w.key('height'); w.value(block.height)
  if (proposal?.voters !== undefined) { w.key('voters'); w.value(proposal.voters) }
  w.key('cluster'); w.text(block.clusterId)
  w.key('outcome'); w.value(outcomeToData(block.outcome))
  if (proposal !== null) {
    w.key('envelope'); w.byteString(proposal.envelope)
    if (outcomes !== undefined) { w.key('outcomes'); w.value(outcomes.map(outcomeToData)) }
    w.key('proposal'); w.byteString(proposal.proposal)
    w.key('proposer'); w.text(proposal.proposer)
  }
  return w.bytes()
}

/** The same bytes through the general encoder (the reference the direct writer is tested against). */
export function encodeBlockReference (block: Block): Uint8Array {
  const common = {
    v: block.kind === 'proposal' && block.outcomes !== undefined ? CHAIN_BATCH_BLOCK_VERSION : CHAIN_FORMAT_VERSION, kind: block.kind, cluster: block.clusterId, height: block.height, prev: block.prev,
    index: block.index, term: block.term, time: block.timeMs, outcome: outcomeToData(block.outcome)
  }
  if (block.kind === 'seal') return encodeCanonical({ ...common, seal: sealToData(block.seal) })
  return encodeCanonical({
    ...common, proposal: block.proposal, proposer: block.proposer, sig: block.signature, envelope: block.envelope, shape: block.shape,
    ...(block.voters !== undefined ? { voters: block.voters } : {}),
    ...(block.outcomes !== undefined ? { outcomes: block.outcomes.map(outcomeToData) } : {})
  })
}

const COMMON_KEYS = ['v', 'kind', 'cluster', 'height', 'prev', 'index', 'term', 'time', 'outcome'] as const
const PROPOSAL_KEYS = [...COMMON_KEYS, 'proposal', 'proposer', 'sig', 'envelope', 'shape'] as const

/** Decodes a block; null when the bytes are not exactly one canonical, well-formed block. */
export function decodeBlock (bytes: Uint8Array): Block | null {
  if (bytes.length > MAX_BLOCK_BYTES) return null
  let v: unknown
  try {
    v = decodeCanonical<unknown>(bytes)
  } catch {
    return null
  }
  if (!isRecord(v) || (v.v !== CHAIN_FORMAT_VERSION && v.v !== CHAIN_BATCH_BLOCK_VERSION) || typeof v.cluster !== 'string') return null
  if (!isCount(v.height) || v.height < 1 || !(v.prev instanceof Uint8Array)) return null
  if (!isCount(v.index) || !isCount(v.term) || !isCount(v.time)) return null
  const outcome = outcomeFromData(v.outcome)
  if (outcome === null) return null
  const common = { clusterId: v.cluster, height: v.height, prev: v.prev, index: v.index, term: v.term, timeMs: v.time, outcome }
  if (v.kind === 'seal') {
    if (v.v !== CHAIN_FORMAT_VERSION) return null
    const seal = hasKeys(v, [...COMMON_KEYS, 'seal']) ? sealFromData(v.seal) : null
    return seal === null ? null : { kind: 'seal', ...common, seal }
  }
  if (v.kind !== 'proposal') return null
  const withVoters = Object.hasOwn(v, 'voters')
  // v2 is exactly a v1 proposal block plus `outcomes` (a batch envelope's entry).
  const batch = v.v === CHAIN_BATCH_BLOCK_VERSION
  if (!hasKeys(v, [...PROPOSAL_KEYS, ...(withVoters ? ['voters'] : []), ...(batch ? ['outcomes'] : [])])) return null
  const outcomes = batch ? outcomesFromData(v.outcomes) : undefined
  if (outcomes === null) return null
  if (!(v.proposal instanceof Uint8Array) || !isId(v.proposer) || !(v.sig instanceof Uint8Array)) return null
  if (!(v.envelope instanceof Uint8Array) || !(v.shape instanceof Uint8Array)) return null
  let voters: string[] | undefined
  if (withVoters) {
    if (!Array.isArray(v.voters) || !v.voters.every(isId)) return null
    voters = v.voters as string[]
  }
  return {
    kind: 'proposal', ...common, proposal: v.proposal, proposer: v.proposer, signature: v.sig, envelope: v.envelope, shape: v.shape,
    ...(voters !== undefined ? { voters } : {}),
    ...(outcomes !== undefined ? { outcomes } : {})
  }
}

/** A batch block's outcome list: 1 to MAX_OUTCOMES_PER_BLOCK well-formed outcomes, else null. */
function outcomesFromData (v: unknown): BlockOutcome[] | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_OUTCOMES_PER_BLOCK) return null
  const outcomes: BlockOutcome[] = []
  for (const item of v as unknown[]) {
    const outcome = outcomeFromData(item)
    if (outcome === null) return null
    outcomes.push(outcome)
  }
  return outcomes
}

/** The bytes of a seal entry (the committed command the leader proposes): `{seal: {v, cluster, …}}`. */
export function encodeSealCommand (clusterId: string, seal: Seal): Uint8Array {
  return encodeCanonical({ seal: { v: CHAIN_FORMAT_VERSION, cluster: clusterId, ...sealToData(seal) } })
}

// Canonical CBOR of a 1-key map whose key is "seal": a1 64 73 65 61 6c.
const SEAL_PREFIX = [0xa1, 0x64, 0x73, 0x65, 0x61, 0x6c]

/** True when `bytes` are meant as a seal entry (a cheap prefix test; decoding still validates). */
export function isSealCommand (bytes: Uint8Array): boolean {
  if (bytes.length < SEAL_PREFIX.length) return false
  return SEAL_PREFIX.every((b, i) => bytes[i] === b)
}

/** Decodes a seal entry; null when malformed. */
export function decodeSealCommand (bytes: Uint8Array): { clusterId: string, seal: Seal } | null {
  if (bytes.length > MAX_BLOCK_BYTES) return null
  try {
    const outer = decodeCanonical<unknown>(bytes)
    if (!isRecord(outer) || !hasKeys(outer, ['seal']) || !isRecord(outer.seal)) return null
    const { v, cluster, ...rest } = outer.seal
    if (v !== CHAIN_FORMAT_VERSION || typeof cluster !== 'string') return null
    const seal = sealFromData(rest)
    return seal === null ? null : { clusterId: cluster, seal }
  } catch {
    return null
  }
}

/** The 8-byte big-endian height followed by the head CID: the `cid` part of a witness signing message. */
export function witnessSubject (height: number, head: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + head.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(height))
  out.set(head, 8)
  return out
}
