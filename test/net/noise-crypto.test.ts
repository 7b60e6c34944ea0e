/**
 * Noise's crypto with transport-owned ciphertext (src/net/noise-crypto.ts): the same bytes as noise's default
 * crypto, and only noise's own fresh ciphertext buffers may be claimed by pnet (to be XORed in place), each
 * once. A claim on anything else (the caller's plaintext, the tag, a view into a larger buffer) would let pnet
 * overwrite bytes another layer still holds. pnet (xorOutgoing) must then XOR exactly those in place. Its X25519
 * keys agree with the default crypto, and a private key it made is never imported from DER again.
 */
import { randomBytes } from 'node:crypto'
import * as nodeCrypto from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { claimOwnedCiphertext, transportNoiseCrypto } from '../../src/net/noise-crypto.js'
import { PNET_ONE_WRITE_BYTES_MAX, xorForSend, xorOutgoing } from '../../src/net/pnet.js'
import { createXSalsa20 } from '../../src/net/xsalsa20.js'

// Counts private-key imports: a key pair made by transportNoiseCrypto must never be imported again.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  const createPrivateKey = vi.fn(actual.createPrivateKey)
  return { ...actual, createPrivateKey, default: { ...actual, createPrivateKey } }
})

const key = randomBytes(32)
const nonce = Buffer.concat([Buffer.alloc(4), Buffer.from([7, 0, 0, 0, 0, 0, 0, 0])])
const ad = new Uint8Array(0)

function bytesOf (data: Uint8Array | Uint8ArrayList): Buffer {
  return Buffer.from(data instanceof Uint8Array ? data : data.subarray())
}

describe('noise crypto (transport-owned ciphertext)', () => {
  it('should encrypt to the bytes of noise\'s default crypto, which decrypts them, for one buffer or a list', () => {
    for (const size of [0, 100, 1199, 1200, 5000, 65_519]) {
      const plain = randomBytes(size)
      const asList = new Uint8ArrayList(plain.subarray(0, 12), plain.subarray(12))
      for (const input of [plain, asList]) {
        const ours = bytesOf(transportNoiseCrypto.chaCha20Poly1305Encrypt(input, nonce, ad, key))
        const theirs = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key))
        expect(ours.equals(theirs), `size ${size}`).toBe(true)
        expect(bytesOf(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, key)).equals(plain)).toBe(true)
      }
    }
  })

  it('should let only its own large ciphertext buffers be claimed, each once', () => {
    const plain = randomBytes(65_519)
    const pieces = [...new Uint8ArrayList(transportNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key))]
    const body = pieces[0] as Uint8Array
    const tag = pieces[pieces.length - 1] as Uint8Array
    expect(body.byteLength).toBe(plain.byteLength)
    expect(claimOwnedCiphertext(plain)).toBe(false)
    expect(claimOwnedCiphertext(tag)).toBe(false)
    expect(claimOwnedCiphertext(body.subarray(1))).toBe(false)
    expect(claimOwnedCiphertext(body)).toBe(true)
    expect(claimOwnedCiphertext(body)).toBe(false)
    // Small messages (the handshake, pings, window updates) go through the default crypto: nothing to claim.
    for (const piece of new Uint8ArrayList(transportNoiseCrypto.chaCha20Poly1305Encrypt(randomBytes(500), nonce, ad, key))) {
      expect(claimOwnedCiphertext(piece)).toBe(false)
    }
  })

  it('should reject a corrupted ciphertext byte on decryption', () => {
    const plain = randomBytes(4096)
    const sealed = bytesOf(transportNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key))
    sealed[100] = (sealed[100] as number) ^ 1
    expect(() => transportNoiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)).toThrow()
  })
})

/** xorForSend turns `frames` into one buffer (one socket write) holding exactly the XSalsa20 of their bytes. */
function expectOneBufferOfTheSameBytes (pnetKey: Uint8Array, pnetNonce: Uint8Array, frames: Uint8ArrayList): void {
  const plainBytes = frames.subarray()
  const sent = xorForSend(createXSalsa20(pnetNonce, pnetKey), frames)
  expect(sent).toBeInstanceOf(Uint8Array)
  const expected = new Uint8Array(plainBytes.byteLength)
  createXSalsa20(pnetNonce, pnetKey).update(plainBytes, expected)
  expect(Buffer.from(sent as Uint8Array).equals(expected)).toBe(true)
}

