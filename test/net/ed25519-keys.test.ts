/**
 * Ed25519 sign / verify of libp2p keys with the KeyObject built once per key (src/net/ed25519-keys.ts), as
 * gossipsub signs and verifies every message. Once a net node exists (createNetNode installs it), verifying
 * 50 signatures of one key imports that key once, and signing 50 messages imports the private key once
 * (@libp2p/crypto alone: 50 each); the answers are the library's, byte for byte.
 */
import crypto from 'node:crypto'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Libp2p } from 'libp2p'
import { createNetNode, newCluster } from '../../src/net/index.js'
import { tempDir, testConfig } from '../node/helpers.js'

const nodes: Libp2p[] = []
afterAll(async () => { await Promise.all(nodes.map(async (n) => { await n.stop() })) })

const message = (i: number): Uint8Array => new TextEncoder().encode(`heartbeat ${i}`)

describe('ed25519 key cache (gossipsub signatures)', () => {
  it('should import each key once and give the library\'s answers', async () => {
    const signer = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    // The library's own answers, before any net node exists in this process.
    const librarySignatures = await Promise.all(Array.from({ length: 50 }, async (_, i) => await signer.sign(message(i))))

    const config = testConfig(await tempDir('revoada-ed25519-'))
    nodes.push(await createNetNode({ privateKey: await generateKeyPair('Ed25519'), cluster: newCluster(), listen: ['/ip4/127.0.0.1/tcp/0'], net: config.net }))

    const importsPublic = vi.spyOn(crypto, 'createPublicKey')
    const importsPrivate = vi.spyOn(crypto, 'createPrivateKey')
    try {
      const signatures = await Promise.all(Array.from({ length: 50 }, async (_, i) => await signer.sign(message(i))))
      expect(signatures.map((s) => Buffer.from(s).toString('hex'))).toEqual(librarySignatures.map((s) => Buffer.from(s).toString('hex')))
      for (let i = 0; i < 50; i++) expect(await signer.publicKey.verify(message(i), signatures[i]!)).toBe(true)
      expect(importsPrivate).toHaveBeenCalledTimes(1)
      expect(importsPublic).toHaveBeenCalledTimes(1)

      // Wrong message, wrong key, flipped bit: false, as before.
      expect(await signer.publicKey.verify(message(1), signatures[0]!)).toBe(false)
      expect(await other.publicKey.verify(message(0), signatures[0]!)).toBe(false)
      const flipped = Uint8Array.from(signatures[0]!)
      flipped[10]! ^= 1
      expect(await signer.publicKey.verify(message(0), flipped)).toBe(false)
      // A message in pieces, as gossipsub may hand it.
      const pieces = new Uint8ArrayList(message(3).subarray(0, 4), message(3).subarray(4))
      expect(await signer.publicKey.verify(pieces, signatures[3]!)).toBe(true)
      // A signature of the wrong length still throws the library's TypeError; an aborted signal still throws.
      expect(() => signer.publicKey.verify(message(0), signatures[0]!.subarray(0, 63))).toThrow(TypeError)
      const aborted = AbortSignal.abort()
      expect(() => signer.publicKey.verify(message(0), signatures[0]!, { signal: aborted })).toThrow()
      expect(() => signer.sign(message(0), { signal: aborted })).toThrow()
    } finally {
      importsPublic.mockRestore()
      importsPrivate.mockRestore()
    }
  })
})
