/**
 * @module net/gossip-streams
 * Reopens gossipsub's stream to a peer that is still connected but lost it. @libp2p/gossipsub 17 opens its one
 * outbound stream to a peer only when identify reports the peer on a connection (the registrar's `onConnect`)
 * or when the peer opens a stream to it. When a peer has two connections — both ends dialled each other at once,
 * or a redial found the old connection still closing — and the one carrying the streams closes, both ends drop
 * their stream and neither opens a new one: no new connection, so no `onConnect`. The peers stay connected
 * and silent for good: neither hears the other's heartbeats, digests, decisions or content announcements.
 * Found while chasing a 50-node voter deaf to two live observers (docs/bench/scale.md, "A voter that never hears
 * two observers again"; that needed membership's voter reconnection too). Upstream, js-libp2p PR 3531 leaves
 * "a stream that closes while its connection stays open" as a follow-up. `test/net/gossip-streams.test.ts`.
 *
 * The mender looks every `GOSSIP_STREAM_CHECK_MS` at every peer with an open connection and no outbound
 * gossipsub stream, and hands it to gossipsub as newly connected, which opens the stream and sends this node's
 * subscriptions; the other end answers the inbound stream with its own. Two cases, told apart by whether the
 * mender saw a stream to that peer while it stayed connected:
 * - **lost**: it had one. Acted on once the connection is `GOSSIP_STREAM_LOST_GRACE_MS` old: counted in
 *   `reopened` and logged.
 * - **never opened**: gossipsub has not opened one since the peer connected, normally because identify has not
 *   finished on a starved node (a forming 50-node fleet's seed has dozens of such peers at once). Acted on only
 *   once the connection is `GOSSIP_STREAM_NEW_GRACE_MS` old (identify that never finishes would leave it
 *   unopened for good): counted in `openedLate`, logged at debug.
 */
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../log/index.js'
import type { NetNode } from './libp2p.js'
import { intervalTicker, type StopDuty, type Ticker } from '../util/ticker.js'
import { steadyNowMs } from '../util/clock.js'
import { ConnectionAges } from './connection-ages.js'

/** How often the mender looks (a whole multiple of the node's 100 ms tick). */
export const GOSSIP_STREAM_CHECK_MS = 1_000
/** Age of a connection before a lost stream to its peer is reopened (a new connection's own stream opens meanwhile). */
export const GOSSIP_STREAM_LOST_GRACE_MS = 1_000
/**
 * Age of a connection before a stream gossipsub never opened is opened for it: below the ≈ 4 s in which a
 * tiered voter suspects a silent observer (docs/MEMBERSHIP.md, "Large clusters").
 */
export const GOSSIP_STREAM_NEW_GRACE_MS = 3_000

/** What the mender reads of one libp2p connection. */
export interface ConnectionFacts {
  peer: string
  status: string
  openedAt: number
  /** A limited (relayed) connection: gossipsub does not run on it here. */
  limited: boolean
}

/** A peer to open a stream to: the index of its oldest open connection, and whether it had a stream before. */
export interface StreamlessPeer { index: number, lost: boolean }

/**
 * The connected peers without an outbound stream (`hasStream`) to act on at `now`: each with an open,
 * unlimited connection at least `lostGraceMs` old if it had a stream before (`hadStream`), `newGraceMs` if not.
 * Pure.
 */
export function peersWithoutStream (
  connections: readonly ConnectionFacts[], hasStream: (peer: string) => boolean, hadStream: (peer: string) => boolean,
  now: number, grace: { lostMs: number, newMs: number }
): Map<string, StreamlessPeer> {
  const oldest = new Map<string, number>()
  connections.forEach((c, i) => {
    if (c.status !== 'open' || c.limited || hasStream(c.peer)) return
    const held = oldest.get(c.peer)
    if (held === undefined || (connections[held] as ConnectionFacts).openedAt > c.openedAt) oldest.set(c.peer, i)
  })
  const chosen = new Map<string, StreamlessPeer>()
  for (const [peer, index] of oldest) {
    const lost = hadStream(peer)
    if (now - (connections[index] as ConnectionFacts).openedAt >= (lost ? grace.lostMs : grace.newMs)) chosen.set(peer, { index, lost })
  }
  return chosen
}

/** The parts of @libp2p/gossipsub 17's instance read here (not in its public type). */
interface GossipsubStreams {
  streamsOutbound: Map<string, unknown>
  streamsInbound: Map<string, unknown>
  onPeerConnected: (peerId: PeerId, connection: unknown) => void
}

/**
 * Gossipsub's stream tables, by peer id: the one place that reads them (membership's `reach` and its suspicion
 * log line use them too). Undefined when this gossipsub version does not have them.
 */
export function gossipStreamTables (net: NetNode): { outbound: ReadonlyMap<string, unknown>, inbound: ReadonlyMap<string, unknown> } | undefined {
  const gossip = net.services.pubsub as unknown as Partial<GossipsubStreams>
  if (!(gossip.streamsOutbound instanceof Map) || !(gossip.streamsInbound instanceof Map)) return undefined
  return { outbound: gossip.streamsOutbound, inbound: gossip.streamsInbound }
}

/** The parts of @libp2p/gossipsub 17's instance its outbound stream queue is made of (not in its public type). */
interface GossipsubOutboundQueue {
  outboundInflightQueue: { push: (item: { peerId: PeerId, connection: unknown }) => void, end: () => void }
  createOutboundStream: (peerId: PeerId, connection: unknown) => Promise<void>
}