describe('pnet sending noise frames (xorOutgoing)', () => {
  it('should XOR only claimable ciphertext in place, copy every other buffer, and send the same bytes as a full copy', () => {
    const pnetKey = randomBytes(32)
    const pnetNonce = randomBytes(24)
    const sealed = [...new Uint8ArrayList(transportNoiseCrypto.chaCha20Poly1305Encrypt(randomBytes(40_000), nonce, ad, key))]
    const callerHeld = randomBytes(3000) // e.g. a handshake message another layer still holds
    const prefix = Uint8Array.of(0x9c, 0x50)
    const frames = new Uint8ArrayList(prefix, ...sealed, callerHeld)
    const plainBytes = frames.subarray() // a copy of everything, before any XOR
    const callerBefore = Buffer.from(callerHeld)
    const prefixBefore = Buffer.from(prefix)

    const sent = bytesOf(xorOutgoing(createXSalsa20(pnetNonce, pnetKey), frames))
    const expected = new Uint8Array(plainBytes.byteLength)
    createXSalsa20(pnetNonce, pnetKey).update(plainBytes, expected)
    expect(sent.equals(expected)).toBe(true)
    expect(Buffer.from(callerHeld).equals(callerBefore)).toBe(true)
    expect(Buffer.from(prefix).equals(prefixBefore)).toBe(true)
    // The large ciphertext piece was used in place (claimed), so it is no longer claimable.
    expect(claimOwnedCiphertext(sealed[0] as Uint8Array)).toBe(false)
  })

  it('should hand a Raft-sized noise message (prefix, ciphertext, tag) to the socket as one buffer: one write', () => {
    const pnetKey = randomBytes(32)
    const pnetNonce = randomBytes(24)
    const sealed = [...new Uint8ArrayList(transportNoiseCrypto.chaCha20Poly1305Encrypt(randomBytes(3000), nonce, ad, key))]
    const frames = new Uint8ArrayList(Uint8Array.of(0x0b, 0xc8), ...sealed)
    expect(frames.length).toBeGreaterThan(2) // noise's pieces: what used to be as many socket writes
    expectOneBufferOfTheSameBytes(pnetKey, pnetNonce, frames)
    // A content chunk above the bound keeps the in-place path (several buffers, no MiB copy).
    const big = [...new Uint8ArrayList(transportNoiseCrypto.chaCha20Poly1305Encrypt(randomBytes(PNET_ONE_WRITE_BYTES_MAX + 1), nonce, ad, key))]
    const bigSent = xorForSend(createXSalsa20(pnetNonce, pnetKey), new Uint8ArrayList(Uint8Array.of(0xff, 0xff), ...big))
    expect(bigSent).toBeInstanceOf(Uint8ArrayList)
  })

  it('should hand a burst of Raft frames above the one-write bound to the socket as one buffer, not a write per frame', () => {
    const pnetKey = randomBytes(32)
    const pnetNonce = randomBytes(24)
    // What noise makes of eight 12 KiB Apps in one send: one owned ciphertext piece per frame, 2-byte varint
    // prefixes between them (copied), the tag.
    const pieces: Uint8Array[] = []
    for (let i = 0; i < 8; i++) pieces.push(Uint8Array.of(0xe8, 0x5e), ...new Uint8ArrayList(transportNoiseCrypto.chaCha20Poly1305Encrypt(randomBytes(12_136), nonce, ad, key)))
    const frames = new Uint8ArrayList(...pieces)
    expect(frames.byteLength).toBeGreaterThan(PNET_ONE_WRITE_BYTES_MAX)
    expectOneBufferOfTheSameBytes(pnetKey, pnetNonce, frames)
  })
})

describe('noise crypto (X25519 private keys kept as key objects)', () => {
  it('should agree on X25519 shared secrets with noise\'s default crypto, both ways, whoever made the keys', () => {
    const ours = transportNoiseCrypto.generateX25519KeyPair()
    const theirs = defaultCrypto.generateX25519KeyPair()
    expect(ours.publicKey.byteLength).toBe(32)
    expect(ours.privateKey.byteLength).toBe(32)
    // The bytes are the key: the default crypto derives the same public key from our private bytes.
    expect(Buffer.from(defaultCrypto.generateX25519KeyPairFromSeed(ours.privateKey).publicKey).equals(Buffer.from(ours.publicKey))).toBe(true)
    const secret = bytesOf(transportNoiseCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey))
    expect(secret.byteLength).toBe(32)
    expect(secret.equals(bytesOf(defaultCrypto.generateX25519SharedKey(theirs.privateKey, ours.publicKey)))).toBe(true)
    expect(secret.equals(bytesOf(defaultCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey)))).toBe(true)
    // A foreign private key, and public keys given as lists, as noise may pass them.
    const asList = new Uint8ArrayList(ours.publicKey.subarray(0, 5), ours.publicKey.subarray(5))
    expect(bytesOf(transportNoiseCrypto.generateX25519SharedKey(theirs.privateKey, asList)).equals(secret)).toBe(true)
    expect(bytesOf(transportNoiseCrypto.generateX25519SharedKey(new Uint8ArrayList(ours.privateKey), theirs.publicKey)).equals(secret)).toBe(true)
  })

  it('should not import a private key it made itself again, for any number of Diffie-Hellmans', () => {
    const imports = vi.mocked(nodeCrypto.createPrivateKey)
    const staticKey = transportNoiseCrypto.generateX25519KeyPair()
    const remoteStatic = defaultCrypto.generateX25519KeyPair()
    imports.mockClear()
    // One side of an XX handshake: ee, es, se (noise's protocol.ts), with a fresh ephemeral key.
    for (let handshake = 0; handshake < 3; handshake++) {
      const ephemeral = transportNoiseCrypto.generateX25519KeyPair()
      const remoteEphemeral = defaultCrypto.generateX25519KeyPair()
      transportNoiseCrypto.generateX25519SharedKey(ephemeral.privateKey, remoteEphemeral.publicKey)
      transportNoiseCrypto.generateX25519SharedKey(ephemeral.privateKey, remoteStatic.publicKey)
      transportNoiseCrypto.generateX25519SharedKey(staticKey.privateKey, remoteEphemeral.publicKey)
    }
    expect(imports).not.toHaveBeenCalled()
    // A private key made elsewhere (e.g. a seed) is imported, once per use.
    transportNoiseCrypto.generateX25519SharedKey(remoteStatic.privateKey, staticKey.publicKey)
    expect(imports).toHaveBeenCalledTimes(1)
  })
})
