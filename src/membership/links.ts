/**
 * @module membership/links
 * Bounded connections for a tiered observer (issue 16; the choice itself is core/links.ts). While this node is
 * an observer it redials only the peers it keeps, drops libp2p's keep-alive tag of the others (libp2p's own
 * reconnect queue would redial them) and closes a surplus connection gently: only to a member of its
 * configuration that is itself an observer not listening to heartbeats (a voter, a joiner, a node in full mode
 * or an observer back on heartbeats still wants its connections), after LINK_CLOSE_GRACE_MS (a new
 * connection's subscriptions arrive after it opens), and never while a stream other than gossip, identify or
 * ping is open on it (a content fetch, a Raft message). A joiner (core/joiner.ts) redials only its seeds and the
 * voters, and closes nothing. Any other tier keeps and redials every member.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection } from '@libp2p/interface'
import type { Logger } from '../log/index.js'
import type { NetNode, Redialer } from '../net/index.js'
import { KEEP_ALIVE_CLUSTER_TAG } from '../net/constants.js'
import { ConnectionAges } from '../net/connection-ages.js'
import { keptPeers, isVoterIn } from './core/index.js'
import type { RaftMembers, Tier } from './core/index.js'

/** Surplus connections are looked at this often (closing is no hurry; the scan walks every connection). */
export const LINK_TRIM_EVERY_MS = 5000
/** The configuration is looked at this often for a change of the kept peers (a tier change at once). */
export const LINK_CHECK_EVERY_MS = 1000
/** A connection younger than this is never closed: its peer's subscriptions may not have arrived yet. */
export const LINK_CLOSE_GRACE_MS = 10_000
/** Streams that every connection carries whether it is used or not; any other open stream means in use. */
const IDLE_PROTOCOLS: ReadonlySet<string> = new Set([
  '/meshsub/1.0.0', '/meshsub/1.1.0', '/meshsub/1.2.0', '/floodsub/1.0.0',
  '/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0'
])

export interface ObserverLinksInit {
  net: NetNode
  redialer: Redialer
  log: Logger
  self: string
  /** The heartbeat topic: a peer subscribed to it listens, and keeps its connections. */
  heartbeatTopic: string
  /** Ring neighbours kept on each side (core/links.ts). */
  ringNeighbours: number
}

/** True when a connection carries only the streams every connection has (nothing a close would cut). */
export function connectionIdle (connection: Pick<Connection, 'streams'>): boolean {
  return connection.streams.every((s) => s.protocol === undefined || IDLE_PROTOCOLS.has(s.protocol))
}

export class ObserverLinks {
  /** The peers kept, sorted and joined; 'all' keeps every member, 'none' until a configuration is known. */
  private scopeKey = 'none'
  private lastTrimMs = -Infinity
  private lastCheckMs = -Infinity
  private lastTier: Tier | undefined
  private closed = 0
  /** Connections' open stamps (wall clock) on `update`'s clock: a wall step does not age them (net/connection-ages.ts). */
  private readonly ages = new ConnectionAges()

  constructor (private readonly init: ObserverLinksInit) {}

  /**
   * Applies this node's tier and configuration. Called every membership tick; works at most every
   * LINK_CHECK_EVERY_MS unless the tier changed (the ring is a sort of every member). `joinerKept`: the peers a
   * joiner dials (core/joiner.ts), asked for only when this call does its work.
   */
  update (tier: Tier, conf: RaftMembers | undefined, nowMs: number, joinerKept?: () => ReadonlySet<string>): void {
    if (tier === this.lastTier && nowMs - this.lastCheckMs < LINK_CHECK_EVERY_MS) return
    this.lastTier = tier
    this.lastCheckMs = nowMs
    const kept = tier === 'observer' && conf !== undefined
      ? keptPeers(conf, this.init.self, this.init.ringNeighbours)
      : tier === 'joiner' ? joinerKept?.() : undefined
    // The first configuration is a change of scope even when it keeps every member: a node admitted before a
    // tick saw it a joiner never changes tier, and must still dial the members whose heartbeats it heard unlisted.
    const key = kept !== undefined ? [...kept].sort().join(',') : conf === undefined ? 'none' : 'all'
    if (key !== this.scopeKey) {
      this.scopeKey = key
      this.rescope(kept, conf, tier)
    }
    if (tier !== 'observer' || kept === undefined || conf === undefined || nowMs - this.lastTrimMs < LINK_TRIM_EVERY_MS) return
    this.lastTrimMs = nowMs
    this.trim(kept, conf, nowMs)
  }

  /** Connections closed as surplus so far (a counter for status and tests). */
  get closedCount (): number { return this.closed }

  /**
   * Redials the peers to keep and untags the other members. An admitted joiner comes here as its tier changes, or
   * with its first configuration if that already lists it, and dials every member it keeps: the members heard its
   * heartbeats while it was a joiner and did not dial it.
   */
  private rescope (kept: ReadonlySet<string> | undefined, conf: RaftMembers | undefined, tier: Tier): void {
    const { redialer, net, log, self } = this.init
    redialer.restrictTo(kept)
    const members = conf === undefined ? [] : confMembers(conf)
    for (const id of new Set([...members, ...(kept ?? [])])) {
      if (id === self) continue
      // Every member to keep is a redial target (a promoted learner reconnects to all; the peer store holds
      // their addresses from heartbeats and digests); the others lose the tag libp2p would redial them by.
      if (kept === undefined || kept.has(id)) redialer.addPeer(id)
      else void untag(net, id)
    }
    const what = kept === undefined ? 'connections: keeping every member' : tier === 'joiner' ? 'connections: joiner keeps its seeds and the voters' : 'connections: observer keeps voters and ring neighbours'
    log.info({ kept: kept === undefined ? 'all' : kept.size }, what)
  }

  private trim (kept: ReadonlySet<string>, conf: RaftMembers, nowMs: number): void {
    const { net, log, heartbeatTopic } = this.init
    const members = new Set([...conf.learners, ...conf.learnersNext])
    const listening = new Set(net.services.pubsub.getSubscribers(heartbeatTopic).map((p) => p.toString()))
    const untagged = new Set<string>()
    for (const connection of net.getConnections()) {
      const peer = connection.remotePeer.toString()
      if (kept.has(peer) || !members.has(peer) || isVoterIn(conf, peer)) continue
      // Untagged on every pass, whoever closes: a dial that was in flight when the scope changed tagged it
      // afterwards, and libp2p redials a tagged peer the moment the other end closes. A pass runs at least
      // once within the grace below, so both ends have untagged before either closes.
      if (!untagged.has(peer)) void untag(net, peer)
      untagged.add(peer)
      if (listening.has(peer)) continue
      if (nowMs - this.ages.openedAtMs(connection, nowMs) < LINK_CLOSE_GRACE_MS || !connectionIdle(connection)) continue
      this.closed++
      log.debug({ peer }, 'closing a surplus connection to an observer')
      connection.close().catch((err: unknown) => { connection.abort(err as Error) })
    }
  }
}

function confMembers (conf: RaftMembers): string[] {
  return [...new Set([...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext])]
}

async function untag (net: NetNode, peer: string): Promise<void> {
  try {
    await net.peerStore.merge(peerIdFromString(peer), { tags: { [KEEP_ALIVE_CLUSTER_TAG]: undefined } })
  } catch {
    // Unknown peer or a malformed id: nothing tagged.
  }
}
