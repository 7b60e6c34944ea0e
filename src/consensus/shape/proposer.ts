/**
 * @module consensus/shape/proposer
 * Builds and signs MeshShape proposals on this node: the envelope (command, reason, proposer, proposal
 * id, local time), its CID, the domain-separated signature, and — when the command moves the etcd role —
 * the joint configuration change that must carry it. A batch envelope (v2) signs several operator
 * commands at once; it never carries a configuration change.
 */
import type { CID, Signer } from '../../codec/index.js'
import type { ConfChange } from '../core/types.js'
import { encodeSignedProposal, envelopeBytesAndCid, requiredConfChange } from './core/index.js'
import type { BatchedCommand, Command, CommandGroup, MeshShape, Reason, RequestId } from './core/index.js'

export interface BuiltProposal {
  bytes: Uint8Array
  cid: string
  /** This node's signature over the envelope's CID. */
  signature: Uint8Array
  /** The configuration change that must carry this command, or undefined. */
  confChange?: ConfChange
}

export class ShapeProposer {
  private seq = 0
  private requestSeq = 0

  constructor (private readonly signer: Signer, private readonly clusterId: string, private readonly clientId: string) {}

  /**
   * Signs `command`. `shape` is the proposer's best knowledge of the committed shape (read it
   * linearizably first): it decides whether a voter change is needed. If the shape moved meanwhile the
   * command is committed as a typed `voter-mismatch` rejection, never applied wrongly.
   */
  build (shape: MeshShape, command: Command, reason: Reason, nowMs: number): BuiltProposal {
    const envelope = {
      v: 1 as const,
      clusterId: this.clusterId,
      command,
      reason,
      proposer: this.signer.nodeId,
      proposalId: { clientId: this.clientId, seq: ++this.seq },
      proposedAtMs: Math.max(0, Math.floor(nowMs))
    }
    const confChange = command.kind === 'bootstrap' ? null : requiredConfChange(shape, command)
    return {
      ...this.sign(envelopeBytesAndCid(envelope)),
      ...(confChange !== null && confChange !== 'rejected' ? { confChange } : {})
    }
  }

  /** Signs one batch envelope (v2) carrying `commands` in order, under one proposal id. */
  buildBatch (commands: BatchedCommand[], nowMs: number): BuiltProposal {
    const envelope = {
      v: 2 as const,
      clusterId: this.clusterId,
      commands,
      proposer: this.signer.nodeId,
      proposalId: { clientId: this.clientId, seq: ++this.seq },
      proposedAtMs: Math.max(0, Math.floor(nowMs))
    }
    return this.sign(envelopeBytesAndCid(envelope))
  }

  /**
   * Signs a leader's batch that merges followers' forwarded groups (v3): this node's own commands first
   * (their group has no `via`; omitted when there are none), then each forwarded group in order.
   */
  buildMerged (own: BatchedCommand[], forwarded: CommandGroup[], nowMs: number): BuiltProposal {
    const envelope = {
      v: 3 as const,
      clusterId: this.clusterId,
      groups: [...(own.length > 0 ? [{ commands: own }] : []), ...forwarded],
      proposer: this.signer.nodeId,
      proposalId: { clientId: this.clientId, seq: ++this.seq },
      proposedAtMs: Math.max(0, Math.floor(nowMs))
    }
    return this.sign(envelopeBytesAndCid(envelope))
  }

  /**
   * A request id of this node for commands it forwards to the leader unsigned, in a session of its own
   * (`<clientId>.r`): a request this node forwarded before it became leader may travel in its own envelope,
   * whose id must be of another session (one id per session per entry, docs/ENCODING.md v3).
   */
  nextRequestId (): RequestId {
    return { clientId: `${this.clientId}.r`, seq: ++this.requestSeq }
  }

  private sign ({ bytes, cid }: { bytes: Uint8Array, cid: CID }): BuiltProposal {
    const signature = this.signer.sign('proposal', this.clusterId, cid)
    return { bytes: encodeSignedProposal(bytes, signature), cid: cid.toString(), signature }
  }
}
