/**
 * @module bench/heartbeat-decode
 * `npm run build && node dist/bench/heartbeat-decode.js`: µs per decode of a membership heartbeat (the
 * message every idle node decodes from every member each period, issue 16) by the general path
 * (@ipld/dag-cbor decode, re-encode, compare: `decodeCanonicalGeneral`, what `decodeCanonical` was) and by
 * `decodeCanonical` now (the one-pass reader of src/codec/fast-decode.ts in front of it). Heartbeats as membership-service.ts builds them, with 0
 * and 3 labels. Median of 7 timed batches of ≈ 200 ms each, the two alternated (bench/lib/micro.ts); single-threaded, so a busy machine shows.
 */
import '../src/polyfill.js'
import { decodeCanonical, decodeCanonicalGeneral, encodeCanonical } from '../src/codec/index.js'
import { alternatedMicros } from './lib/micro.js'
import { formatNumber, machineDescription, printTable } from './lib/stats.js'

/** The labels of the `bench:idle` runs in docs/bench/scale.md ("Idle cost per heartbeat"). */
const THREE_LABELS = {
  'topology.kubernetes.io/region': 'europe-west4',
  'topology.kubernetes.io/zone': 'europe-west4-a',
  'kubernetes.io/hostname': 'node-017.europe-west4-a.prod.example.internal'
}

function heartbeat (labels: Record<string, string>): Uint8Array {
  return encodeCanonical({
    nodeId: '12D3KooWGzBpQ5X9x8GdkqfRu1jEr8Y6k3mJ7mRkqN5V4dWQvYhS',
    clusterId: 'c7f3a1d2e4b5968778695a4b3c2d1e0f',
    addresses: ['/ip4/10.0.0.17/tcp/4101/p2p/12D3KooWGzBpQ5X9x8GdkqfRu1jEr8Y6k3mJ7mRkqN5V4dWQvYhS', '/ip4/127.0.0.1/tcp/4101/p2p/12D3KooWGzBpQ5X9x8GdkqfRu1jEr8Y6k3mJ7mRkqN5V4dWQvYhS'],
    roles: ['etcd', 'kube-apiserver', 'worker'],
    capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, storageBytes: 2 ** 40, pods: 110 },
    labels,
    version: '0.1.0',
    kubernetesVersion: 'v1.34.0',
    uptimeMs: 3_601_250,
    generation: 7,
    seq: 7203,
    leaving: false,
    reach: 9
  })
}

async function main (): Promise<void> {
  console.log(`heartbeat decode — ${await machineDescription()}`)
  const rows: Array<Array<string | number>> = []
  for (const [name, labels] of [['no labels', {}], ['3 labels', THREE_LABELS]] as const) {
    const bytes = heartbeat(labels)
    const micros = alternatedMicros(new Map([['general', () => decodeCanonicalGeneral(bytes)], ['fast', () => decodeCanonical(bytes)]]))
    const general = micros.get('general') as number
    const fast = micros.get('fast') as number
    rows.push([name, bytes.length, formatNumber(general), formatNumber(fast), `${formatNumber(general / fast)}×`])
  }
  printTable(['heartbeat', 'bytes', 'general µs', 'decodeCanonical µs', 'speed-up'], rows)
}

await main()
