/**
 * @module net/redial
 * Keeps this node connected to every known cluster peer. libp2p dials bootstrap peers once and drops its
 * keep-alive reconnects after ~30 s (libp2p-notes §6), and discovery never auto-dials, so a static cluster
 * needs its own loop: every `intervalMs` each unconnected target whose backoff has elapsed is dialled, and a
 * failure doubles its backoff (with jitter) up to `backoffMaxMs`. Targets are seed addresses (dialled without
 * a PeerId) and every peer ever connected. The number of targets is bounded by REDIAL_PEERS_MAX; in a full table a
 * new peer takes the place of the peer target longest without a connection (`add`). A tiered
 * observer keeps only some peers (membership/links.ts, `restrictTo`): the other targets stay known but are not
 * dialled until the restriction is lifted; so does a quiet joiner (core/joiner.ts), which keeps its seeds and the voters.
 * A member removed from the cluster is forgotten (`forget`, called by consensus when the shape's `removed` list
 * names it): it stops being a target, loses the keep-alive tag libp2p would reconnect it by, and neither its
 * connecting again nor anyone's `addPeer` makes it a target again (docs/MEMBERSHIP.md, "Removed members are not
 * redialled"); `onForget` listeners hear of it (known-peers.ts drops it from `peers.json`).
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../log/index.js'
import type { Config } from '../config/index.js'
import type { NetNode } from './libp2p.js'
import { classifyDialError, refusedEverywhere } from './dial-errors.js'
import { intervalTicker, type StopDuty, type Ticker } from '../util/ticker.js'
import { assert } from '../util/assert.js'
import { steadyNowMs } from '../util/clock.js'
import { KEEP_ALIVE_CLUSTER_TAG, KEEP_ALIVE_TAG_VALUE, REDIAL_FORGOTTEN_MAX, REDIAL_PEERS_MAX } from './constants.js'

/** Dials at once per round; the rest wait for the next round. */
const REDIAL_PARALLEL_MAX = 8

interface Target {
  /** Seed address (no PeerId) or undefined for a peer target. */
  address?: Multiaddr
  /** Learned after the first successful dial of an address target. */
  peerId?: string
  backoffMs: number
  nextAttemptAt: number
  inFlight: boolean
  /** When it was last found connected, or added: the one longest without a connection makes room (add). */
  seenMs: number
  /** Last failure reason logged, so a peer that stays down does not flood the log. */
  lastError?: string
}

/** The redial loop; `start()` begins the timer, `stop()` cancels it and waits for in-flight dials. */
export class Redialer {
  private readonly targets = new Map<string, Target>()
  private timer: NodeJS.Timeout | undefined
  private stopRounds: StopDuty | undefined
  private readonly inFlight = new Set<Promise<void>>()
  private stopped = true
  private overflowLogged = false
  /** When set, only these peers are dialled (address targets whose peer is not known yet still are). */
  private scope: ReadonlySet<string> | undefined
  private readonly refusedListeners = new Set<(peerId: string) => void>()
  private readonly forgetListeners = new Set<(peerId: string) => void>()
  /**
   * Removed members (`forget`), oldest first: never a target again. At most REDIAL_FORGOTTEN_MAX; beyond it the
   * oldest may become a target again, as the shape itself forgets the oldest removals beyond its own 1024.
   */
  private readonly forgotten = new Set<string>()
  /** Ids `addPeer` refused as no peer id, each logged once (at most BAD_IDS_LOGGED_MAX remembered). */
  private readonly badIdsLogged = new Set<string>()

  constructor (
    private readonly node: NetNode,
    private readonly net: Config['net'],
    private readonly log: Logger,
    /** The clock of the backoff (`nextAttemptAt`): a wall-clock step back must not stall redials for its size. */
    private readonly now: () => number = steadyNowMs
  ) {}

