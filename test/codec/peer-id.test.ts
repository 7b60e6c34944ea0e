/**
 * Goal: `peerIdTextProblem` accepts exactly the base58btc text of an ed25519 PeerId (what
 * `peerId.toString()` gives) and names why anything else is not one: the same key's CID texts, other key
 * types, other encodings of the same bytes, and text that is no peer id at all (docs/ENCODING.md, "Member ids").
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { peerIdTextProblem } from '../../src/codec/index.js'

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
})
