#!/usr/bin/env node
/**
 * @module testbed/node-main
 * One testbed node process: `node node-main.js <data-dir> <host> [join-string]`. The same node as `revoada
 * start` (default services, config from REVOADA_* env), with libp2p and the admin API bound to `host`
 * (127.0.0.1, or with --netns the node's address in its lab, which only the testbed's namespaces and the
 * host's testbed link reach; the token is still required), plus a fault hook the testbed steers through a file:
 * `<data-dir>/testbed-faults.json` lists the peers this node cannot reach. The hook is polled, and peers
 * that become blocked are hung up on, so `testbed partition I J` cuts live connections too.
 */
import '../polyfill.js'
import { renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../config/index.js'
import { startNode } from '../node/index.js'
import { defaultServices } from '../node/services.js'
import { EXIT_FILE_NAME, FAULTS_FILE_NAME, FAULTS_POLL_MS } from './constants.js'
import { readBlockedPeers } from './faults-file.js'

const [dataDir, host, join] = process.argv.slice(2)

/**
 * Exits with `exitCode`, recorded first in the data dir with this pid: `testbed status` shows a removed node
 * (6) or one that left (0) as such; a SIGKILLed node writes nothing and shows as killed.
 */
function exitWith (exitCode: number): never {
  if (dataDir !== undefined) {
    const file = path.join(dataDir, EXIT_FILE_NAME)
    try {
      writeFileSync(file + '.tmp', JSON.stringify({ pid: process.pid, exitCode }) + '\n')
      renameSync(file + '.tmp', file)
    } catch { /* best effort: without it, status says killed */ }
  }
  process.exit(exitCode)
}

async function main (): Promise<void> {
  if (dataDir === undefined || host === undefined) throw new Error('usage: node-main.js <data-dir> <host> [join-string]')
  const api = host === '127.0.0.1' ? {} : { api: { host, allowNonLoopback: true } }
  const config = loadConfig({ env: process.env, flags: { dataDir, listen: [`/ip4/${host}/tcp/0`], ...api, ...(join !== undefined ? { join } : {}) } })
  const faultsFile = path.join(dataDir, FAULTS_FILE_NAME)
  let blocked = await readBlockedPeers(faultsFile)
  // Before the start: the API answers and api.json appears before startNode returns, and a SIGTERM sent on
  // seeing them ended the process without its graceful stop (test/cli/signal-at-api-file.test.ts).
  let stop = (): void => { stop = () => {}; stopRequested = true }
  let stopRequested = false
  process.once('SIGINT', () => { stop() })
  process.once('SIGTERM', () => { stop() })
  const node = await startNode({
    config,
    services: defaultServices({ policy: config.policy?.enabled === false ? false : {} }),
    faults: { isBlocked: (peer) => blocked.has(peer) }
  })
  const timer = setInterval(() => {
    void readBlockedPeers(faultsFile).then(async (next) => {
      blocked = next
      for (const peer of next.values()) await node.net.hangUp(peer).catch(() => {})
    })
  }, FAULTS_POLL_MS)
  const stopWith = (exitCode: number): void => {
    stop = () => {}
    clearInterval(timer)
    node.stop().then(() => { exitWith(exitCode) }, () => { exitWith(1) })
  }
  stop = (): void => { stopWith(0) }
  // A node that was removed, left or recovered a quorum asks to stop, as under `revoada start`; without this a
  // removed testbed node ran on, outside the cluster, with its API answering as if it were a member.
  void node.stopRequested.then((request) => {
    process.stderr.write(`revoada testbed node: ${request.message}\n`)
    stopWith(request.exitCode)
  })
  if (stopRequested) stop()
}

main().catch((err: unknown) => {
  process.stderr.write(`revoada testbed node: ${(err as Error).name}: ${(err as Error).message}\n`)
  exitWith(1)
})
