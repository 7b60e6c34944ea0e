/**
 * @module consensus/shape/shape-machine
 * The MeshShape as a replicated state machine for the Raft driver: applies committed signed proposals
 * through the pure core, verifies each proposal's signature once (cached by CID, bounded) so that
 * signature checks never run twice for one entry on one node, and encodes snapshots canonically.
 */
import { cidOfValue, decodeCanonical, encodeCanonical, verifySignature } from '../../codec/index.js'
import type { CID } from '../../codec/index.js'
import type { ApplyContext, ApplyOutcome, ReplicatedStateMachine } from '../state-machine.js'
import { applyProposal, MeshShape } from './core/index.js'
import type { ApplyResult, ShapeData, SignedProposal } from './core/index.js'

/** Verdicts kept; the oldest is forgotten beyond it (a forgotten verdict is only recomputed). */
const MAX_CACHED_VERDICTS = 65_536

const verdictKey = (cid: string, signature: Uint8Array): string => `${cid}:${Buffer.from(signature).toString('base64')}`

export class ShapeMachine implements ReplicatedStateMachine<ApplyResult> {
  private current = MeshShape.empty()
  private cid: { shape: MeshShape, cid: CID } | undefined
  private readonly verdicts = new Map<string, boolean>()
  private readonly listeners = new Set<(shape: MeshShape, result: ApplyResult) => void>()

  /**
   * The proposal the last apply() decoded, or null when it was malformed or rejected before its signature
   * was checked: the attestation chain reuses it instead of decoding the same bytes again.
   */
  lastProposal: SignedProposal | null = null

  constructor (private readonly clusterId: string) {}

  get shape (): MeshShape {
    return this.current
  }

  /**
   * The CID of the shape's canonical encoding: equal on every node that applied the same log. Computed once
   * per shape (a shape never changes, an apply replaces it): status, the dashboard and the materializer ask
   * for it far more often than the shape moves, and each time cost an encoding and a BLAKE3 hash. The chain
   * (AttestedMachine) asks for it after every applied entry, so the others usually find it computed.
   */
  shapeCid (): string {
    return this.currentCid().toString()
  }

  /** The current shape's CID as an object (its bytes go into chain blocks); CID caches its own string. */
  currentCid (): CID {
    if (this.cid?.shape !== this.current) this.cid = { shape: this.current, cid: cidOfValue(this.current.toData()) }
    return this.cid.cid
  }

  /** The CID of `shape`, a shape this machine applied (computed once while it is the current one). */
  cidOf (shape: MeshShape): string {
    return shape === this.current ? this.shapeCid() : cidOfValue(shape.toData()).toString()
  }

  onChange (listener: (shape: MeshShape, result: ApplyResult) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Verifies a proposal's signature once per CID. Call it when an entry arrives (off the apply path) to
   * warm the cache; apply() calls it too and then hits the cache.
   */
  verified (proposal: SignedProposal): boolean {
    const key = verdictKey(proposal.cid.toString(), proposal.signature)
    const cached = this.verdicts.get(key)
    if (cached !== undefined) return cached
    const verdict = verifySignature({
      nodeId: proposal.envelope.proposer, purpose: 'proposal', clusterId: this.clusterId, cid: proposal.cid, signature: proposal.signature
    })
    this.remember(key, verdict)
    return verdict
  }

  /**
   * Records a proposal this node has just signed itself as verified, so applying it here costs no second
   * Ed25519 check (the signer produced exactly these bytes; every other node still verifies them).
   */
  signedHere (cid: string, signature: Uint8Array): void {
    this.remember(verdictKey(cid, signature), true)
  }

  private remember (key: string, verdict: boolean): void {
    if (this.verdicts.size >= MAX_CACHED_VERDICTS) {
      const oldest = this.verdicts.keys().next().value
      if (oldest !== undefined) this.verdicts.delete(oldest)
    }
    this.verdicts.set(key, verdict)
  }

  apply (command: Uint8Array, context: ApplyContext): ApplyOutcome<ApplyResult> {
    let decoded: SignedProposal | null = null
    const { shape, result, groups } = applyProposal(this.current, command, {
      index: context.index,
      term: context.term,
      clusterId: this.clusterId,
      ...(context.confChange !== undefined ? { confChange: context.confChange } : {}),
      ...(context.requestLookup !== undefined ? { requestLookup: context.requestLookup } : {}),
      verified: (proposal) => { decoded = proposal; return this.verified(proposal) }
    })
    this.lastProposal = decoded
    this.current = shape
    for (const listener of this.listeners) listener(shape, result)
    return {
      result,
      accepted: result.outcome.kind === 'applied',
      ...(groups !== undefined && groups.length > 0 ? { groups: groups.map((g) => ({ id: g.via, result: g.result })) } : {})
    }
  }

  snapshot (): Uint8Array {
    return encodeCanonical(this.current.toData())
  }

  /**
   * @throws MalformedEncodingError or NonCanonicalEncodingError when `data` is not canonical CBOR
   * @throws ShapeDataInvalidError when it is, but not a valid shape
   */
  restore (data: Uint8Array): void {
    this.current = MeshShape.fromData(decodeCanonical<unknown>(data))
  }

  /**
   * Whether `data` decodes to a valid shape (checked before a snapshot from the leader is persisted).
   * @throws ProtocolLevelUnsupportedError when it is a shape at a protocol level above this build's (the
   * driver refuses it, counts it and warns naming the level: snapshot-keeper.ts refuseSnapshotAboveLevel)
   */
  canRestore (data: Uint8Array): boolean {
    try {
      MeshShape.fromData(decodeCanonical<ShapeData>(data))
      return true
    } catch (err) {
      if ((err as Error).name === 'ProtocolLevelUnsupportedError') throw err
      return false
    }
  }
}
