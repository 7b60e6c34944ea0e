/**
 * Ed25519 verification (src/codec/ed25519.ts): libsodium first, OpenSSL when libsodium rejects, so the verdict
 * is OpenSSL's on every input — also on the crafted signatures the two libraries disagree on (a public key or
 * an R of small order), where a verdict of libsodium's alone would split a cluster whose nodes judged the same
 * committed envelope differently (the verdict is part of apply).
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { ED25519_SIGNER, ED25519_VERIFIER, ed25519PrivateKey, signEd25519, verifyEd25519 } from '../../src/codec/ed25519.js'
import type { Ed25519PublicKey } from '../../src/codec/ed25519.js'
import { signingMessage, verifySignature } from '../../src/codec/sign.js'
import { decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid } from '../../src/consensus/shape/core/index.js'

const sodium = createRequire(import.meta.url)('sodium-native') as {
  crypto_sign_verify_detached: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean
  crypto_scalarmult_ed25519_base_noclamp: (q: Uint8Array, n: Uint8Array) => void
  crypto_sign_seed_keypair: (pk: Uint8Array, sk: Uint8Array, seed: Uint8Array) => void
}

/** The group order L. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n

const littleEndian = (bytes: Uint8Array): bigint => bytes.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n)
function scalarBytes (value: bigint): Buffer {
  const out = Buffer.alloc(32)
  for (let i = 0, v = value; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn)
  return out
}
/** n·B for a scalar n < L. */
function timesBase (n: bigint): Buffer {
  const out = Buffer.alloc(32)
  sodium.crypto_scalarmult_ed25519_base_noclamp(out, scalarBytes(n))
  return out
}
const keyOf = (raw: Uint8Array): Ed25519PublicKey => ({ raw, keyObject: createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') } }) })
const openssl = (key: Ed25519PublicKey, message: Uint8Array, signature: Uint8Array): boolean => verify(null, message, key.keyObject, signature)
const h = (r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint => littleEndian(createHash('sha512').update(r).update(a).update(m).digest()) % L

/** A key whose public point is the identity (small order): (R = n·B, S = n) satisfies the equation for every message. */
function identityKeyForgery (n: bigint): { key: Ed25519PublicKey, signature: Buffer } {
  const identity = Buffer.alloc(32)
  identity[0] = 1
  return { key: keyOf(identity), signature: Buffer.concat([timesBase(n), scalarBytes(n)]) }
}

/** An honest key with R = identity (small order) and S = h·a: [S]B − [h]A = identity, so the equation holds. */
function smallOrderR (message: Uint8Array): { key: Ed25519PublicKey, signature: Buffer } {
  const a = (littleEndian(randomBytes(32)) % (L - 1n)) + 1n
  const A = timesBase(a)
  const R = Buffer.alloc(32)
  R[0] = 1
  return { key: keyOf(A), signature: Buffer.concat([R, scalarBytes((h(R, A, message) * a) % L)]) }
}

describe('verifyEd25519', () => {
  it('should run libsodium first here (sodium-native loads on this platform)', () => {
    expect(ED25519_VERIFIER).toBe('libsodium, then OpenSSL')
  })

  it('should give OpenSSL\'s verdict on valid signatures and on every one-bit corruption of signature, message or key', () => {
    for (let i = 0; i < 40; i++) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519')
      const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
      const message = randomBytes(1 + (i * 37) % 400)
      const signature = sign(null, message, privateKey)
      expect(verifyEd25519(keyOf(raw), message, signature)).toBe(true)
      const bit = (bytes: Buffer): Buffer => { const copy = Buffer.from(bytes); const at = (i * 131) % (copy.length * 8); copy[at >> 3] = (copy[at >> 3] as number) ^ (1 << (at & 7)); return copy }
      for (const [key, m, s] of [[raw, message, bit(signature)], [raw, bit(message), signature], [bit(raw), message, signature]] as const) {
        let flipped: Ed25519PublicKey
        try { flipped = keyOf(key) } catch { continue } // a key node:crypto cannot import never reaches a verifier
        expect(verifyEd25519(flipped, m, s)).toBe(openssl(flipped, m, s))
      }
    }
  })

  it('should accept, as OpenSSL does, a forgery by a public key of small order that libsodium rejects', () => {
    for (const message of [Buffer.from('promote scheduler'), randomBytes(300)]) {
      const { key, signature } = identityKeyForgery(5n)
      expect(openssl(key, message, signature)).toBe(true)
      expect(sodium.crypto_sign_verify_detached(signature, message, key.raw)).toBe(false)
      expect(verifyEd25519(key, message, signature)).toBe(true)
      expect(verifyEd25519(key, message, signature, 'OpenSSL')).toBe(true)
    }
  })

  it('should accept, as OpenSSL does, a signature whose R has small order, which libsodium rejects', () => {
    const message = randomBytes(200)
    const { key, signature } = smallOrderR(message)
    expect(openssl(key, message, signature)).toBe(true)
    expect(sodium.crypto_sign_verify_detached(signature, message, key.raw)).toBe(false)
    expect(verifyEd25519(key, message, signature)).toBe(true)
    // And the same R with another message: the equation no longer holds, so both reject.
    expect(verifyEd25519(key, randomBytes(200), signature)).toBe(false)
  })

  it('should give signatures of a node id whose key is of small order OpenSSL\'s verdict in verifySignature (the apply path)', () => {
    const { key, signature } = identityKeyForgery(9n)
    const nodeId = peerIdFromPublicKey(publicKeyFromRaw(key.raw)).toString()
    expect(verifySignature({ nodeId, purpose: 'proposal', clusterId: 'c', cid: randomBytes(36), signature })).toBe(true)
  })
})

describe('signature malleability', () => {
  /** A signature by scalar `a` over `message` with nonce `r`: (R = r·B, S = r + h·a mod L), as RFC 8032 but any r. */
  const signWith = (a: bigint, r: bigint, message: Uint8Array): Buffer => {
    const A = timesBase(a)
    const R = timesBase(r)
    return Buffer.concat([R, scalarBytes((r + h(R, A, message) * a) % L)])
  }

  it('should refuse S + L, the other encoding of a valid signature, and take another nonce\'s signature only as one more signature of the same envelope', () => {
    const a = (littleEndian(randomBytes(32)) % (L - 1n)) + 1n
    const nodeId = peerIdFromPublicKey(publicKeyFromRaw(timesBase(a))).toString()
    const clusterId = 'c1'
    const envelope = { v: 1 as const, clusterId, command: { kind: 'restore' as const, nodeId }, reason: 'operator' as const, proposer: nodeId, proposalId: { clientId: `${nodeId}/s`, seq: 1 }, proposedAtMs: 5 }
    const { bytes, cid } = envelopeBytesAndCid(envelope)
    const message = signingMessage('proposal', clusterId, cid)
    const first = signWith(a, (littleEndian(randomBytes(32)) % (L - 1n)) + 1n, message)
    const second = signWith(a, (littleEndian(randomBytes(32)) % (L - 1n)) + 1n, message)
    const check = (signature: Uint8Array): boolean => verifySignature({ nodeId, purpose: 'proposal', clusterId, cid, signature })
    expect(check(first)).toBe(true)
    expect(check(second)).toBe(true)
    // S + L still fits in 32 bytes (S < L < 2^253) and satisfies the group equation; both libraries require S < L.
    const plusL = Buffer.concat([first.subarray(0, 32), scalarBytes(littleEndian(first.subarray(32)) + L)])
    expect(sodium.crypto_sign_verify_detached(plusL, message, timesBase(a))).toBe(false)
    expect(check(plusL)).toBe(false)
    // Two valid signatures (only the key holder can make another) are two entries of one envelope: the same CID,
    // the one the chain block records, and the same proposal id, which the sessions apply once.
    const one = decodeSignedProposal(encodeSignedProposal(bytes, first))
    const two = decodeSignedProposal(encodeSignedProposal(bytes, second))
    expect(one?.cid.equals(two?.cid)).toBe(true)
    expect(one?.envelope.proposalId).toEqual(two?.envelope.proposalId)
  })
})

/** A libp2p-style secret key (seed ‖ public key) and OpenSSL's private key object for the same seed. */
function secretKey (seed: Uint8Array): Buffer {
  const publicKey = Buffer.alloc(32)
  const secret = Buffer.alloc(64)
  sodium.crypto_sign_seed_keypair(publicKey, secret, seed)
  return secret
}
const opensslSign = (secret: Uint8Array, message: Uint8Array): Buffer => sign(null, message, ed25519PrivateKey(secret, 'OpenSSL').keyObject)

describe('signEd25519', () => {
  it('should sign with libsodium here, and make the bytes OpenSSL makes for every key and message length', () => {
    expect(ED25519_SIGNER).toBe('libsodium')
    for (let i = 0; i < 40; i++) {
      const secret = secretKey(randomBytes(32))
      const key = ed25519PrivateKey(secret)
      expect(key.signer).toBe('libsodium')
      const message = randomBytes((i * 53) % 700) // the empty message too
      const signature = signEd25519(key, message)
      expect(Buffer.from(signature)).toEqual(opensslSign(secret, message))
      expect(verifyEd25519(keyOf(secret.subarray(32)), message, signature, 'OpenSSL')).toBe(true)
    }
  })

  it('should sign with OpenSSL, and so make OpenSSL\'s bytes, for a key whose public half is not its seed\'s', () => {
    const secret = secretKey(randomBytes(32))
    const stranger = secretKey(randomBytes(32))
    const mismatched = Buffer.concat([secret.subarray(0, 32), stranger.subarray(32)])
    const message = randomBytes(300)
    // libsodium hashes the stored public half into the nonce and challenge, OpenSSL derives it from the seed.
    const bySodium = Buffer.alloc(64)
    ;(sodium as unknown as { crypto_sign_detached: (s: Uint8Array, m: Uint8Array, k: Uint8Array) => void }).crypto_sign_detached(bySodium, message, mismatched)
    expect(bySodium).not.toEqual(opensslSign(mismatched, message))
    const key = ed25519PrivateKey(mismatched)
    expect(key.signer).toBe('OpenSSL')
    expect(Buffer.from(signEd25519(key, message))).toEqual(opensslSign(mismatched, message))
  })

  it('should refuse a secret key of the wrong length, and keep its own copy of the key', () => {
    expect(() => ed25519PrivateKey(randomBytes(32))).toThrow(TypeError)
    const secret = secretKey(randomBytes(32))
    const key = ed25519PrivateKey(secret)
    const message = randomBytes(100)
    const before = signEd25519(key, message)
    secret.fill(0)
    expect(signEd25519(key, message)).toEqual(before)
  })
})