/**
 * Has gossipsub open its outbound streams one at a time per peer instead of one at a time for the whole node.
 * @libp2p/gossipsub 17 pushes every stream to open (a peer connected, an inbound stream from a peer
 * without an outbound one, this mender's reopenings) onto one queue, which opens them in turn so that no peer
 * gets two: each waits for the remote end to answer the protocol negotiation, so one peer slow to answer holds
 * back every other peer's stream, up to libp2p's 10 s negotiation timeout, and with it this node's
 * subscriptions, heartbeats and digests to them. A voter promoted in a forming 50-node fleet dials 47 starved
 * observers at once, and it had no stream to most of them 10–12 s later (docs/bench/scale.md, "A new voter
 * that hears late, and gossipsub's outbound streams one at a time"). The queue is replaced by one chain per peer: each peer's streams still
 * open in order and never two at once; different peers no longer wait for each other. Called once gossipsub has
 * started (its start makes a fresh queue); returns false, and changes nothing, if this gossipsub lacks the
 * queue. `test/net/gossip-streams.test.ts`.
 */
export function openOutboundStreamsPerPeer (net: NetNode): boolean {
  const gossip = net.services.pubsub as unknown as Partial<GossipsubOutboundQueue>
  const shared = gossip.outboundInflightQueue
  const create = gossip.createOutboundStream
  if (typeof create !== 'function' || typeof shared?.push !== 'function' || typeof shared.end !== 'function') return false
  const tails = new Map<string, Promise<void>>()
  gossip.outboundInflightQueue = {
    push: ({ peerId, connection }) => {
      const id = peerId.toString()
      // createOutboundStream catches its own errors; the catch keeps a chain alive whatever happens.
      const tail = (tails.get(id) ?? Promise.resolve()).then(async () => { await create.call(gossip, peerId, connection) }).catch(() => {})
      tails.set(id, tail)
      void tail.then(() => { if (tails.get(id) === tail) tails.delete(id) })
    },
    end: () => { tails.clear() }
  }
  // Items already queued are still opened; the shared queue's loop then ends.
  shared.end()
  return true
}

/** A peer whose stream keeps going missing is logged at most once per this period (the count goes on). */
const LOG_EVERY_MS = 60_000

/** Opens missing gossipsub streams to connected peers; counts them (node status `gossipStreams`). */
export class GossipStreamMender {
  /** Streams reopened after gossipsub lost them while the peer stayed connected. */
  reopened = 0
  /** Streams gossipsub had not opened `GOSSIP_STREAM_NEW_GRACE_MS` after the peer connected. */
  openedLate = 0
  private stopDuty: StopDuty | undefined
  /** Connected peers the mender has seen a stream to; a peer leaves when it has no connection left. */
  private readonly hadStream = new Set<string>()
  private readonly loggedAt = new Map<string, number>()
  /** Connections' open stamps (wall clock) on `now`: a wall step does not age them (connection-ages.ts). */
  private readonly ages = new ConnectionAges()

  constructor (
    private readonly net: NetNode,
    private readonly log: Logger,
    private readonly now: () => number = steadyNowMs
  ) {}

  start (ticker: Ticker = intervalTicker): void {
    this.stopDuty ??= ticker.every(GOSSIP_STREAM_CHECK_MS, () => { this.check() })
  }

  stop (): void {
    this.stopDuty?.()
    this.stopDuty = undefined
  }

  /** One look at every connection; returns how many streams it asked gossipsub to open. */
  check (): number {
    const gossip = this.net.services.pubsub as unknown as GossipsubStreams
    const tables = gossipStreamTables(this.net)
    if (typeof gossip.onPeerConnected !== 'function' || tables === undefined) return 0
    const connections = this.net.getConnections()
    const now = this.now()
    const facts = connections.map((c) => ({ peer: c.remotePeer.toString(), status: c.status, openedAt: this.ages.openedAtMs(c, now), limited: c.limits != null }))
    const connected = new Set(facts.map((c) => c.peer))
    for (const peer of this.hadStream) if (!connected.has(peer)) this.hadStream.delete(peer)
    for (const peer of this.loggedAt.keys()) if (!connected.has(peer)) this.loggedAt.delete(peer)
    const hasStream = (peer: string): boolean => tables.outbound.has(peer)
    const missing = peersWithoutStream(facts, hasStream, (peer) => this.hadStream.has(peer), now, { lostMs: GOSSIP_STREAM_LOST_GRACE_MS, newMs: GOSSIP_STREAM_NEW_GRACE_MS })
    for (const peer of connected) if (hasStream(peer)) this.hadStream.add(peer)
    for (const [peer, { index, lost }] of missing) {
      const connection = connections[index]
      if (connection === undefined) continue
      const fields = { peer, connections: facts.filter((c) => c.peer === peer).length }
      if (lost) {
        this.reopened++
        if (now - (this.loggedAt.get(peer) ?? -Infinity) >= LOG_EVERY_MS) {
          this.loggedAt.set(peer, now)
          this.log.info({ ...fields, reopened: this.reopened }, 'connected peer lost its gossip stream; reopening it')
        }
      } else {
        this.openedLate++
        this.log.debug(fields, 'gossipsub opened no stream to a peer connected for 3 s; opening it')
      }
      gossip.onPeerConnected(connection.remotePeer, connection)
    }
    return missing.size
  }
}

