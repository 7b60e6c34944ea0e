/**
 * @module net/noise-crypto
 * Noise's crypto (`@libp2p/noise`'s `crypto` option): its default, except that the ciphertext buffers of
 * large messages are recorded as owned by the transport, so our pnet layer (src/net/pnet.ts) may XOR them in
 * place instead of copying every byte sent into a new buffer.
 *
 * Why: a node serving content sends about a gigabyte per gigabyte fetched from it, and each layer's new
 * buffer of those bytes is work for the garbage collector; on the sending side the copy pnet made of noise's
 * ciphertext was one of three buffers per byte (the chunk read from disk, noise's ciphertext, pnet's copy).
 * The ciphertext node:crypto returns for a message is a new buffer nothing else holds: noise appends it to
 * the frame it sends and drops it. The cipher is the same as noise's default from 1,200 bytes on
 * (ChaCha20-Poly1305 of node:crypto, i.e. OpenSSL; the bytes on the wire are unchanged, which
 * test/net/pnet.test.ts checks against an unmodified `@libp2p/noise` + `@libp2p/pnet` peer).
 *
 * Only buffers that own their whole ArrayBuffer are recorded, and pnet takes each at most once
 * (`claimOwnedCiphertext`); any other buffer (the 2-byte length prefixes, the tags, handshake messages,
 * anything another layer may hold) is copied as before.
 *
 * Second change: the handshake's X25519 private keys stay node:crypto key objects. Noise's default hands the
 * raw private key back as bytes and rebuilds a key object from PKCS#8 DER for every Diffie-Hellman: three per
 * side of a handshake, and OpenSSL's import costs about ten times the Diffie-Hellman itself (≈ 380 against
 * ≈ 35 µs here, docs/bench/scale.md "Noise's X25519 private keys"). A key pair made here keeps its private
 * key object beside the bytes (the static key for the node's life, an ephemeral one for its handshake), so
 * no private key is imported again. Same keys, same shared secrets: test/net/noise-crypto.test.ts.
 */
import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { defaultCrypto } from '@libp2p/noise/crypto'
import type { ICryptoInterface } from '@libp2p/noise'
import { Uint8ArrayList } from 'uint8arraylist'

/** From this many plaintext bytes on, noise's default uses node:crypto (below, its WASM cipher is faster). */
const NODE_CIPHER_FROM_BYTES = 1200
/** Bytes of a ChaCha20-Poly1305 tag. */
const TAG_BYTES = 16
/** Smaller ciphertext pieces are not worth recording: pnet copies them together with their neighbours. */
const OWNED_FROM_BYTES = 1024

const owned = new WeakSet<Uint8Array>()

/** Records `buf` as owned by the transport when it is the whole of its ArrayBuffer and large enough. */
function own (buf: Uint8Array): Uint8Array {
  if (buf.byteLength >= OWNED_FROM_BYTES && buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) owned.add(buf)
  return buf
}

/**
 * True once for a ciphertext buffer that noise produced and nothing else holds: the caller (pnet, sending)
 * may then overwrite it. False for every other buffer, and for the same one a second time.
 */
export function claimOwnedCiphertext (buf: Uint8Array): boolean {
  return owned.delete(buf)
}

/** ChaCha20-Poly1305 with node:crypto, the ciphertext as one piece per plaintext piece plus the tag. */
function encryptLarge (plaintext: Uint8Array | Uint8ArrayList, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8ArrayList {
  const cipher = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
  const output = new Uint8ArrayList()
  for (const piece of plaintext instanceof Uint8Array ? [plaintext] : plaintext) output.append(own(cipher.update(piece)))
  const final = cipher.final()
  if (final.byteLength > 0) output.append(final)
  output.append(cipher.getAuthTag())
  return output
}

/** DER prefix of an X25519 SubjectPublicKeyInfo, followed by the 32 key bytes (RFC 8410). */
const X25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])
/** DER prefix of an X25519 PKCS#8 private key, followed by the 32 key bytes (RFC 8410). */
const X25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
/** Bytes of an X25519 key. */
const X25519_KEY_BYTES = 32

/**
 * The key object of each private key `generateX25519KeyPair` returned, by the very bytes it returned. Noise
 * neither copies nor overwrites a key pair's bytes; a private key given any other way is imported as before.
 */
const privateKeyObjects = new WeakMap<Uint8Array, KeyObject>()

function derKey (prefix: Uint8Array, key: Uint8Array | Uint8ArrayList): Buffer {
  const der = Buffer.allocUnsafe(prefix.byteLength + key.byteLength)
  der.set(prefix, 0)
  der.set(key instanceof Uint8Array ? key : key.subarray(), prefix.byteLength)
  return der
}

/** An X25519 key pair whose private key keeps its key object (privateKeyObjects). */
function generateX25519KeyPair (): { publicKey: Uint8Array, privateKey: Uint8Array } {
  const pair = generateKeyPairSync('x25519')
  const publicKey = new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' }).subarray(X25519_SPKI_PREFIX.byteLength))
  const privateKey = new Uint8Array(pair.privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(X25519_PKCS8_PREFIX.byteLength))
  if (publicKey.byteLength !== X25519_KEY_BYTES || privateKey.byteLength !== X25519_KEY_BYTES) throw new Error('x25519 key export is not 32 bytes')
  privateKeyObjects.set(privateKey, pair.privateKey)
  return { publicKey, privateKey }
}

/** The X25519 shared secret, with the private key's object from privateKeyObjects when it has one. */
function generateX25519SharedKey (privateKey: Uint8Array | Uint8ArrayList, publicKey: Uint8Array | Uint8ArrayList): Uint8Array {
  const own = privateKey instanceof Uint8Array ? privateKeyObjects.get(privateKey) : undefined
  return diffieHellman({
    publicKey: createPublicKey({ key: derKey(X25519_SPKI_PREFIX, publicKey), type: 'spki', format: 'der' }),
    privateKey: own ?? createPrivateKey({ key: derKey(X25519_PKCS8_PREFIX, privateKey), type: 'pkcs8', format: 'der' })
  })
}

/**
 * The crypto revoada hands to `noise()`: the default one, with `encryptLarge` for large messages and
 * X25519 private keys kept as key objects.
 */
export const transportNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  generateX25519KeyPair,
  generateX25519SharedKey,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CIPHER_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    return encryptLarge(plaintext, nonce, ad, k)
  }
}
