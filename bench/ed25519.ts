/**
 * @module bench/ed25519
 * `npm run build && node dist/bench/ed25519.js`: µs per Ed25519 verification of a proposal-sized message
 * (≈ 300 bytes, what every follower checks per envelope, issue 16) by node:crypto (OpenSSL) alone, by libsodium
 * alone, and by `verifyEd25519` (src/codec/ed25519.ts: libsodium first, OpenSSL when it rejects) on a valid and
 * on an invalid signature; and µs per signature by node:crypto and by `signEd25519` (libsodium where it makes
 * OpenSSL's bytes, which it does for every well-formed key: test/codec/ed25519.test.ts). Median of 7 timed batches of ≈ 200 ms each, the
 * rows alternated; single-threaded, so a busy machine shows.
 */
import '../src/polyfill.js'
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { ED25519_SIGNER, ED25519_VERIFIER, ed25519PrivateKey, signEd25519, verifyEd25519 } from '../src/codec/ed25519.js'
import { loadSodium } from '../src/util/sodium.js'
import { alternatedMicros } from './lib/micro.js'
import { formatNumber, machineDescription, printTable } from './lib/stats.js'

const MESSAGE_BYTES = 300

async function main (): Promise<void> {
  console.log(`ed25519 — ${await machineDescription()}; verifyEd25519 runs ${ED25519_VERIFIER}; signEd25519 runs ${ED25519_SIGNER}`)
  const sodium = loadSodium<{ crypto_sign_verify_detached: (s: Uint8Array, m: Uint8Array, k: Uint8Array) => boolean }>(['crypto_sign_verify_detached'])
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  const key = { raw, keyObject: createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') } }) }
  const jwk = privateKey.export({ format: 'jwk' })
  const secret = ed25519PrivateKey(Buffer.concat([Buffer.from(jwk.d as string, 'base64url'), raw]))
  const message = randomBytes(MESSAGE_BYTES)
  const signature = sign(null, message, privateKey)
  const forged = Buffer.from(signature)
  forged[10] = (forged[10] as number) ^ 1
  const rows = new Map<string, () => unknown>([
    ['verify, node:crypto (OpenSSL) alone', () => verify(null, message, key.keyObject, signature)],
    ...(sodium !== null ? [['verify, libsodium alone', () => sodium.crypto_sign_verify_detached(signature, message, raw)] as [string, () => unknown]] : []),
    ['verify, verifyEd25519, valid signature', () => verifyEd25519(key, message, signature)],
    ['verify, verifyEd25519, invalid signature', () => verifyEd25519(key, message, forged)],
    ['sign, node:crypto', () => sign(null, message, privateKey)],
    [`sign, signEd25519 (${secret.signer})`, () => signEd25519(secret, message)]
  ])
  printTable(['operation', 'µs'], [...alternatedMicros(rows)].map(([name, us]) => [name, formatNumber(us)]))
}

await main()
