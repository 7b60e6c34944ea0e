/**
 * @module consensus/shape/proposer
 * Builds and signs MeshShape proposals on this node: the envelope (command, reason, proposer, proposal
 * id, local time), its CID, the domain-separated signature, and — when the command moves the etcd role —
 * the joint configuration change that must carry it.
 */
import type { Signer } from '../../codec/index.js'
import type { ConfChange } from '../core/types.js'
import { encodeSignedProposal, envelopeBytesAndCid, requiredConfChange } from './core/index.js'
import type { Command, MeshShape, Reason } from './core/index.js'

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
    const { bytes, cid } = envelopeBytesAndCid(envelope)
    const signature = this.signer.sign('proposal', this.clusterId, cid)
    const signed = encodeSignedProposal(bytes, signature)
    const confChange = command.kind === 'bootstrap' ? null : requiredConfChange(shape, command)
    return {
      bytes: signed,
      cid: cid.toString(),
      signature,
      ...(confChange !== null && confChange !== 'rejected' ? { confChange } : {})
    }
  }
}
