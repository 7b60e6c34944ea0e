/**
 * @module attestation/signatures
 * The IO edge of signature checks: the core's injected verifier, backed by the codec's domain-separated
 * ed25519 (node:crypto), and witness signing with the node's key.
 */
import { verifySignature } from '../codec/index.js'
import type { Signer } from '../codec/index.js'
import { witnessSubject } from './core/index.js'
import type { SignatureVerifier, Witness } from './core/index.js'

export const verifyWithCodec: SignatureVerifier = (check) => verifySignature({
  nodeId: check.nodeId, purpose: check.purpose, clusterId: check.clusterId, cid: check.subject, signature: check.signature
})

/** This node's witness signature of (clusterId, height, head). */
export function signWitness (signer: Signer, clusterId: string, height: number, head: Uint8Array): Witness {
  return { nodeId: signer.nodeId, signature: signer.sign('witness', clusterId, witnessSubject(height, head)) }
}
