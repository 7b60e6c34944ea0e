/**
 * @module attestation/attested-machine
 * The hook between consensus and the chain: the replicated state machine the Raft driver applies, made
 * of the MeshShape machine plus the chain. A shape entry goes to the shape, then its block is derived
 * from what was applied (outcome, resulting shape CID, voters); a seal entry (`{seal: …}`) is judged
 * and becomes a seal block without touching the shape. Snapshots carry the chain state with the shape,
 * so a node that installs a snapshot continues the same chain; the block file is fsynced before every
 * snapshot, because the snapshot lets Raft compact the entries the blocks were derived from.
 */
import { decodeCanonical, encodeCanonical, equalBytes, CID } from '../codec/index.js'
import type { ApplyContext, ApplyOutcome, ReplicatedStateMachine } from '../consensus/state-machine.js'
import type { ShapeMachine } from '../consensus/shape/shape-machine.js'
import { envelopeCommands } from '../consensus/shape/core/index.js'
import type { ApplyResult, MeshShape, SignedProposal } from '../consensus/shape/core/index.js'
import {
  appendProposalBlock, appendSealBlock, cidBytesOf, chainStateFromData, chainStateToData, cloneChainState, emptyChainState, isSealCommand
} from './core/index.js'
import type { ChainState, DerivedBlock, SignatureVerifier } from './core/index.js'
import type { ChainStore } from './store.js'

export interface AttestedMachineComponents {
  shape: ShapeMachine
  clusterId: string
  /** Where blocks go; null keeps the chain state only (the simulator and unit tests). */
  store: ChainStore | null
  verify: SignatureVerifier
  warn?: (obj: object, msg: string) => void
}

export class AttestedMachine implements ReplicatedStateMachine<ApplyResult> {
  private state: ChainState
  private shapeSeen: MeshShape | null = null
  private shapeCid = new Uint8Array()
  private voters: string[] = []
  private readonly listeners = new Set<(derived: DerivedBlock) => void>()

  constructor (private readonly components: AttestedMachineComponents) {
    this.state = emptyChainState(components.clusterId)
  }

  /** A copy of the chain state after the entries applied so far. */
  chainState (): ChainState {
    return cloneChainState(this.state)
  }

  /** The live chain state, read-only by contract (no copy: the service reads it on every witness). */
  view (): Readonly<ChainState> {
    return this.state
  }

  get height (): number {
    return this.state.height
  }

  get head (): Uint8Array {
    return this.state.head
  }

