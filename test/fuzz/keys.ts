/**
 * @module test/fuzz/keys
 * Fixed Ed25519 identities for targets that sign (derived from constant seeds, so inputs that carry
 * signatures replay identically in every process).
 */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSigner } from '../../src/codec/index.js'
import type { Signer } from '../../src/codec/index.js'

export async function fixedSigners (count: number): Promise<Signer[]> {
  const signers: Signer[] = []
  for (let i = 0; i < count; i++) {
    const seed = new Uint8Array(32).fill(i + 1)
    const key = await generateKeyPairFromSeed('Ed25519', seed)
    signers.push(createSigner(key, peerIdFromPrivateKey(key).toString()))
  }
  return signers
}
