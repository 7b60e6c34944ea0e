/**
 * @module node/service
 * The extension point of the node. Later layers (Raft consensus, membership, policy…) plug in as a
 * `NodeService` passed to `startNode({ services })`:
 *
 * - `start(ctx)` runs after the network and the admin API's built-in routes exist, in the order the services
 *   are given; `ctx` hands over the config, identity, cluster, libp2p node, a namespaced logger, and the
 *   services started before (to look up a dependency by name).
 * - `routes(app)` (optional) runs before the API starts listening; register routes under `/v1/<name>/…`.
 *   The bearer-token check already covers them.
 * - `status()` (optional) contributes `{ [name]: status() }` to `GET /v1/status` and `revoada status --json`.
 * - `stop()` runs in reverse start order during graceful shutdown, before the network stops; release
 *   every timer, stream and handler there.
 */
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/index.js'
import type { Logger } from '../log/index.js'
import type { NetNode, Cluster, KnownPeers, Redialer } from '../net/index.js'
import type { PrivateKey } from '@libp2p/interface'
import type { RaftStartMode } from './raft-dir-check.js'
import type { Ticker } from '../util/ticker.js'
import type { LinkMonitorCounters } from '../net/link-monitor.js'

/** What a service receives when it starts. */
export interface ServiceContext {
  config: Config
  nodeId: string
  privateKey: PrivateKey
  cluster: Cluster
  net: NetNode
  redialer: Redialer
  /**
   * `peers.json` (net/known-peers.ts): membership records there the addresses the members of this node's Raft
   * configuration announce in their heartbeats. Absent in hand-built contexts.
   */
  knownPeers?: Pick<KnownPeers, 'announced'>
  /** How consensus starts on this data dir (node/raft-dir-check.ts). @default 'normal' */
  raftStart?: RaftStartMode
  /**
   * The node's one periodic wake-up (util/ticker.ts): services run their periodic duties on it rather than
   * on timers of their own, so an idle node wakes once per tick, not once per timer. Absent (tests that
   * build a context by hand): use `intervalTicker`.
   */
  ticker?: Ticker
  /** Gossipsub streams the node opened itself (net/gossip-streams.ts), for metrics. Absent in hand-built contexts. */
  gossipStreams?: () => { reopened: number, openedLate: number }
  /** What the link monitor did (net/link-monitor.ts), for metrics. Absent in hand-built contexts. */
  links?: () => LinkMonitorCounters
  /** `revoada:<service name>` logger. */
  log: Logger
  /** A service started earlier, by name; undefined if absent. */
  service: <T extends NodeService>(name: string) => T | undefined
  /**
   * Asks whoever runs the node (the CLI's `start`) to stop it and exit with `exitCode`, saying `message`
   * (e.g. the node left or was removed from its cluster). The first request wins.
   */
  requestStop: (request: StopRequest) => void
}

/** Why a service wants the node stopped, and the process exit code that says so. */
export interface StopRequest {
  exitCode: number
  message: string
}

/** A pluggable layer of the node. */
export interface NodeService {
  /** Unique, lowercase; used as the logger namespace, status key and route prefix. */
  readonly name: string
  start: (ctx: ServiceContext) => Promise<void>
  stop: () => Promise<void>
  status?: () => Record<string, unknown>
  /**
   * Fields merged at the top level of the status (the consensus layer's `leader`, `term`, `roles`… that
   * `revoada status --json` documents at the top). Names must not clash with the node's own fields.
   */
  statusFields?: () => Record<string, unknown>
  routes?: (app: FastifyInstance) => void
}
