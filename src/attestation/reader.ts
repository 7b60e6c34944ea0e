/**
 * @module attestation/reader
 * Read side of a node's chain for the API and the CLI: the summary `revoada chain` prints (height, head,
 * last seal and its witnesses) and export files (`revoada chain export`), built from the block file, the
 * live chain state and the witness pool (whose majority over the head becomes the export's checkpoint).
 */
import { CID } from '../codec/index.js'
import { advanceState, cidBytesOf, cloneChainState, decodeBlock, emptyChainState, encodeChainExport, genesisCid, judgeHandover, majorityOf, MAX_EXPORT_BYTES, votersAt } from './core/index.js'
import type { ChainState, Seal, SealBlock } from './core/index.js'
import type { AttestedMachine } from './attested-machine.js'
import { ChainFileClosedError, ExportFromBeyondHeadError, ExportTooLargeError } from './errors.js'
import type { ChainStore } from './store.js'
import type { WitnessPool } from './witness-pool.js'

/**
 * Bytes an export adds to its blocks' own, at most: each block's CBOR byte-string header (EXPORT_BLOCK_HEADER_BYTES,
 * a 4-byte length) and the rest of the map (genesis, checkpoint, and a base state whose seal window holds at
 * most 2 × 1024 CIDs of 36 bytes: under 100 KiB) within EXPORT_FRAME_BYTES_MAX.
 */
const EXPORT_BLOCK_HEADER_BYTES = 5
const EXPORT_FRAME_BYTES_MAX = 1024 * 1024

/** Blocks scanned back from the head to find the last seal. */
const LAST_SEAL_SCAN_BLOCKS_MAX = 100_000

const cidText = (bytes: Uint8Array): string => bytes.length === 0 ? '' : CID.decode(bytes).toString()

export interface ChainSummary {
  clusterId: string
  firstVoter: string
  height: number
  head: string
  firstStoredHeight: number
  sealedHeight: number
  voters: string[]
  lastSeal: null | {
    blockHeight: number
    sealedHeight: number
    head: string
    witnesses: Array<{ nodeId: string, voter: boolean }>
  }
  /** Witness signatures this node holds over its head. */
  headWitnesses: string[]
}

export class ChainReader {
  constructor (private readonly store: ChainStore, private readonly machine: AttestedMachine, private readonly pool: WitnessPool) {}

  /**
   * What `revoada chain` prints.
   * @throws ChainFileClosedError when the chain file is closed (the node stopping, or a disk error): no block can
   *   be read, and the last seal read as "none"
   */
  summary (): ChainSummary {
    if (!this.store.isOpen) throw new ChainFileClosedError()
    const view = this.machine.view()
    const last = this.lastSeal()
    const votersThen = last !== null ? votersAt(view, last.seal.height) : []
    return {
      clusterId: view.clusterId,
      firstVoter: view.firstVoter,
      height: view.height,
      head: cidText(view.head),
      firstStoredHeight: this.store.firstHeight,
      sealedHeight: view.sealedHeight,
      voters: [...view.voters],
      lastSeal: last === null
        ? null
        : {
            blockHeight: last.height,
            sealedHeight: last.seal.height,
            head: cidText(last.seal.head),
            witnesses: last.seal.witnesses.map((w) => ({ nodeId: w.nodeId, voter: votersThen.includes(w.nodeId) }))
          },
      headWitnesses: this.pool.witnesses(view.height, view.head).map((w) => w.nodeId)
    }
  }

  /** The last applied seal block, scanning back from the head (bounded). */
  lastSeal (): SealBlock | null {
    const lowest = Math.max(this.store.firstHeight, this.store.height - LAST_SEAL_SCAN_BLOCKS_MAX)
    for (let h = this.store.height; h >= lowest; h--) {
      const bytes = this.store.read(h)
      const block = bytes !== undefined ? decodeBlock(bytes) : null
      if (block?.kind === 'seal' && block.outcome.kind === 'applied') return block
    }
    return null
  }

  /**
   * An export file of the blocks from `fromHeight` (default: the first stored) to the head; from head + 1, an
   * export with no block (nothing new since an export that ended at the head).
   *
   * @throws ExportFromBeyondHeadError when `fromHeight` is above head + 1
   * @throws ChainFileClosedError when a disk error closed the chain file (no block can be read)
   * @throws ExportTooLargeError when the export would be larger than a verifier reads (MAX_EXPORT_BYTES)
   */
  exportBytes (fromHeight?: number): Uint8Array {
    if (!this.store.isOpen) throw new ChainFileClosedError()
    const view = this.machine.view()
    const from = Math.max(fromHeight ?? this.store.firstHeight, this.store.firstHeight)
    const to = Math.min(this.store.height, view.height)
    // NB: above head + 1, stateBefore would read blocks that do not exist.
    if (from > to + 1) throw new ExportFromBeyondHeadError(from, to, this.store.firstHeight)
    // Before any block is read: an export past it is one no verifier reads, built in memory for nothing.
    let bytes = EXPORT_FRAME_BYTES_MAX
    for (let h = to; h >= from; h--) {
      bytes += (this.store.blockBytes(h) ?? 0) + EXPORT_BLOCK_HEADER_BYTES
      if (bytes > MAX_EXPORT_BYTES) throw new ExportTooLargeError(from, h + 1, MAX_EXPORT_BYTES)
    }
    const blocks: Uint8Array[] = []
    for (let h = from; h <= to; h++) blocks.push(this.store.read(h)!)
    const base = from > 1 ? this.stateBefore(from, view) : undefined
    const checkpoint = this.checkpoint(to, blocks[blocks.length - 1], view)
    return encodeChainExport({
      genesis: { clusterId: view.clusterId, firstVoter: view.firstVoter },
      blocks,
      ...(base !== undefined ? { base } : {}),
      ...(checkpoint !== undefined ? { checkpoint } : {})
    })
  }

  /** The chain state before height `from`, replayed from the store's base over the stored blocks. */
  private stateBefore (from: number, view: Readonly<ChainState>): ChainState {
    let state: ChainState
    if (this.store.base !== undefined) {
      state = cloneChainState(this.store.base)
    } else {
      state = emptyChainState(view.clusterId)
      state.firstVoter = view.firstVoter
      state.head = genesisCid({ clusterId: view.clusterId, firstVoter: view.firstVoter })
    }
    for (let h = state.height + 1; h < from; h++) {
      const bytes = this.store.read(h)!
      const block = decodeBlock(bytes)
      if (block === null) break
      advanceState(state, block, cidBytesOf(bytes))
    }
    return state
  }

  /** A voter majority's witness signatures over the last exported block, when this node holds them. */
  private checkpoint (height: number, last: Uint8Array | undefined, view: Readonly<ChainState>): Seal | undefined {
    if (last === undefined) return undefined
    const head = cidBytesOf(last)
    const witnesses = this.pool.witnesses(height, head)
    const voters = votersAt(view, height)
    if (witnesses.filter((w) => voters.includes(w.nodeId)).length < majorityOf(voters.length)) return undefined
    // From level 8 a checkpoint needs the hand-over voters too, as a seal does (a verifier refuses it without).
    if (judgeHandover(view, { witnesses }).kind !== 'applied') return undefined
    return { height, head, witnesses }
  }
}
