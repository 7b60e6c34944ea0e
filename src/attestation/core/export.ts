/**
 * @module attestation/core/export
 * The chain state as bytes (carried inside Raft snapshots) and the export file format
 * (docs/CHAIN.md §5): `{v, kind: "chain-export", genesis, base?, blocks, checkpoint?}` in deterministic
 * CBOR. `base` is the chain state just before the first exported block when the export does not start
 * at height 1; `checkpoint` is a majority of witness signatures over the last exported block.
 */
import { decodeCanonical, encodeCanonical } from '../../codec/index.js'
import { parseProtocolLevel, PROTOCOL_LEVEL_MIN } from '../../consensus/shape/core/index.js'
import { CHAIN_FORMAT_VERSION, MAX_EXPORT_BYTES, SEAL_WINDOW_HEIGHTS } from './constants.js'
import { sealFromData, sealToData } from './block.js'
import type { ChainState, Genesis, Seal } from './types.js'

type Rec = Record<string, unknown>
const isRecord = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.every((id) => typeof id === 'string')

export function chainStateToData (state: ChainState): Rec {
  return {
    cluster: state.clusterId,
    firstVoter: state.firstVoter,
    height: state.height,
    head: state.head,
    voters: state.voters,
    sealedHeight: state.sealedHeight,
    lastProposalHeight: state.lastProposalHeight,
    recent: state.recent,
    voterHistory: state.voterHistory.map((e) => [e.height, e.voters]),
    // Only when set, so a state that never met level 8 has the bytes it had before it.
    ...(state.protocol > PROTOCOL_LEVEL_MIN ? { protocol: state.protocol } : {}),
    ...(state.handoverFloor > 0 ? { handoverFloor: state.handoverFloor } : {})
  }
}

/** Decodes a chain state; null when malformed. */
export function chainStateFromData (v: unknown): ChainState | null {
  if (!isRecord(v) || typeof v.cluster !== 'string' || typeof v.firstVoter !== 'string') return null
  if (!isCount(v.height) || !(v.head instanceof Uint8Array) || !isIds(v.voters)) return null
  if (!isCount(v.sealedHeight) || !isCount(v.lastProposalHeight)) return null
  if (!Array.isArray(v.recent) || v.recent.length >= 2 * SEAL_WINDOW_HEIGHTS || !v.recent.every((c) => c instanceof Uint8Array)) return null
  if (!Array.isArray(v.voterHistory) || v.voterHistory.length === 0) return null
  const voterHistory: ChainState['voterHistory'] = []
  for (const e of v.voterHistory as unknown[]) {
    if (!Array.isArray(e) || e.length !== 2 || !isCount(e[0]) || !isIds(e[1])) return null
    voterHistory.push({ height: e[0], voters: e[1] })
  }
  const protocol = v.protocol === undefined ? PROTOCOL_LEVEL_MIN : parseProtocolLevel(v.protocol)
  const handoverFloor = v.handoverFloor === undefined ? 0 : v.handoverFloor
  if (protocol === null || !isCount(handoverFloor) || handoverFloor > v.height) return null
  return {
    clusterId: v.cluster, firstVoter: v.firstVoter, height: v.height, head: v.head, voters: v.voters,
    sealedHeight: v.sealedHeight, lastProposalHeight: v.lastProposalHeight, recent: v.recent as Uint8Array[], voterHistory,
    protocol, handoverFloor
  }
}

/** An exported chain: the genesis, blocks from `base.height + 1` (or 1), and an optional checkpoint. */
export interface ChainExport {
  genesis: Genesis
  /** The state before the first block when the export starts above height 1 (trusted, not verified). */
  base?: ChainState
  blocks: Uint8Array[]
  checkpoint?: Seal
}

export function encodeChainExport (exp: ChainExport): Uint8Array {
  return encodeCanonical({
    v: CHAIN_FORMAT_VERSION,
    kind: 'chain-export',
    genesis: { cluster: exp.genesis.clusterId, firstVoter: exp.genesis.firstVoter },
    blocks: exp.blocks,
    ...(exp.base !== undefined ? { base: chainStateToData(exp.base) } : {}),
    ...(exp.checkpoint !== undefined ? { checkpoint: sealToData(exp.checkpoint) } : {})
  })
}

/** Decodes an export file; null when it is not one. */
export function decodeChainExport (bytes: Uint8Array): ChainExport | null {
  if (bytes.length > MAX_EXPORT_BYTES) return null
  let v: unknown
  try {
    v = decodeCanonical<unknown>(bytes)
  } catch {
    return null
  }
  if (!isRecord(v) || v.v !== CHAIN_FORMAT_VERSION || v.kind !== 'chain-export' || !isRecord(v.genesis)) return null
  const allowed = new Set(['v', 'kind', 'genesis', 'blocks', 'base', 'checkpoint'])
  if (Object.keys(v).some((k) => !allowed.has(k))) return null
  const { cluster, firstVoter } = v.genesis
  if (typeof cluster !== 'string' || typeof firstVoter !== 'string' || Object.keys(v.genesis).length !== 2) return null
  if (!Array.isArray(v.blocks) || !v.blocks.every((b) => b instanceof Uint8Array)) return null
  const base = Object.hasOwn(v, 'base') ? chainStateFromData(v.base) : undefined
  const checkpoint = Object.hasOwn(v, 'checkpoint') ? sealFromData(v.checkpoint) : undefined
  if (base === null || checkpoint === null) return null
  return {
    genesis: { clusterId: cluster, firstVoter },
    blocks: v.blocks as Uint8Array[],
    ...(base !== undefined ? { base } : {}),
    ...(checkpoint !== undefined ? { checkpoint } : {})
  }
}
