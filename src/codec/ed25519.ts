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
 */
import { verify as cryptoVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { loadSodium } from '../util/sodium.js'

/** Bytes of an Ed25519 public key and of a signature. */
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64

interface SodiumSign {
  crypto_sign_verify_detached: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean
}

const sodium = loadSodium<SodiumSign>(['crypto_sign_verify_detached'])

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