  /**
   * Calls `listener` with a known peer's id each time a dial to it is refused on every address
   * (dial-errors.ts refusedEverywhere: its process is gone). Returns the unsubscribe function.
   */
  onRefused (listener: (peerId: string) => void): () => void {
    this.refusedListeners.add(listener)
    return () => { this.refusedListeners.delete(listener) }
  }

  /**
   * Calls `listener` with a peer's id when `forget` first forgets it (not again while it stays forgotten).
   * Returns the unsubscribe function.
   */
  onForget (listener: (peerId: string) => void): () => void {
    this.forgetListeners.add(listener)
    return () => { this.forgetListeners.delete(listener) }
  }

  /** Whether `peerId` is a forgotten removed member (`forget`; at most REDIAL_FORGOTTEN_MAX remembered). */
  isForgotten (peerId: string): boolean {
    return this.forgotten.has(peerId)
  }

  /** Adds a seed address (with or without `/p2p/`). */
  addAddress (address: string): void {
    // A join string of this very node (or a seed equal to our own listen address) would only dial ourselves.
    const own = this.node.getMultiaddrs().map((ma) => ma.toString().replace(/\/p2p\/[^/]+$/, ''))
    if (own.includes(address)) return
    this.add(`addr:${address}`, { address: multiaddr(address) })
  }

  /**
   * Adds a peer to keep connected (e.g. every peer that connected to us). An id that is no libp2p peer id is
   * left out with one warning: a member id is any short string to the shape (a key holder can commit
   * `add-member` for one), and the round's `peerIdFromString` threw on it from a timer, which stopped the
   * process on every node that had it in its configuration.
   */
  addPeer (peerId: string): void {
    if (peerId === this.node.peerId.toString() || this.forgotten.has(peerId)) return
    for (const t of this.targets.values()) if (t.peerId === peerId) return
    // Parsed only for a new target: addPeer runs on every connection, heartbeat and configuration pass.
    if (!isPeerIdString(peerId)) {
      if (this.badIdsLogged.size < BAD_IDS_LOGGED_MAX && !this.badIdsLogged.has(peerId)) {
        this.badIdsLogged.add(peerId)
        this.log.warn({ peer: peerId }, 'not a peer id: not redialled')
      }
      return
    }
    this.add(`peer:${peerId}`, { peerId })
  }

  /**
   * Stops redialling a member removed from the cluster, for good: its target goes, and so does a seed address
   * that turned out to be it; libp2p's keep-alive tag goes too (libp2p would reconnect a tagged peer the moment
   * its connection closes); `addPeer` ignores it from now on; `onForget` listeners are told (known-peers.ts). An
   * open connection is left alone: over it the removed node learns its removal from the log, or the leader tells
   * it (consensus/removal.ts).
   */
  forget (peerId: string): void {
    if (peerId === this.node.peerId.toString() || this.forgotten.has(peerId)) return
    this.forgotten.add(peerId)
    if (this.forgotten.size > REDIAL_FORGOTTEN_MAX) this.forgotten.delete(this.forgotten.values().next().value as string)
    let dropped = 0
    for (const [key, t] of this.targets) {
      if (t.peerId !== peerId) continue
      this.targets.delete(key)
      dropped++
    }
    assert(!this.tracks(peerId), () => `forgotten peer ${peerId} still a redial target`)
    for (const listener of this.forgetListeners) listener(peerId)
    if (dropped === 0) return
    this.log.info({ peer: peerId }, 'removed member forgotten: no longer redialled')
    void this.untag(peerId)
  }

  /** Whether `peerId` is a redial target now (a peer target, or a seed address that turned out to be it). */
  tracks (peerId: string): boolean {
    for (const t of this.targets.values()) if (t.peerId === peerId) return true
    return false
  }

  /** Dials only `peers` from now on (undefined: every target again). */
  restrictTo (peers: ReadonlySet<string> | undefined): void {
    this.scope = peers
  }

