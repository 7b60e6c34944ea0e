/**
 * @module bench/etcd-anchor
 * Runs only the etcd side of `bench:consensus` (useful to check the anchor on a machine):
 * `npx tsc -p . && node dist/bench/etcd-anchor.js [durationMs]`.
 */
import '../src/polyfill.js'
import { startEtcdCluster } from './etcd/cluster.js'
import { runEtcdFailover, runEtcdLoad } from './etcd/load.js'
import { machineDescription, median, printTable, quantile } from './lib/stats.js'

const durationMs = Number(process.argv[2] ?? 5000)
console.log(`machine: ${await machineDescription()}`)
const cluster = await startEtcdCluster()
try {
  const rows = []
  for (const concurrency of [1, 16, 64]) {
    const result = await runEtcdLoad(cluster, concurrency, durationMs)
    rows.push(['etcd 3.4', concurrency, result.commits / result.seconds, quantile(result.latenciesMs, 0.5), quantile(result.latenciesMs, 0.99)])
  }
  printTable(['system', 'clients', 'commits/s', 'p50 ms', 'p99 ms'], rows)
  const failover = await runEtcdFailover(cluster, Number(process.env.FAILOVER_TRIALS ?? 3))
  console.log(`etcd failover: median ${median(failover).toFixed(0)} ms, max ${Math.max(...failover).toFixed(0)} ms over ${failover.length} trials`)
} finally {
  await cluster.stop()
}
