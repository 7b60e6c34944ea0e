/**
 * @module codec/sign
 * Domain-separated ed25519 signatures (DESIGN.md §3). What is signed is never the raw CID: it is
 * `len ‖ "revoada/v1/<purpose>" ‖ len ‖ clusterId ‖ cid bytes`, so a signature made for one purpose or
 * one cluster never verifies for another (the length prefixes keep two tuples from colliding).
 *
 * Keys are loaded once (node:crypto KeyObjects and their raw bytes); signing and verifying run libsodium where
 * it loads and node:crypto (OpenSSL) otherwise, ≈ 50k signs/s and ≈ 20k verifies/s per core here
 * (`node dist/bench/ed25519.js`), against ≈1k/0.4k for @noble/curves (hashing-signing-encoding.md §4). One
 * verdict everywhere, so every node judges a consensus-relevant signature the same way: OpenSSL's, reached
 * through libsodium first for speed (src/codec/ed25519.ts says why that is the same verdict, and why both
 * libraries sign the same bytes).
 */
import { ed25519PrivateKey, ed25519PublicKeyObject, signEd25519, verifyEd25519 } from './ed25519.js'
import type { Ed25519PublicKey } from './ed25519.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { MAX_CACHED_PUBLIC_KEYS } from './constants.js'

/** Every purpose a node signs for; the version is part of the context string. */
export type SignaturePurpose = 'proposal' | 'witness' | 'heartbeat' | 'seal' | 'content'

export const SIGNATURE_BYTES = 64

const encoder = new TextEncoder()

/** The exact bytes signed for (purpose, clusterId, cid). */
export function signingMessage (purpose: SignaturePurpose, clusterId: string, cid: CID | Uint8Array): Uint8Array {
  const context = encoder.encode(`revoada/v1/${purpose}`)
  const cluster = encoder.encode(clusterId)
  const cidBytes = cid instanceof Uint8Array ? cid : cid.bytes
  const out = new Uint8Array(4 + context.length + 4 + cluster.length + cidBytes.length)
  const view = new DataView(out.buffer)
  let offset = 0
  view.setUint32(offset, context.length); offset += 4
  out.set(context, offset); offset += context.length
  view.setUint32(offset, cluster.length); offset += 4
  out.set(cluster, offset); offset += cluster.length
  out.set(cidBytes, offset)
  return out
}


export interface Signer {
  readonly nodeId: string
  sign(purpose: SignaturePurpose, clusterId: string, cid: CID | Uint8Array): Uint8Array
}

/**
 * A signer for a libp2p Ed25519 key, loaded once (≈2.4× faster than key.sign(), which imports the key per
 * call); libsodium signs where it loads and agrees with OpenSSL (src/codec/ed25519.ts).
 */
export function createSigner (privateKey: PrivateKey, nodeId: string): Signer {
  if (privateKey.type !== 'Ed25519') throw new TypeError(`signing needs an Ed25519 key, got ${privateKey.type}`)
  const key = ed25519PrivateKey(privateKey.raw)
  return {
    nodeId,
    sign: (purpose, clusterId, cid) => signEd25519(key, signingMessage(purpose, clusterId, cid))
  }
}

const publicKeys = new Map<string, Ed25519PublicKey | null>()

/** The node's public key (raw bytes and KeyObject) from its PeerId string, cached; null when the id carries no Ed25519 key. */
function publicKeyOf (nodeId: string): Ed25519PublicKey | null {
  const cached = publicKeys.get(nodeId)
  if (cached !== undefined) return cached
  let key: Ed25519PublicKey | null = null
  try {
    const publicKey = peerIdFromString(nodeId).publicKey
    if (publicKey?.type === 'Ed25519') {
      key = { raw: publicKey.raw, keyObject: ed25519PublicKeyObject(publicKey.raw) }
    }
  } catch {
    key = null
  }
  if (publicKeys.size >= MAX_CACHED_PUBLIC_KEYS) {
    const oldest = publicKeys.keys().next().value
    if (oldest !== undefined) publicKeys.delete(oldest)
  }
  publicKeys.set(nodeId, key)
  return key
}

export interface SignatureCheck {
  nodeId: string
  purpose: SignaturePurpose
  clusterId: string
  cid: CID | Uint8Array
  signature: Uint8Array
}

/**
 * True when `signature` is `nodeId`'s signature of (purpose, clusterId, cid). A malformed node id or
 * signature is simply false: untrusted input never throws here.
 */
export function verifySignature (check: SignatureCheck): boolean {
  if (!(check.signature instanceof Uint8Array) || check.signature.length !== SIGNATURE_BYTES) return false
  const key = publicKeyOf(check.nodeId)
  if (key === null) return false
  try {
    return verifyEd25519(key, signingMessage(check.purpose, check.clusterId, check.cid), check.signature)
  } catch {
    return false
  }
}
