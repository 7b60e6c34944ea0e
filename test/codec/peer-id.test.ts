/**
 * Goal: `peerIdTextProblem` accepts exactly the base58btc text of an ed25519 PeerId (what
 * `peerId.toString()` gives) and names why anything else is not one: the same key's CID texts, other key
 * types, other encodings of the same bytes, and text that is no peer id at all (docs/ENCODING.md, "Member ids").
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { peerIdTextProblem } from '../../src/codec/index.js'
import { isSmallOrderEd25519Key } from '../../src/codec/peer-id.js'

describe('peerIdTextProblem', () => {
  it('should accept the text of an ed25519 peer id and refuse every other text of its key', async () => {
    for (let i = 0; i < 20; i++) {
      const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const text = id.toString()
      expect(peerIdTextProblem(text)).toBeNull()
      const others = [
        id.toCID().toString(), // bafz…: libp2p reads it as the same peer
        id.toCID().toString(base36), // k51…
        base58btc.encode(id.toMultihash().bytes), // the multibase form: 'z' ‖ the text
        ` ${text}`, `${text}\n`, text.toLowerCase(), `1${text}`, text.slice(0, -1)
      ]
      for (const other of others) {
        if (other === text) continue
        expect(peerIdTextProblem(other), other).not.toBeNull()
      }
      expect(peerIdFromString(id.toCID().toString()).toString()).toBe(text)
    }
  })

  it('should refuse peer ids of other key types, and text that is no peer id', async () => {
    const secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString()
    expect(secp.startsWith('16Uiu')).toBe(true)
    expect(peerIdTextProblem(secp)).toBe('not an ed25519 peer id')
    // An RSA-style id: a sha2-256 multihash.
    expect(peerIdTextProblem('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')).toBe('not an ed25519 peer id')
    for (const bad of ['', 'peer-x', 'a', '0OIl', 'x'.repeat(65), 'é'.repeat(10)]) expect(peerIdTextProblem(bad), bad).not.toBeNull()
    expect(peerIdTextProblem(42)).not.toBeNull()
    expect(peerIdTextProblem(undefined)).not.toBeNull()
  })

  it('should refuse an ed25519 key of small order in every encoding, whose signatures anyone can make', async () => {
    const P = (1n << 255n) - 19n
    const y8 = 0x5fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n
    const key = (y: bigint, signBit: boolean): Uint8Array => {
      const out = new Uint8Array(32)
      for (let i = 0; i < 32; i++) out[i] = Number((y >> BigInt(8 * i)) & 0xffn)
      if (signBit) out[31]! |= 0x80
      return out
    }
    const text = (raw: Uint8Array): string => base58btc.baseEncode(Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...raw]))
    // The identity, order 2, order 4, both order-8 pairs; then encodings of y at or above P (non-canonical).
    const ys = [1n, P - 1n, 0n, y8, P - y8, P, P + 1n]
    for (const y of ys) {
      for (const signBit of [false, true]) {
        expect(isSmallOrderEd25519Key(key(y, signBit)), `y=${y} sign=${signBit}`).toBe(true)
        expect(peerIdTextProblem(text(key(y, signBit)))).toContain('small order')
      }
    }
    // The identity's key takes a signature of any message: R = the identity, S = 0.
    const identity = key(1n, false)
    const forged = new Uint8Array(64)
    forged[0] = 1
    const keyObject = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(identity).toString('base64url') } })
    expect(cryptoVerify(null, Buffer.from('never signed'), keyObject, forged)).toBe(true)
    // Real keys are never of small order.
    for (let i = 0; i < 50; i++) {
      const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      expect(isSmallOrderEd25519Key(id.publicKey!.raw)).toBe(false)
      expect(peerIdTextProblem(id.toString())).toBeNull()
    }
    // Neighbours of the small-order y values are ordinary encodings.
    for (const y of [2n, y8 + 1n, P - 2n]) expect(isSmallOrderEd25519Key(key(y, false))).toBe(false)
  })
})
