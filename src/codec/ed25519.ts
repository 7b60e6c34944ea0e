/**
 * @module codec/ed25519
 * Ed25519 verification with OpenSSL's verdict at libsodium's speed.
 *
 * A signature's verdict is part of the replicated state machine (a proposal envelope's signature is checked in
 * apply on every node; DESIGN.md §3), so every node, every build and every platform must reach the same verdict
 * on every input, including crafted ones. Since the first build that verdict is OpenSSL's (node:crypto), and
 * OpenSSL and libsodium do not agree on every input: both check the cofactorless equation [S]B = R + [h]A by
 * comparing R's encoding, and both require S < L, but libsodium also rejects a public key or an R of small order
 * and a non-canonical public key, which OpenSSL accepts when the equation holds (a node id whose key is the
 * identity point "signs" any message: test/codec/ed25519.test.ts).
 *
 * So libsodium's accept set is a subset of OpenSSL's: whatever libsodium accepts, OpenSSL accepts. Asking
 * libsodium first and OpenSSL only when libsodium rejects is therefore OpenSSL's verdict on every input, and
 * a valid signature — every signature an honest node sends — takes libsodium's path: ≈ 50 against ≈ 105 µs
 * here (`node dist/bench/ed25519.js`; docs/bench/consensus.md "Ed25519 verification: libsodium first"). An
 * invalid one pays both (≈ 155 µs). Where `sodium-native` does not load, OpenSSL alone: the same verdicts.
 *
 * Signing is deterministic (RFC 8032: the nonce is a hash of the key's seed and the message), so libsodium and
 * OpenSSL produce the same 64 bytes for the same key and message; libsodium takes ≈ 20 against ≈ 36 µs here. The
 * one way they could differ is a secret key whose public half is not the seed's (libsodium hashes the stored
 * half, OpenSSL derives its own): a key is checked once, when it is loaded, by signing a probe with both, and
 * signs with OpenSSL alone if they differ.
 */
import crypto, { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { loadSodium } from '../util/sodium.js'
import { equalBytes } from './cbor.js'

/** Bytes of an Ed25519 public key and of a signature. */
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64

interface SodiumVerify {
  crypto_sign_verify_detached: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean
}
interface SodiumSign {
  crypto_sign_detached: (signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array) => void
}

const sodium = loadSodium<SodiumVerify>(['crypto_sign_verify_detached'])
const sodiumSigner = loadSodium<SodiumSign>(['crypto_sign_detached'])

/** Bytes of a secret key as libp2p and libsodium hold it: the 32-byte seed, then the public key. */
export const ED25519_SECRET_KEY_BYTES = 64

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')

/**
 * node:crypto's key object for a raw 32-byte Ed25519 public key (what OpenSSL verifies with).
 * @throws whatever node:crypto throws for bytes that are not a public key
 */
export function ed25519PublicKeyObject (raw: Uint8Array): KeyObject {
  return crypto.createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) } })
}

/** Which verifiers run in this process: libsodium first when it loaded, else OpenSSL alone. */
export const ED25519_VERIFIER: 'libsodium, then OpenSSL' | 'OpenSSL' = sodium !== null ? 'libsodium, then OpenSSL' : 'OpenSSL'

/** A public key as both verifiers take it: its 32 raw bytes, and its node:crypto key object. */
export interface Ed25519PublicKey {
  raw: Uint8Array
  keyObject: KeyObject
}

/**
 * OpenSSL's verdict on `signature` over `message` by `key` (see the module comment).
 * @throws whatever node:crypto throws for a malformed signature or key (callers check lengths first)
 */
export function verifyEd25519 (key: Ed25519PublicKey, message: Uint8Array, signature: Uint8Array, verifier: typeof ED25519_VERIFIER = ED25519_VERIFIER): boolean {
  if (verifier !== 'OpenSSL' && sodium !== null && signature.byteLength === ED25519_SIGNATURE_BYTES && key.raw.byteLength === ED25519_PUBLIC_KEY_BYTES) {
    try {
      if (sodium.crypto_sign_verify_detached(signature, message, key.raw)) return true
    } catch {
      // The binding refused its arguments: OpenSSL alone decides, as it would have.
    }
  }
  return cryptoVerify(null, message, key.keyObject, signature)
}

/** Which library signs for a key: libsodium when it loaded and agreed with OpenSSL on the key's probe. */
export type Ed25519Signer = 'libsodium' | 'OpenSSL'

/** The signer a well-formed key gets in this process. */
export const ED25519_SIGNER: Ed25519Signer = sodiumSigner !== null ? 'libsodium' : 'OpenSSL'

/** A private key as both signers take it, and which of them signs for it. */
export interface Ed25519PrivateKey {
  /** seed ‖ public key (ED25519_SECRET_KEY_BYTES) */
  readonly secret: Uint8Array
  readonly keyObject: KeyObject
  readonly signer: Ed25519Signer
}

const PROBE = new TextEncoder().encode('revoada/ed25519-signer-probe')

function sodiumSign (secret: Uint8Array, message: Uint8Array): Uint8Array {
  const signature = new Uint8Array(ED25519_SIGNATURE_BYTES)
  sodiumSigner!.crypto_sign_detached(signature, message, secret)
  return signature
}

/**
 * Loads a 64-byte secret key (seed ‖ public key, libp2p's `raw`) for `signEd25519`, and picks its signer: a
 * probe is signed by both libraries and libsodium is kept only if the two signatures are the same bytes.
 * @throws TypeError when `secret` is not ED25519_SECRET_KEY_BYTES long; whatever node:crypto throws for a bad seed
 */
export function ed25519PrivateKey (secret: Uint8Array, signer: Ed25519Signer = ED25519_SIGNER): Ed25519PrivateKey {
  if (secret.byteLength !== ED25519_SECRET_KEY_BYTES) throw new TypeError(`an Ed25519 secret key is ${ED25519_SECRET_KEY_BYTES} bytes, got ${secret.byteLength}`)
  const keyObject = crypto.createPrivateKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', d: b64url(secret.subarray(0, 32)), x: b64url(secret.subarray(32, 64)) } })
  const copy = Uint8Array.from(secret)
  let chosen: Ed25519Signer = 'OpenSSL'
  if (signer === 'libsodium' && sodiumSigner !== null) {
    try {
      if (equalBytes(sodiumSign(copy, PROBE), cryptoSign(null, PROBE, keyObject))) chosen = 'libsodium'
    } catch {
      // The binding refused the key: OpenSSL signs for it.
    }
  }
  return { secret: copy, keyObject, signer: chosen }
}

/** The Ed25519 signature of `message` by `key`: the same bytes from either signer (see the module comment). */
export function signEd25519 (key: Ed25519PrivateKey, message: Uint8Array): Uint8Array {
  if (key.signer === 'libsodium') return sodiumSign(key.secret, message)
  return new Uint8Array(cryptoSign(null, message, key.keyObject))
}