  /** The peers that seed addresses (join strings) turned out to be, once dialled. */
  seedPeers (): string[] {
    return [...this.targets.values()].flatMap((t) => t.address !== undefined && t.peerId !== undefined ? [t.peerId] : [])
  }

  /** Number of tracked targets. */
  get size (): number { return this.targets.size }

  /** Runs a round now, then every `net.redialIntervalMs` on `ticker` (the node's, so it wakes nothing of its own). */
  start (ticker: Ticker = intervalTicker): void {
    this.stopped = false
    this.node.addEventListener('peer:connect', this.onConnect)
    // Discovery (mDNS) only fills the peer store in libp2p 3; nothing dials what it finds unless we do.
    if (this.net.mdns) this.node.addEventListener('peer:discovery', this.onDiscovery)
    this.timer = setTimeout(() => { this.round() }, 0)
    this.timer.unref()
    this.stopRounds = ticker.every(this.net.redialIntervalMs, () => { this.round() })
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.node.removeEventListener('peer:connect', this.onConnect)
    this.node.removeEventListener('peer:discovery', this.onDiscovery)
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.stopRounds?.()
    await Promise.allSettled([...this.inFlight])
  }

  private readonly onConnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const peer = evt.detail.toString()
    this.addPeer(peer)
    // Seen now: a round stamps only the peers connected when it runs, and a connection gone by then left a
    // long-lived peer with the stamp of its addition, the first to make room (dropStalest).
    for (const t of this.targets.values()) if (t.peerId === peer) t.seenMs = this.now()
  }

  private readonly onDiscovery = (evt: CustomEvent<{ id: { toString: () => string } }>): void => {
    this.addPeer(evt.detail.id.toString())
  }

  /**
   * Adds a target. In a full table the peer target longest without a connection makes room (never a seed address,
   * a connected peer or a dial in flight): every peer ever connected stays a target, and peers.json brings back up
   * to KNOWN_PEERS_MAX peers at a restart, stale ones included, so refusing new peers left the members met after
   * that never redialled for the life of the process. Only when nothing can make room is the new one left out.
   */
  private add (key: string, fields: Pick<Target, 'address' | 'peerId'>): void {
    if (this.targets.has(key)) return
    if (this.targets.size >= REDIAL_PEERS_MAX && !this.dropStalest()) {
      if (!this.overflowLogged) this.log.warn({ max: REDIAL_PEERS_MAX }, 'redial target limit reached, every target connected or dialling; not tracking more peers')
      this.overflowLogged = true
      return
    }
    this.targets.set(key, { ...fields, backoffMs: this.net.redialBackoffMinMs, nextAttemptAt: 0, inFlight: false, seenMs: this.now() })
  }

  /** Drops the peer target longest without a connection (add); false when each one is connected or dialling. */
  private dropStalest (): boolean {
    let stalest: [string, Target] | undefined
    for (const entry of this.targets) {
      const t = entry[1]
      if (t.address !== undefined || t.inFlight || this.connected(t)) continue
      if (stalest === undefined || t.seenMs < stalest[1].seenMs) stalest = entry
    }
    if (stalest === undefined) return false
    this.targets.delete(stalest[0])
    this.log.debug({ peer: stalest[1].peerId, max: REDIAL_PEERS_MAX }, 'redial target limit reached; the target longest without a connection makes room')
    return true
  }

  private connected (t: Target): boolean {
    if (t.peerId === undefined) return false
    return this.node.getConnections(peerIdFromString(t.peerId)).length > 0
  }

  /**
   * Dials the due targets, the one due longest first, at most REDIAL_PARALLEL_MAX in flight. In table order
   * instead, stale targets at its head (peers.json's, loaded first) that were due again by every round took every
   * slot — at the defaults 16 whose dials time out — and the targets after them were never dialled.
   */
  private round (): void {
    if (this.stopped) return
    const now = this.now()
    const due: Target[] = []
    for (const t of this.targets.values()) {
      if (this.connected(t)) {
        t.seenMs = now
        continue
      }
      if (t.inFlight || now < t.nextAttemptAt) continue
      if (this.scope !== undefined && t.peerId !== undefined && !this.scope.has(t.peerId)) continue
      due.push(t)
    }
    due.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
    for (const t of due) {
      if (this.inFlight.size >= REDIAL_PARALLEL_MAX) break
      const p = this.dial(t).finally(() => { this.inFlight.delete(p) })
      this.inFlight.add(p)
    }
  }

  private async dial (t: Target): Promise<void> {
    t.inFlight = true
    const what = t.address?.toString() ?? t.peerId ?? '?'
    try {
      const target = t.address ?? peerIdFromString(t.peerId as string)
      const conn = await this.node.dial(target, { signal: AbortSignal.timeout(this.net.dialTimeoutMs) })
      const peerId = conn.remotePeer.toString()
      if (this.forgotten.has(peerId)) {
        // A seed address that turns out to be a removed member, or a forget that came while this dial was in flight.
        this.dropTarget(t)
        await this.untag(peerId)
        return
      }
      if (t.peerId !== peerId) this.targets.delete(`peer:${peerId}`)
      t.peerId = peerId
      t.seenMs = this.now()
      t.backoffMs = this.net.redialBackoffMinMs
      t.lastError = undefined
      // A peer out of scope (the restriction came while this dial was in flight) is not tagged for libp2p's redial.
      if (this.scope === undefined || this.scope.has(peerId)) await this.node.peerStore.merge(conn.remotePeer, { tags: { [KEEP_ALIVE_CLUSTER_TAG]: { value: KEEP_ALIVE_TAG_VALUE } } })
      this.log.info({ peer: peerId, via: what }, 'connected to cluster peer')
    } catch (err) {
      if (this.stopped) return
      await this.onDialFailure(t, what, err)
    } finally {
      t.inFlight = false
    }
  }

  private dropTarget (target: Target): void {
    for (const [key, t] of this.targets) if (t === target) this.targets.delete(key)
  }

  private async untag (peerId: string): Promise<void> {
    try {
      await this.node.peerStore.merge(peerIdFromString(peerId), { tags: { [KEEP_ALIVE_CLUSTER_TAG]: undefined } })
    } catch {
      // Unknown to the peer store, or not a PeerId: nothing tagged.
    }
  }

  private async onDialFailure (t: Target, what: string, err: unknown): Promise<void> {
    // Only a target that never connected can have the wrong key; one that did and now stalls is a frozen or
    // overloaded peer (a stopped process still accepts TCP, which would fool the probe).
    const classified = t.address !== undefined && t.peerId === undefined ? await classifyDialError(t.address, err) : err
    const message = (classified as Error).message ?? String(classified)
    if (message !== t.lastError) {
      const level = (classified as Error).name === 'ClusterKeyProbablyWrongError' ? 'error' : 'warn'
      this.log[level]({ target: what, err: message, retryInMs: t.backoffMs }, 'dial to cluster peer failed')
    }
    t.lastError = message
    const peer = t.peerId
    if (peer !== undefined && refusedEverywhere(err)) for (const listener of this.refusedListeners) listener(peer)
    // Jitter in [0.5, 1) of the backoff keeps restarted nodes from dialling each other in lockstep.
    t.nextAttemptAt = this.now() + t.backoffMs * (0.5 + Math.random() / 2)
    t.backoffMs = Math.min(this.net.redialBackoffMaxMs, t.backoffMs * 2)
  }
}

/** How many refused ids `addPeer` remembers so as to warn about each once. */
const BAD_IDS_LOGGED_MAX = 64

/** True when `id` parses as a libp2p peer id (base58btc multihash or CID). */
function isPeerIdString (id: string): boolean {
  try {
    peerIdFromString(id)
    return true
  } catch {
    return false
  }
}
