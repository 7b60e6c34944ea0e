/**
 * @module node
 * The composition root (STYLE §1): builds a running node from a config and wires the layers. No logic of its
 * own. Start order: identity → cluster → libp2p → known peers → redial loop → services → admin API (+ `api.json`).
 * Stop runs in reverse. Later layers plug in as `NodeService`s (see node/service.ts for the contract).
 *
 * @example
 * ```ts
 * const node = await startNode({ config: loadConfig({ flags: { dataDir: '/tmp/n1' } }) })
 * console.log(node.status())
 * await node.stop()
 * ```
 */
import { promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import type { Config } from '../config/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { createLogger } from '../log/index.js'
import type { Logger } from '../log/index.js'
import {
  createNetNode, decodeJoinString, encodeJoinString, keyFingerprint, loadOrCreateCluster, Redialer, trackKnownPeers
} from '../net/index.js'
import type { Cluster, NetFaults, NetNode } from '../net/index.js'
import { DEFAULT_XSALSA20 } from '../net/xsalsa20.js'
import { ED25519_SIGNER, ED25519_VERIFIER } from '../codec/ed25519.js'
import { GossipStreamMender } from '../net/gossip-streams.js'
import { LinkActivity, LinkMonitor, type LinkMonitorCounters } from '../net/link-monitor.js'
import { API_FILE_MODE, API_FILE_NAME, API_TOKEN_BYTES, ApiServer, assertNotRunning } from '../api/index.js'
import { resolveListen } from './listen.js'
import { assert } from '../util/assert.js'
import { writeFileDurably } from '../util/durable-file.js'
import { createTicker } from '../util/ticker.js'
import type { NodeService, ServiceContext, StopRequest } from './service.js'
import { acquireDataDirLock } from './data-dir-lock.js'
import { assertNotRemoved } from '../consensus/removal-record.js'
import type { DataDirLock } from './data-dir-lock.js'
import { checkRaftDirectory, ignoredForceReason } from './raft-dir-check.js'

export type { NodeService, ServiceContext, StopRequest } from './service.js'

/** Options of `startNode`. */
export interface StartNodeInit {
  config: Config
  /** Services started in order after the network. @default [] */
  services?: NodeService[]
  /** Root logger. @default a pino logger at `config.logLevel` on stderr */
  log?: Logger
  /** Test-only network fault hook (partitions). */
  faults?: NetFaults
  /**
   * `revoada recover-quorum`: the other voters are gone for good; this node becomes the only voter, keeping
   * its log, then asks to be stopped (docs/OPERATIONS.md, "A majority of the voters lost for good"). Not a config
   * setting on purpose: a setting left in a file or the environment would repeat it at every start.
   */
  recoverQuorum?: boolean
  /**
   * Runs once, just before the node lets go of the data dir's lock: when its start fails, and at the end of its
   * stop. The CLI removes there what a failed start (or a first join given up) created, while no other start
   * can take the data dir: run after the release, it removed what a start racing into that window had just
   * written (test/cli/start-cleanup-lock.test.ts). Its failure is logged; the lock is released all the same.
   */
  beforeUnlock?: () => Promise<void>
}

/** The fields of `GET /v1/status` that the node itself provides; services add `{ [name]: … }`. */
export interface NodeStatus {
  nodeId: string
  clusterId: string
  /** Dialable multiaddrs including `/p2p/<nodeId>`. */
  addresses: string[]
  /** NodeIds of currently connected peers, sorted. */
  peers: string[]
  keyFingerprint: string
  apiUrl: string | undefined
  /** The process running the node and its data dir (what `kill` and `--data-dir` need). */
  pid: number
  dataDir: string
  /** Gossipsub streams the node opened itself to connected peers (net/gossip-streams.ts). */
  gossipStreams: { reopened: number, openedLate: number }
  /** What the link monitor did: quiet connections pinged, answers, connections aborted (net/link-monitor.ts). */
  links: LinkMonitorCounters
  [service: string]: unknown
}

/** The node's own status fields: a service named like one would overwrite it (seen: `status` broke on `addresses`). */
const NODE_STATUS_FIELDS: ReadonlySet<string> = new Set(['nodeId', 'clusterId', 'addresses', 'peers', 'keyFingerprint', 'apiUrl', 'pid', 'dataDir', 'gossipStreams', 'links'])

/** A running node. */
export interface RevoadaNode {
  readonly nodeId: string
  readonly cluster: Cluster
  readonly net: NetNode
  readonly redialer: Redialer
  /** Pings the node's quiet connections (net/link-monitor.ts). */
  readonly links: LinkMonitor
  readonly apiUrl: string
  status: () => NodeStatus
  /** One-line join string carrying the cluster id, key and this node's addresses. */
  joinString: () => string
  /** Graceful stop; idempotent. Removes `api.json`. */
  stop: () => Promise<void>
  /** Resolves when a service asks for the node to be stopped (see `ServiceContext.requestStop`). */
  readonly stopRequested: Promise<StopRequest>
}

function isLoopbackAddr (addr: string): boolean {
  return addr.startsWith('/ip4/127.') || addr.startsWith('/ip6/::1/')
}

/** Dialable addresses without `/p2p/`, non-loopback first (the order a remote joiner should try). */
function joinAddresses (net: NetNode): string[] {
  const addrs = net.getMultiaddrs().map((ma) => ma.toString().replace(/\/p2p\/[^/]+$/, ''))
  return [...new Set(addrs)].sort((a, b) => Number(isLoopbackAddr(a)) - Number(isLoopbackAddr(b)))
}

/**
 * Starts a node.
 *
 * @throws DataDirInUseError (before anything in the data dir is read or written), NodeRemovedError (the data
 *   dir holds removed.json: before the identity is read or the network started), RaftStateLostError,
 *   IdentityCorruptError, IdentityPermissionsError, ClusterFileError, ClusterMismatchError,
 *   JoinStringInvalidError, ApiBindRefusedError, NodeAlreadyRunningError, HeartbeatTooLargeError,
 *   HeartbeatInvalidError (all from their layers)
 */
export async function startNode (init: StartNodeInit): Promise<RevoadaNode> {
  // One process per data dir (issue 10 item 1): the lock comes before the identity, WAL or api.json.
  const lock = await acquireDataDirLock(init.config.dataDir)
  const log = init.log ?? createLogger(init.config.logLevel)
  const unlock = unlockOnce(lock, init.beforeUnlock)
  try {
    return await startLocked(init, log, unlock)
  } catch (err) {
    await unlock().catch((cause: Error) => { log.forComponent('node').error({ err: cause.message }, 'error while undoing a failed start') })
    throw err
  }
}

/** Releases `lock` after `beforeUnlock` has run, once however often it is called (a failed start, a stop). */
function unlockOnce (lock: DataDirLock, beforeUnlock: (() => Promise<void>) | undefined): () => Promise<void> {
  let unlocking: Promise<void> | undefined
  return async () => {
    unlocking ??= (async () => {
      try {
        await beforeUnlock?.()
      } finally {
        await lock.release()
      }
    })()
    await unlocking
  }
}

async function startLocked (init: StartNodeInit, log: Logger, unlock: () => Promise<void>): Promise<RevoadaNode> {
  const { config } = init
  const nodeLog = log.forComponent('node')
  // Before anything touches the network or the data dir: a removed node that got as far as libp2p dialled its
  // peers and published heartbeats (a new generation written) before consensus refused it.
  await assertNotRemoved(config.dataDir)
  const identity = await loadOrCreateIdentity(config.dataDir)
  await assertNotRunning(config.dataDir)
  const join = config.join !== undefined ? decodeJoinString(config.join) : undefined
  const { cluster, created } = await loadOrCreateCluster(config.dataDir, join)
  const raftStart = await checkRaftDirectory({
    dataDir: config.dataDir, clusterId: cluster.clusterId, clusterCreated: created, seeds: cluster.seeds, forceNewCluster: config.forceNewCluster,
    ...(init.recoverQuorum === true ? { recoverQuorum: true } : {})
  })
  if (raftStart === 'rejoin' || raftStart === 'force-new') nodeLog.warn({ raftStart, clusterId: cluster.clusterId }, 'raft directory is empty in an existing cluster')
  const forceIgnored = ignoredForceReason({ clusterCreated: created, forceNewCluster: config.forceNewCluster }, raftStart)
  if (forceIgnored !== undefined) nodeLog.warn({ raftStart, clusterId: cluster.clusterId }, forceIgnored)
  const { listen, fellBack } = await resolveListen(config.listen)
  if (fellBack) nodeLog.warn({ listen }, 'default port taken; listening on a free port instead')
  const activity = new LinkActivity()
  const net = await createNetNode({ privateKey: identity.privateKey, cluster, listen, announce: config.announce, net: config.net, activity, ...(init.faults !== undefined ? { faults: init.faults } : {}) })
  const stack = new Stack(nodeLog)
  stack.push('data-dir-lock', unlock)
  stack.push('net', async () => { await net.stop() })
  try {
    const redialer = new Redialer(net, config.net, log.forComponent('redial'))
    for (const seed of cluster.seeds) redialer.addAddress(seed)
    const knownPeers = await trackKnownPeers(net, redialer, config.dataDir, log.forComponent('known-peers'))
    stack.push('known-peers', knownPeers.stop)
    const ticker = createTicker()
    redialer.start(ticker)
    stack.push('redial', async () => { await redialer.stop() })
    const mender = new GossipStreamMender(net, log.forComponent('gossip-streams'))
    mender.start(ticker)
    stack.push('gossip-streams', async () => { mender.stop() })
    const links = new LinkMonitor({
      intervalMs: config.net.pingIntervalMs, timeoutMs: config.net.pingTimeoutMs, activity, connections: () => net.getConnections(), log: log.forComponent('links')
    })
    links.start(ticker)
    stack.push('links', async () => { links.stop() })
    let requestStop: (request: StopRequest) => void = () => {}
    const stopRequested = new Promise<StopRequest>((resolve) => { requestStop = resolve })
    const gossipStreams = (): { reopened: number, openedLate: number } => ({ reopened: mender.reopened, openedLate: mender.openedLate })
    const base = { config, nodeId: identity.nodeId, privateKey: identity.privateKey, cluster, net, redialer, knownPeers, raftStart, ticker, gossipStreams, links: () => links.counters(), requestStop: (r: StopRequest) => { requestStop(r) } }
    const services = await startServices(init.services ?? [], base, log, stack)
    const token = randomBytes(API_TOKEN_BYTES).toString('base64url')
    const api = new ApiServer({ ...config.api, token, log: log.forComponent('api') })
    stack.push('api', async () => { await api.close() })
    const node = makeNode({ identity, cluster, net, redialer, mender, links, services, api, stack, log: nodeLog, dataDir: config.dataDir, stopRequested })
    api.app.get('/v1/status', async () => node.status())
    api.app.get('/v1/join-string', async () => ({ joinString: node.joinString() }))
    for (const s of services) s.routes?.(api.app)
    await api.listen()
    const apiFile = path.join(config.dataDir, API_FILE_NAME)
    // Renamed into place whole: the CLI reads it as soon as the name exists (test/api/api-file-atomic.test.ts).
    await writeFileDurably(apiFile, JSON.stringify({ url: api.url, token }) + '\n', { mode: API_FILE_MODE })
    stack.push('api.json', async () => { await fs.rm(apiFile, { force: true }) })
    nodeLog.info({
      nodeId: identity.nodeId, newIdentity: identity.created, clusterId: cluster.clusterId,
      cluster: join !== undefined ? (created ? 'joined' : 'rejoined') : (created ? 'created' : 'existing'),
      keyFingerprint: keyFingerprint(cluster.key), addresses: node.status().addresses, api: api.url, pnetCipher: DEFAULT_XSALSA20,
      signatureVerifier: ED25519_VERIFIER, signer: ED25519_SIGNER
    }, 'node started')
    // The fallback cipher is 3–5× slower per byte (docs/bench/content.md): say so, content transfers feel it.
    if (DEFAULT_XSALSA20 !== 'native') nodeLog.warn({ pnetCipher: DEFAULT_XSALSA20, signatureVerifier: ED25519_VERIFIER, signer: ED25519_SIGNER }, 'sodium-native did not load: the cluster key cipher runs on the slower WASM fallback, and signatures are made and verified by OpenSSL alone (the same bytes and verdicts, slower)')
    return node
  } catch (err) {
    await stack.unwind()
    throw err
  }
}

async function startServices (services: NodeService[], base: Omit<ServiceContext, 'log' | 'service'>, log: Logger, stack: Stack): Promise<NodeService[]> {
  const started: NodeService[] = []
  const names = new Set<string>()
  for (const s of services) {
    assert(!names.has(s.name), () => `duplicate service name ${s.name}`)
    assert(!NODE_STATUS_FIELDS.has(s.name), () => `service name ${s.name} is a field of the node's own status`)
    names.add(s.name)
    const ctx: ServiceContext = {
      ...base,
      log: log.forComponent(s.name),
      service: <T extends NodeService>(name: string) => started.find((x) => x.name === name) as T | undefined
    }
    await s.start(ctx)
    started.push(s)
    stack.push(s.name, async () => { await s.stop() })
  }
  return started
}

interface Parts {
  identity: { nodeId: string }
  cluster: Cluster
  net: NetNode
  redialer: Redialer
  mender: GossipStreamMender
  links: LinkMonitor
  services: NodeService[]
  api: ApiServer
  stack: Stack
  log: Logger
  dataDir: string
  stopRequested: Promise<StopRequest>
}

function makeNode (p: Parts): RevoadaNode {
  let stopping: Promise<void> | undefined
  const node: RevoadaNode = {
    nodeId: p.identity.nodeId,
    cluster: p.cluster,
    net: p.net,
    redialer: p.redialer,
    links: p.links,
    get apiUrl () { return p.api.url ?? '' },
    stopRequested: p.stopRequested,
    status: () => {
      const status: NodeStatus = {
        nodeId: p.identity.nodeId,
        clusterId: p.cluster.clusterId,
        addresses: p.net.getMultiaddrs().map((ma) => ma.toString()),
        peers: p.net.getPeers().map((id) => id.toString()).sort(),
        keyFingerprint: keyFingerprint(p.cluster.key),
        apiUrl: p.api.url,
        pid: process.pid,
        dataDir: path.resolve(p.dataDir),
        gossipStreams: { reopened: p.mender.reopened, openedLate: p.mender.openedLate },
        links: p.links.counters()
      }
      for (const s of p.services) {
        if (s.statusFields !== undefined) Object.assign(status, s.statusFields())
        if (s.status !== undefined) status[s.name] = s.status()
      }
      return status
    },
    joinString: () => encodeJoinString({ clusterId: p.cluster.clusterId, key: p.cluster.key, addresses: joinAddresses(p.net) }),
    stop: async () => {
      stopping ??= p.stack.unwind().then(() => { p.log.info({ nodeId: p.identity.nodeId }, 'node stopped') })
      await stopping
    }
  }
  return node
}

/** Cleanup actions run in reverse order; a failing step is logged and the rest still run. */
class Stack {
  private readonly steps: Array<{ name: string, run: () => Promise<void> }> = []
  constructor (private readonly log: Logger) {}

  push (name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run })
  }

  async unwind (): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop() as { name: string, run: () => Promise<void> }
      try {
        await step.run()
      } catch (err) {
        this.log.error({ step: step.name, err: (err as Error).message }, 'error while stopping')
      }
    }
  }
}