  /** Called with every derived block, in order, on the apply path: keep it cheap. */
  onBlock (listener: (derived: DerivedBlock) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  apply (command: Uint8Array, context: ApplyContext): ApplyOutcome<ApplyResult> {
    const position = { index: context.index, term: context.term, timeMs: context.timeMs }
    if (isSealCommand(command)) {
      const derived = appendSealBlock(this.state, { ...position, command }, this.components.verify)
      this.record(derived)
      const outcome = derived.block.outcome
      const cid = CID.decode(derived.cid).toString()
      return outcome.kind === 'applied'
        ? { result: { index: context.index, term: context.term, cid, outcome }, accepted: true }
        : { result: { index: context.index, term: context.term, cid, outcome: { kind: 'rejected', code: 'malformed', message: `seal ${outcome.code}: ${outcome.message}` } }, accepted: false }
    }
    const applied = this.components.shape.apply(command, context)
    this.refreshShape(applied.accepted ? this.components.shape.lastProposal : null)
    this.record(appendProposalBlock(this.state, {
      ...position, command, outcome: applied.result.outcome, shape: this.shapeCid, votersAfter: this.voters, decoded: this.components.shape.lastProposal,
      ...(applied.result.outcomes !== undefined ? { outcomes: applied.result.outcomes } : {})
    }))
    return applied
  }

  /**
   * Recomputes the shape's CID only when the shape object changed (rejections keep it), and its voters
   * only when the applied command may move them (`applied` is the accepted proposal, when decoded).
   */
  private refreshShape (applied: SignedProposal | null = null): void {
    const shape = this.components.shape.shape
    if (shape === this.shapeSeen) return
    const previous = this.shapeSeen
    this.shapeSeen = shape
    // Computed (once per shape) by the shape machine, whose status, dashboard and materializer readers then reuse it.
    this.shapeCid = this.components.shape.currentCid().bytes
    if (previous === null || applied === null || mayMoveVoters(applied)) this.voters = shape.voters()
  }

  private record (derived: DerivedBlock): void {
    const store = this.components.store
    if (store !== null && store.isOpen) {
      const height = derived.block.height
      if (height <= store.height) {
        // Replaying entries after a restart re-derives stored blocks: they must be the same bytes.
        const stored = store.read(height)
        if (stored !== undefined && equalBytes(stored, derived.bytes)) return this.notify(derived)
        this.components.warn?.({ height }, 'stored block differs from the one derived from the log; replacing the rest of the chain file')
        store.truncateFrom(height)
      }
      store.append(height, derived.bytes)
    }
    this.notify(derived)
  }

  private notify (derived: DerivedBlock): void {
    for (const listener of this.listeners) listener(derived)
  }

  snapshot (): Uint8Array {
    try {
      this.components.store?.sync()
    } catch (err) {
      // Disk full or EIO: the blocks stay pending and are retried; a crash before then leaves this node's
      // chain file starting after a trusted base, as after installing a snapshot (docs/CHAIN.md §4).
      this.components.warn?.({ err: (err as Error).message }, 'could not sync the chain file before a snapshot; retrying')
    }
    return encodeCanonical({ m: this.components.shape.snapshot(), c: chainStateToData(this.state) })
  }

  /**
   * Whether a snapshot from the leader is readable before it is persisted (issue 9 item 5): the shape part
   * must restore, and a chain part, when present, must decode and belong to this cluster.
   */
  canRestore (data: Uint8Array): boolean {
    const value = decodeSnapshot(data)
    if (value.chainPresent && (value.chain === null || value.chain.clusterId !== this.components.clusterId)) return false
    return this.components.shape.canRestore(value.machine)
  }

  restore (data: Uint8Array): void {
    const value = decodeSnapshot(data)
    this.components.shape.restore(value.machine)
    this.state = value.chain ?? emptyChainState(this.components.clusterId)
    this.shapeSeen = null
    this.refreshShape()
    this.reconcileStore()
  }

  /** After a snapshot: the file must hold the snapshot's head, or it restarts after the snapshot's state. */
  private reconcileStore (): void {
    const store = this.components.store
    if (store === null || !store.isOpen || this.state.height === 0) return
    const stored = store.read(this.state.height)
    if (stored !== undefined && equalBytes(cidBytesOf(stored), this.state.head)) return
    if (store.height === this.state.height && store.base !== undefined && equalBytes(store.base.head, this.state.head)) return
    this.components.warn?.({ height: this.state.height, stored: store.height }, 'chain file does not reach the snapshot head; starting a new segment after it')
    store.restartAfter(cloneChainState(this.state))
  }
}

/** False only for commands known not to touch the etcd holders (the common role shifts and targets). */
function mayMoveVoters (proposal: SignedProposal): boolean {
  return envelopeCommands(proposal.envelope).some(({ command }) => {
    switch (command.kind) {
      case 'set-target': case 'add-member': return false
      case 'promote': case 'demote': return command.roles.includes('etcd')
      default: return true
    }
  })
}

/** Snapshot bytes: `{m: shape bytes, c: chain state}`; older snapshots hold the shape bytes alone. */
function decodeSnapshot (data: Uint8Array): { machine: Uint8Array, chain: ChainState | null, chainPresent: boolean } {
  try {
    const value = decodeCanonical<Record<string, unknown>>(data)
    if (typeof value === 'object' && value !== null && value.m instanceof Uint8Array && Object.keys(value).length === 2) {
      return { machine: value.m, chain: chainStateFromData(value.c), chainPresent: true }
    }
  } catch {
    // an older snapshot: the shape's bytes alone
  }
  return { machine: data, chain: null, chainPresent: false }
}
