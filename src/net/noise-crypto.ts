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
 */
import { createCipheriv } from 'node:crypto'
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

/** The crypto revoada hands to `noise()`: the default one, with `encryptLarge` for large messages. */
export const transportNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CIPHER_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    return encryptLarge(plaintext, nonce, ad, k)
  }
}
