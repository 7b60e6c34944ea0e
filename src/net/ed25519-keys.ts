/**
 * @module net/ed25519-keys
 * Ed25519 signatures of libp2p keys (gossipsub's message signatures) with the node:crypto KeyObject built once
 * per key instead of once per signature.
 *
 * `@libp2p/crypto` 5.1 imports the key from JWK on every call: `Ed25519PublicKey.verify` runs
 * `crypto.createPublicKey({ format: 'jwk', … })` and then `crypto.verify`, and `Ed25519PrivateKey.sign` does the
 * same with `createPrivateKey`. Gossipsub verifies the signature of every message it receives (strict signing)
 * and signs every message it publishes, so each heartbeat paid a key import on every member. In CPU profiles of
 * a 25-node cluster on 2 cores (`BENCH_NODE_ARGS=--cpu-prof`, `npm run bench:scale`; docs/bench/scale.md,
 * "Where a node's CPU goes while a fleet forms") verifying was 12 % of an idle node's CPU, a third of it the key
 * import. The same caching is what src/codec/sign.ts does for revoada's own signatures.
 *
 * The result is the same function of the same bytes: the KeyObject is derived from the 32 raw key bytes and
 * nothing else, the input checks of the library (key and signature lengths) still throw, and an aborted signal
 * still throws. Public keys are cached by their bytes, at most `VERIFY_KEYS_MAX` (the oldest goes first); a
 * loaded private key hangs off its key object (a node has one). Verification asks libsodium first and OpenSSL
 * when it rejects (src/codec/ed25519.ts): OpenSSL's verdict, as the library's, on every input. Signing runs
 * libsodium where it agrees with OpenSSL on the key (the same bytes: Ed25519 signatures are deterministic).
 */
import type { KeyObject } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { AbortOptions } from '@libp2p/interface'
import { ed25519PrivateKey, ed25519PublicKeyObject, signEd25519, verifyEd25519 } from '../codec/ed25519.js'
import type { Ed25519PrivateKey } from '../codec/ed25519.js'

/** Public KeyObjects kept; beyond it the oldest is dropped (a cluster has at most a few hundred members). */
export const VERIFY_KEYS_MAX = 4096
const PUBLIC_KEY_BYTES = 32
const PRIVATE_KEY_BYTES = 64
const SIGNATURE_BYTES = 64

type Bytes = Uint8Array | { subarray: () => Uint8Array }
interface PublicKeyShape { raw: Uint8Array, verify: (data: Bytes, sig: Uint8Array, options?: AbortOptions) => boolean | Promise<boolean> }
interface PrivateKeyShape { raw: Uint8Array, sign: (data: Bytes, options?: AbortOptions) => Uint8Array | Promise<Uint8Array> }

const publicKeyObjects = new Map<string, KeyObject>()
const privateKeys = new WeakMap<object, Ed25519PrivateKey>()
const b64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
const flat = (data: Bytes): Uint8Array => data instanceof Uint8Array ? data : data.subarray()

function publicKeyObject (raw: Uint8Array): KeyObject {
  const id = b64url(raw)
  let keyObject = publicKeyObjects.get(id)
  if (keyObject === undefined) {
    keyObject = ed25519PublicKeyObject(raw)
    if (publicKeyObjects.size >= VERIFY_KEYS_MAX) {
      const oldest = publicKeyObjects.keys().next().value
      if (oldest !== undefined) publicKeyObjects.delete(oldest)
    }
    publicKeyObjects.set(id, keyObject)
  }
  return keyObject
}

function privateKeyOf (key: PrivateKeyShape): Ed25519PrivateKey {
  let loaded = privateKeys.get(key)
  if (loaded === undefined) {
    loaded = ed25519PrivateKey(key.raw)
    privateKeys.set(key, loaded)
  }
  return loaded
}

let installed = false

/** Installs the cached sign and verify on @libp2p/crypto's Ed25519 key classes (once per process; idempotent). */
export async function installEd25519KeyCache (): Promise<void> {
  if (installed) return
  installed = true
  // The classes are not exported; any key of the type carries their prototypes.
  const sample = await generateKeyPair('Ed25519')
  const privateProto = Object.getPrototypeOf(sample) as PrivateKeyShape
  const publicProto = Object.getPrototypeOf(sample.publicKey) as PublicKeyShape
  const libraryVerify = publicProto.verify
  const librarySign = privateProto.sign
  publicProto.verify = function (this: PublicKeyShape, data, sig, options) {
    // Anything but the usual shapes goes to the library, which throws as before.
    if (!(this.raw instanceof Uint8Array) || this.raw.byteLength !== PUBLIC_KEY_BYTES || !(sig instanceof Uint8Array) || sig.byteLength !== SIGNATURE_BYTES) {
      return libraryVerify.call(this, data, sig, options)
    }
    options?.signal?.throwIfAborted()
    return verifyEd25519({ raw: this.raw, keyObject: publicKeyObject(this.raw) }, flat(data), sig)
  }
  privateProto.sign = function (this: PrivateKeyShape, data, options) {
    if (!(this.raw instanceof Uint8Array) || this.raw.byteLength !== PRIVATE_KEY_BYTES) return librarySign.call(this, data, options)
    options?.signal?.throwIfAborted()
    return signEd25519(privateKeyOf(this), flat(data))
  }
}
