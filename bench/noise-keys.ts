/**
 * @module bench/noise-keys
 * `npm run build && node dist/bench/noise-keys.js`: µs of one side of a noise XX handshake's X25519 work (a
 * fresh ephemeral key pair, then the ee, es and se Diffie-Hellmans) with `@libp2p/noise`'s default crypto and
 * with revoada's (src/net/noise-crypto.ts, which keeps its private keys as node:crypto key objects). Every
 * connection a forming fleet opens pays this on both sides (issue 16's formation at 50 nodes). The remote's
 * keys are made by the default crypto outside the timed work. Median of 7 timed batches of ≈ 200 ms each,
 * the two cryptos alternated; single-threaded, so a busy machine shows.
 */
import '../src/polyfill.js'
import { defaultCrypto } from '@libp2p/noise/crypto'
import type { ICryptoInterface } from '@libp2p/noise'
import { transportNoiseCrypto } from '../src/net/noise-crypto.js'
import { alternatedMicros } from './lib/micro.js'
import { formatNumber, machineDescription, printTable } from './lib/stats.js'

const REMOTE_KEYS = 512

type KeyPair = ReturnType<ICryptoInterface['generateX25519KeyPair']>

/** One side's key work, against a remote static key and one of the prepared remote ephemeral keys. */
function handshakeSide (crypto: ICryptoInterface, own: KeyPair, remoteStatic: KeyPair, remoteEphemeral: KeyPair): void {
  const ephemeral = crypto.generateX25519KeyPair()
  crypto.generateX25519SharedKey(ephemeral.privateKey, remoteEphemeral.publicKey)
  crypto.generateX25519SharedKey(ephemeral.privateKey, remoteStatic.publicKey)
  crypto.generateX25519SharedKey(own.privateKey, remoteEphemeral.publicKey)
}

async function main (): Promise<void> {
  console.log(`noise handshake keys — ${await machineDescription()}`)
  const remoteStatic = defaultCrypto.generateX25519KeyPair()
  const remoteEphemeral = Array.from({ length: REMOTE_KEYS }, () => defaultCrypto.generateX25519KeyPair())
  const runs = new Map<string, (i: number) => void>()
  for (const [name, crypto] of [['@libp2p/noise default', defaultCrypto], ['revoada (src/net/noise-crypto.ts)', transportNoiseCrypto]] as const) {
    const own = crypto.generateX25519KeyPair()
    runs.set(name, (i) => { handshakeSide(crypto, own, remoteStatic, remoteEphemeral[i % REMOTE_KEYS] as KeyPair) })
  }
  const micros = alternatedMicros(runs)
  const [base, ours] = [...micros.values()] as [number, number]
  printTable(['crypto', 'µs per handshake side', 'vs default'], [...micros].map(([name, us]) => [name, formatNumber(us), `${formatNumber(us / base)}×`]))
  console.log(`saved per connection (both sides): ${formatNumber(2 * (base - ours))} µs`)
}

await main()
