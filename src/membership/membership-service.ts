/**
 * @module membership/membership-service
 * Layer A on the wire (issue 4): every node publishes a heartbeat (its NodeState, canonical CBOR) on the
 * cluster's gossipsub topic `revoada/<clusterId>/membership/1`; gossipsub's strict signing proves the
 * sender and a topic validator judges each message before it is delivered or forwarded (invalid →
 * Reject, which gossipsub's scoring penalizes; replayed or stale → Ignore). Accepted heartbeats feed the
 * pure MemberTable; a timer advances it; subscribers get every new view and every event. Above
 * TIERED_ABOVE_MEMBERS members in this node's applied Raft configuration only voters receive heartbeats;
 * the leader publishes a liveness digest on `revoada/<clusterId>/membership-digest/2` and the other members
 * take their view from it (core/tier.ts; docs/MEMBERSHIP.md, "Large clusters"). A joiner (a node its configuration
 * does not list) takes the leader's digest too and dials only its seeds and the voters (core/joiner.ts). A new
 * voter keeps taking digests until it has heard every member it awaits: they vouch for them (MemberTable.vouch).
 *
 * Gossip says who is alive; it never decides roles (DESIGN.md §4).
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import type { FastifyInstance } from 'fastify'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeCanonical, encodeCanonical } from '../codec/index.js'
import type { NodeService, ServiceContext } from '../node/service.js'
import { membershipDigestTopic, membershipTopic } from '../net/index.js'
import { gossipStreamTables } from '../net/gossip-streams.js'
import { ConnectionAges } from '../net/connection-ages.js'
import { isLocalPingRefusal } from '../net/link-monitor.js'
import { PROTOCOL_LEVEL, PROTOCOL_LEVEL_MIN } from '../consensus/shape/core/protocol.js'
import { MemberTable, judgeHeartbeat, heartbeatIntervalMs, needsRelay, reachOf, tierOf, isVoterIn, membersOf, observerMustListen, digestDue, judgeDigest, digestRecord, compactDigest, fullDigestDue, joinerMustListen, joinerDialTargets, joinerAsksLeader, dialsHeardMember, votersToReconnect, newVoterWatch, MembershipConstants as C } from './core/index.js'
import type { DropReason, DigestDropReason, MembershipEvent, MembershipView, NodeState, Capacity, RaftMembers, Tier } from './core/index.js'
import { nextGeneration } from './generation.js'
import { parseAdvertisedAddresses } from './addresses.js'
import { steadyNowMs } from '../util/clock.js'
import { intervalTicker, type StopDuty } from '../util/ticker.js'
import { machineCapacity } from './machine.js'
import { ObserverLinks } from './links.js'
import { voterMustRelay } from './core/links.js'
import { doubledWaitMs } from './core/address-lookup.js'
import { addressesThatFit, checkOwnHeartbeat } from './own-heartbeat.js'

export interface MembershipServiceInit {
  /** The roles this node holds per the committed shape (the consensus layer provides it). @default [] */
  roles?: () => string[]
  /** @default version of revoada */
  version?: string
  labels?: Record<string, string>
  kubernetesVersion?: string
  capacity?: Partial<Capacity>
  /**
   * Injected clock (ms) for failure detection, events and uptime. It must not step: a wall-clock jump
   * would look like every member falling silent at once (issue 9 item 7).
   * @default steadyNowMs (reads like the wall clock at start, advances monotonically)
   */
  nowMs?: () => number
  /**
   * This node's applied Raft configuration (undefined before consensus runs): it decides the tier
   * (core/tier.ts) and which peers' liveness digests are trusted. Without it membership stays in full mode.
   */
  raftConfiguration?: () => RaftMembers | undefined
  /**
   * Whether this node's applied MeshShape names `id` (a member whose learner step may still be pending: admission
   * commits `add-member` before the configuration change). Such a member, like one the configuration lists, is never
   * forgotten to make room for another in a full table, and gets room made for it (MemberTable.makeRoom).
   * @default () => false
   */
  inShape?: (id: string) => boolean
  /** Whether this node leads Raft now (the leader publishes the digest in tiered mode). @default () => false */
  isLeader?: () => boolean
  /**
   * Asks a connected peer which node leads and stores the addresses it gives (the address lookup's leader
   * question, membership/address-lookup.ts); resolves with the leader's id or undefined. A joiner with no digest
   * asks (core/joiner.ts joinerAsksLeader) and dials the answer. @default none: a joiner waits for its fallback
   */
  askLeader?: (peer: string) => Promise<string | undefined>
  /** Configuration members above which membership runs tiered. @default TIERED_ABOVE_MEMBERS */
  tieredAboveMembers?: number
  /** The leader's digest period (tests). @default DIGEST_INTERVAL_MS */
  digestIntervalMs?: number
}

/** The typed subscribe interface other layers use (the policy engine). */
export interface Membership {
  view(): MembershipView
  subscribe(listener: (view: MembershipView, events: MembershipEvent[]) => void): () => void
  recentEvents(): MembershipEvent[]
}

const TICK_MS = C.TICK_INTERVAL_MS_DEFAULT
const LEAVE_ANNOUNCEMENTS = 2
/** A first subscriber's prompt heartbeat is retried this often while it reaches nobody… */
const PROMPT_RETRY_MS = 50
/** …at most this many times (one second), after which the regular period takes over. */
const PROMPT_TRIES = 20
/**
 * A suspect member's connection must answer one ping within this long, or it is closed (unless a heartbeat
 * came meanwhile). Heartbeats prove liveness cheaply, so the link monitor's round runs rarely and pings only
 * quiet connections (net.pingIntervalMs, 10 s; net/link-monitor.ts); this ping finds a frozen peer's or a dead link's connection within
 * suspicion time + this timeout. 2 s, not 1: on a saturated machine a live peer's answer can take that long,
 * and a closed connection costs both sides a new handshake.
 */
const SUSPECT_PING_TIMEOUT_MS = 2000
/** A connected voter's heartbeat subscription is checked every this many ticks (1 s at the 100 ms tick). */
const VOTER_SUBSCRIPTION_CHECK_TICKS = 10
/**
 * How long a voter must have been one in this node's configuration, been connected and been missing from the
 * heartbeat topic's subscribers before this node reconnects to it: a new connection's streams open (3 s late
 * at most, net/gossip-streams.ts), a promoted voter subscribes on the tick after it applies its promotion, and
 * a starved leader opens its streams to 49 joiners one after another (at 5 s one observer of a forming 50-node
 * fleet reconnected to the leader; docs/bench/scale.md). Well inside the 60 s after which a voter removes a
 * dead member from its view.
 */
const VOTER_SUBSCRIPTION_GRACE_MS = 10_000
/** A voter reconnected to is not reconnected to again for this long (one that lags applying its promotion). */
const VOTER_RECONNECT_RETRY_MS = 30_000
/** Connected peers a joiner asks which node leads in one round (askForLeader): its seeds first. */
const ANSWERERS_PER_LEADER_ASK = 3
export class MembershipService implements NodeService, Membership {
  readonly name = 'membership'
  private ctx!: ServiceContext
  private table!: MemberTable
  private topic = ''
  private self!: NodeState
  private startedAtMs = 0
  private heartbeatTimer: NodeJS.Timeout | undefined
  private stopped = false
  private stopTick: StopDuty | undefined
  private readonly listeners = new Set<(view: MembershipView, events: MembershipEvent[]) => void>()
  private readonly events: MembershipEvent[] = []
  private readonly drops = new Map<DropReason, number>()
  private published = 0
  private accepted = 0
  private relayed = 0
  /** The configured period; the one in force grows with the cluster (heartbeat-interval.ts). */
  private baseIntervalMs = C.HEARTBEAT_INTERVAL_MS_DEFAULT
  private intervalMs = C.HEARTBEAT_INTERVAL_MS_DEFAULT
  private readonly nowMs: () => number
  private readonly onDisconnect = (event: CustomEvent<PeerId>): void => { this.table.connectionClosed(event.detail.toString()) }
  private readonly onConnect = (event: CustomEvent<PeerId>): void => { this.table.connectionOpened(event.detail.toString(), this.nowMs()) }
  /** Unsubscribes from the redial loop's refused dials (MemberTable.dialRefused). */
  private offRefused: (() => void) | undefined
  /** The last heartbeat found nobody subscribed to the topic (a lone node, or a joiner not yet connected). */
  private lonely = false
  /**
   * The first subscriber after a lonely heartbeat gets one at once instead of up to a period later: a joiner's
   * first heartbeat is what tells the leader its protocol level, and admission waits for it above level 1
   * (docs/OPERATIONS.md, "Rolling upgrades"). Once per lonely spell, so it adds nothing in a formed cluster.
   */
  private readonly onSubscriptionChange = (event: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    if (!this.lonely || this.stopped || !event.detail.subscriptions.some((s) => s.topic === this.topic && s.subscribe)) return
    this.lonely = false
    clearTimeout(this.promptTimer)
    void this.publishPrompt(PROMPT_TRIES)
  }

  private promptTimer: ReturnType<typeof setTimeout> | undefined

  private digestTopic = ''
  /** The tier the configuration gives this node (core/tier.ts). */
  private tier: Tier = 'full'
  /** Subscribed to the heartbeat topic and detecting (false only for an observer or a joiner with fresh digests). */
  private listening = true
  private digestSubscribed = false
  private observerSinceMs = 0
  /** A joiner's first connection to any peer (its digest wait counts from it: core/joiner.ts). */
  private joinerConnectedSinceMs: number | undefined
  /** The sender of the last digest a joiner took (the leader). */
  private joinerDigestFrom: string | undefined
  /** The leader a connected peer named when this joiner asked (joinerAsksLeader), and when it may ask again. */
  private joinerLeaderHint: string | undefined
  private leaderAskAtMs = 0
  private leaderAskWaitMs: number | undefined
  private leaderAskInFlight = false
  private lastDigestMs: number | undefined
  /**
   * Newest (generation, seq) taken per digest publisher (replay check), least recently heard first; at most
   * MAX_DIGEST_SENDERS (rememberDigestSender).
   */
  private readonly digestFrom = new Map<string, { generation: number, seq: number }>()
  private digestSeq = 0
  private lastDigestPublishedMs = -Infinity
  /** A member turned dead or left since the last digest: the next tick publishes one (digestDue). */
  private verdictSinceDigest = false
  private digestsPublished = 0
  /** Digests published before their period because of a verdict. */
  private digestsPrompt = 0
  /** Each member's state as last sent in full in a digest (compactDigest), and the subscribers then. */
  private digestLastSent = new Map<string, NodeState>()
  private digestSubscribers = new Set<string>()
  private digestFullBytes = 0
  /** Digests that sent every state in full (fullDigestDue). */
  private digestsFull = 0
  /** Connected voters gossipsub lost the heartbeat subscription of, reconnected (reconnectUnsubscribedVoters). */
  private votersReconnected = 0
  /** Waits for a member not heard since a rebase that a leader's digest renewed (MemberTable.vouch). */
  private awaitsVouched = 0
  private readonly voterWatch = newVoterWatch()
  /** Connections' open stamps (wall clock) on `nowMs`: a wall step does not age them (net/connection-ages.ts). */
  private readonly connectionAges = new ConnectionAges()
  private ticks = 0
  private digestCompactBytes = 0
  private digestsAccepted = 0
  private readonly digestDrops = new Map<DigestDropReason, number>()
  /** An observer's bounded connections (links.ts). */
  private links: ObserverLinks | undefined
  /**
   * Members whose addresses an observer has put in the peer store (content dials them on demand). Invariant: each
   * is tracked by the table (keepAddresses takes only those; a removal forgets it: emit), so it is bounded as
   * the table is (MAX_MEMBERS).
   */
  private readonly knownAddresses = new Set<string>()
  /**
   * Members whose addresses this node put in the peer store (heartbeat or digest), to that merge: the entry goes
   * at the member's removal (dropStoredPeer). Invariant: each is tracked by the table (both merges come after the
   * table took the member; a removal forgets it: emit), so it is bounded as the table is (MAX_MEMBERS).
   */
  private readonly storedPeers = new Map<string, Promise<void>>()
  /**
   * Each member's addresses as its own last accepted heartbeat gave them (parsed), for `peers.json` once the
   * configuration lists it (recordAddresses, recordNewlyListed). Invariant: each is tracked by the table (set after
   * the table took the member; a removal forgets it: emit), so it is bounded as the table is (MAX_MEMBERS).
   */
  private readonly ownAddresses = new Map<string, string[]>()
  /** The configuration recordNewlyListed last looked at (Raft replaces the object at each change). */
  private recordedConf: RaftMembers | undefined

  constructor (private readonly init: MembershipServiceInit = {}) {
    this.nowMs = init.nowMs ?? steadyNowMs
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    const settings = ctx.config.membership
    this.startedAtMs = this.nowMs()
    this.protocolLevel = ctx.config.protocolLevel ?? PROTOCOL_LEVEL
    // Before anything is written or sent: a heartbeat every peer would drop stops the start, named.
    checkOwnHeartbeat(this.buildSelf(0, 0, false))
    const generation = await nextGeneration(ctx.config.dataDir)
    this.topic = membershipTopic(ctx.cluster.clusterId)
    this.digestTopic = membershipDigestTopic(ctx.cluster.clusterId)
    this.self = this.buildSelf(generation, 0, false)
    this.table = new MemberTable({
      self: this.self,
      ...(settings?.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: settings.heartbeatIntervalMs } : {}),
      ...(settings?.phiThreshold !== undefined ? { phiThreshold: settings.phiThreshold } : {}),
      tickIntervalMs: TICK_MS
    })
    const pubsub = ctx.net.services.pubsub
    pubsub.topicValidators.set(this.topic, (_peer, message) => this.validate(message))
    pubsub.topicValidators.set(this.digestTopic, (_peer, message) => this.validateDigest(message))
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    ctx.net.addEventListener('peer:disconnect', this.onDisconnect)
    ctx.net.addEventListener('peer:connect', this.onConnect)
    this.offRefused = ctx.redialer.onRefused((peer) => { this.table.dialRefused(peer) })
    this.links = new ObserverLinks({ net: ctx.net, redialer: ctx.redialer, log: ctx.log, self: ctx.nodeId, heartbeatTopic: this.topic, ringNeighbours: settings?.observerRingNeighbours ?? C.OBSERVER_RING_NEIGHBOURS_DEFAULT })
    // The tier before the first subscription: a joiner whose configuration is known already never listens, so no
    // heartbeat reaches it (nor any member's address to dial) before its first tick.
    this.updateTier(this.startedAtMs)
    if (this.listening) pubsub.subscribe(this.topic)
    this.baseIntervalMs = settings?.heartbeatIntervalMs ?? C.HEARTBEAT_INTERVAL_MS_DEFAULT
    this.intervalMs = this.baseIntervalMs
    this.stopTick = (ctx.ticker ?? intervalTicker).every(TICK_MS, () => { this.onTick() })
    void this.publish(false)
    this.scheduleHeartbeat()
    ctx.log.info({ generation, topic: this.topic }, 'membership started')
  }

  /** The next heartbeat, after the period the live member count calls for now. */
  private scheduleHeartbeat (): void {
    // A tiered voter's heartbeats reach the voters only: the base period, so a dead voter (the leader) is
    // found as fast as in a small cluster. Everyone else scales with the member count.
    const members = this.tier === 'voter' ? 1 : this.table.liveCount()
    this.intervalMs = heartbeatIntervalMs(this.baseIntervalMs, members, C.ACCEPTABLE_PAUSE_MS_DEFAULT)
    this.expectIntervals()
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = undefined
      void this.publish(false)
      if (!this.stopped) this.scheduleHeartbeat()
    }, this.intervalMs)
  }

  /**
   * Tells the table the period each member sends at, for the detectors it starts: in tiered mode the voters of
   * this node's configuration heartbeat at the base period, everyone else (and everyone in full mode) at the
   * period scaled with the live member count (core/heartbeat-interval.ts).
   */
  private expectIntervals (): void {
    const othersMs = heartbeatIntervalMs(this.baseIntervalMs, this.table.liveCount(), C.ACCEPTABLE_PAUSE_MS_DEFAULT)
    const conf = this.tier === 'voter' || this.tier === 'observer' ? this.init.raftConfiguration?.() : undefined
    if (conf === undefined) this.table.setHeartbeatIntervalMs(othersMs)
    else this.table.setHeartbeatIntervals(othersMs, this.baseIntervalMs, new Set([...conf.voters, ...conf.votersOutgoing]))
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.heartbeatTimer)
    clearTimeout(this.promptTimer)
    this.stopTick?.()
    if (this.ctx === undefined) return
    // A planned stop is announced so peers report `left`, not `dead`.
    for (let i = 0; i < LEAVE_ANNOUNCEMENTS; i++) await this.publish(true)
    this.ctx.net.removeEventListener('peer:disconnect', this.onDisconnect)
    this.ctx.net.removeEventListener('peer:connect', this.onConnect)
    this.offRefused?.()
    const pubsub = this.ctx.net.services.pubsub
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    if (this.listening) this.setSubscribed(this.topic, false)
    if (this.digestSubscribed) this.setSubscribed(this.digestTopic, false)
    pubsub.topicValidators.delete(this.topic)
    pubsub.topicValidators.delete(this.digestTopic)
  }

  private buildSelf (generation: number, seq: number, leaving: boolean): NodeState {
    const labels = { ...(this.ctx.config.membership?.labels ?? {}), ...(this.init.labels ?? {}) }
    const self: NodeState = {
      nodeId: this.ctx.nodeId,
      clusterId: this.ctx.cluster.clusterId,
      addresses: [],
      roles: this.init.roles?.() ?? [],
      capacity: machineCapacity(this.ctx.config.dataDir, this.init.capacity),
      labels,
      version: this.init.version ?? '0.1.0',
      kubernetesVersion: this.init.kubernetesVersion ?? this.ctx.config.membership?.kubernetesVersion ?? 'v1.34.0',
      uptimeMs: Math.max(0, this.nowMs() - this.startedAtMs),
      generation,
      seq,
      leaving,
      protocol: this.protocolLevel
    }
    return { ...self, addresses: this.advertisedAddresses(self) }
  }

  private fitted: { listening: string, kept: string[] } | undefined

  /**
   * The listen addresses a heartbeat carries: those that keep it acceptable to peers (`addressesThatFit`). The
   * start check measured the addresses of that moment; a listen address added later could pass the limit. Only a
   * change of the listen addresses is measured again (nothing else the measure depends on changes while running).
   */
  private advertisedAddresses (self: NodeState): string[] {
    const listening = this.ctx.net.getMultiaddrs().map((ma) => ma.toString())
    const key = listening.join(' ')
    if (this.fitted?.listening === key) return this.fitted.kept
    const kept = addressesThatFit(self, listening)
    if (kept.length < listening.length) this.ctx.log.warn({ listening: listening.length, advertised: kept.length, left: listening.filter((a) => !kept.includes(a)) }, 'listen addresses left out of the heartbeat: with them, peers would drop it')
    this.fitted = { listening: key, kept }
    return kept
  }

  /** The protocol level this node advertises: `protocolLevel` in the config, else the build's. */
  private protocolLevel = PROTOCOL_LEVEL

  /**
   * Advertises `level` from the next heartbeat on (a rehearsal or test hook: a node pretending to be an
   * older build during a rolling upgrade; docs/OPERATIONS.md). At most the build's level.
   */
  advertiseProtocolLevel (level: number): void {
    if (!Number.isSafeInteger(level) || level < PROTOCOL_LEVEL_MIN || level > PROTOCOL_LEVEL) throw new RangeError(`protocol level ${level} outside ${PROTOCOL_LEVEL_MIN}..${PROTOCOL_LEVEL}`)
    this.protocolLevel = level
  }

  /**
   * The heartbeat's `reach` (core/relay.ts): members this node hears and can send to. "Can send to" is a
   * connection on which gossipsub has its outbound stream: gossipsub opens that stream once when a peer
   * connects and opens no other while the peer stays connected, so when it closes (say, with one of two
   * connections that simultaneous dials made) or failed to open (a starved peer), this node's heartbeats reach
   * that member only through relays, and counting it would stop them. When gossipsub's stream table is not
   * visible (another gossipsub version), connected peers count.
   */
  private reach (): number {
    const outbound = gossipStreamTables(this.ctx.net)?.outbound
    const peers = this.ctx.net.getPeers().map((id) => id.toString())
    const connected = new Set(outbound !== undefined ? peers.filter((id) => outbound.has(id)) : peers)
    return reachOf(this.table.view(this.nowMs()).members, this.ctx.nodeId, connected)
  }

  /** Publishes a heartbeat; resolves with the number of peers gossipsub sent it to (0: nobody, or not sent). */
  private async publish (leaving: boolean): Promise<number> {
    this.self = { ...this.buildSelf(this.self.generation, this.self.seq + 1, leaving), reach: this.reach() }
    this.table.setSelf(this.self)
    const pubsub = this.ctx.net.services.pubsub
    // gossipsub signs, encodes and hashes a message before it finds nobody to send it to: a lone node (or one
    // whose peers have not subscribed yet) would sign a heartbeat twice a second for nobody. Unsent, as before.
    this.lonely = pubsub.getSubscribers(this.topic).length === 0
    if (this.lonely) return 0
    try {
      const { recipients } = await pubsub.publish(this.topic, encodeCanonical(this.self))
      this.published++
      return recipients.length
    } catch {
      // Until a peer's subscription is known gossipsub refuses to publish (NoPeersSubscribedToTopic):
      // a lone node simply has nobody to tell.
      return 0
    }
  }

  /**
   * The heartbeat for a first subscriber (onSubscriptionChange). Its subscription can arrive before this
   * node's outbound stream to it is open, and gossipsub then sends to nobody: tried again every
   * PROMPT_RETRY_MS, at most PROMPT_TRIES times, until it reaches a peer.
   */
  private async publishPrompt (tries: number): Promise<void> {
    if (this.stopped || (await this.publish(false)) > 0 || tries <= 1) return
    this.promptTimer = setTimeout(() => { void this.publishPrompt(tries - 1) }, PROMPT_RETRY_MS)
  }

  /**
   * Topic validator: judge, and on acceptance feed the table (gossipsub calls it once per message id). An
   * accepted heartbeat is relayed to the mesh (`Accept`) only when some member may lack a direct copy
   * (core/relay.ts); otherwise `Ignore` stops gossipsub there — no forwarded copies, no score penalty. Nothing
   * in the node reads delivered membership messages: the table is fed here.
   */
  private validate (message: Message): TopicValidatorResult {
    const drop = (reason: DropReason, reject: boolean): TopicValidatorResult => {
      this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1)
      return reject ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
    const opened = openSigned(message, C.MAX_HEARTBEAT_BYTES)
    if (!opened.ok) return drop(opened.tooLarge ? 'too-large' : 'malformed', true)
    const { decoded, sender } = opened
    const verdict = judgeHeartbeat({ decoded, sender, self: this.ctx.nodeId, clusterId: this.ctx.cluster.clusterId, lastSeen: this.table.lastSeen(sender) })
    if (!verdict.ok) return drop(verdict.reason, verdict.reject)
    const known = this.table.has(sender)
    const now = this.nowMs()
    // A member the configuration lists takes the place of one nobody admitted (MemberTable.makeRoom).
    const room = known ? [] : this.makeRoomFor(sender, now)
    if (!known && this.table.size >= C.MAX_MEMBERS) return drop('table-full', false)
    const events = [...room, ...this.table.heartbeat(verdict.state, now)]
    if (!known) this.learnAddresses(sender, verdict.state.addresses, this.dialsHeard(verdict.state))
    this.recordAddresses(verdict.state)
    if (events.length > 0) this.emit(events)
    this.accepted++
    if (!needsRelay(verdict.state, this.table.liveCount()) || !this.voterMustRelay(sender)) return TopicValidatorResult.Ignore
    this.relayed++
    return TopicValidatorResult.Accept
  }

  /**
   * In a full table, room for `member` if this node's configuration lists it, its applied shape names it, or it is
   * connected to this node (MemberTable.makeRoom); its events. A shape member whose learner step is pending counts
   * as admitted: forgotten or dropped for made-up members, it went missing from the view, and the policy counts a
   * shape member missing from the view dead after its grace (policy/core/unlisted.ts). So does a connected peer, whose
   * admission is pending: above protocol level 1 the leader admits it only once it heard its heartbeat (admission.ts
   * sortByLevel), and made-up members heartbeating on kept the table full and every joiner out. A connected peer
   * passed the cluster-key handshake under its own key, unlike the identities a key holder signs with through its
   * one connection (and it would be admitted as a member anyway: docs/SECURITY.md).
   */
  private makeRoomFor (member: string, now: number): MembershipEvent[] {
    const conf = this.init.raftConfiguration?.()
    if (this.table.size < C.MAX_MEMBERS || conf === undefined) return []
    const listed = membersOf(conf)
    const inShape = this.init.inShape ?? (() => false)
    const connected = new Set(this.ctx.net.getPeers().map((id) => id.toString()))
    const admitted = (id: string): boolean => listed.has(id) || inShape(id) || connected.has(id)
    return admitted(member) ? this.table.makeRoom(now, admitted) : []
  }

  /** Whether a member first heard of now goes into the redial loop (core/joiner.ts dialsHeardMember). */
  private dialsHeard (member: NodeState): boolean {
    const conf = this.init.raftConfiguration?.()
    const listed = (id: string): boolean => conf !== undefined && (isVoterIn(conf, id) || conf.learners.includes(id) || conf.learnersNext.includes(id))
    return dialsHeardMember({ hasConfiguration: conf !== undefined, selfListed: listed(this.ctx.nodeId), memberListed: listed(member.nodeId), memberHoldsEtcd: member.roles.includes('etcd') })
  }

  /** A voter relays only while some listener is not a voter (core/links.ts); anyone else as the relay rule says. */
  private voterMustRelay (author: string): boolean {
    const conf = this.init.raftConfiguration?.()
    if (this.tier !== 'voter' || conf === undefined) return true
    return voterMustRelay(this.ctx.net.services.pubsub.getSubscribers(this.topic).map((p) => p.toString()), author, conf)
  }

  /**
   * A member first heard of through gossip (forwarded by someone else) becomes a direct peer: its
   * addresses go into the peer store and the redial loop keeps it connected. Without this a cluster
   * joined through one seed is a star around that seed, and losing the seed splits it. A member of a
   * configuration dials only members of it (a joiner is dialled once admitted: links.ts; core/joiner.ts).
   */
  private learnAddresses (peer: string, addresses: string[], dial: boolean): void {
    const multiaddrs = parseAdvertisedAddresses(addresses, peer)
    if (multiaddrs.length === 0) {
      this.ctx.log.debug({ peer, addresses: addresses.length }, 'no usable address in a heartbeat')
      return
    }
    this.storedPeers.set(peer, this.ctx.net.peerStore.merge(peerIdFromString(peer), { multiaddrs }).then(() => { if (dial) this.ctx.redialer.addPeer(peer) }, () => {}))
  }

  /**
   * Hands the addresses a member of this node's Raft configuration announced in its own heartbeat (signed by it;
   * the newest: judgeHeartbeat drops replays) to `peers.json` (net/known-peers.ts), which writes only a change.
   * Raft followers need not connect to each other: after a site-wide power cut that the leader does not come back
   * from, two followers that never met held each other's ids only and elected nobody. Not for a member the
   * configuration does not list (a made-up identity, a removed member, a joiner), and not from digests: a joiner
   * takes those from signers it cannot check, and a voter hears every member's own heartbeat (core/tier.ts).
   */
  private recordAddresses (state: NodeState): void {
    if (this.ctx.knownPeers === undefined) return
    const addresses = parseAdvertisedAddresses(state.addresses, state.nodeId).map((ma) => ma.toString())
    this.ownAddresses.set(state.nodeId, addresses)
    const conf = this.init.raftConfiguration?.()
    if (conf !== undefined) this.announceListed(conf, state.nodeId, addresses)
  }

  /**
   * When the configuration changes, the members it now lists that were heard before (a member heard while it was
   * joining, before its admission applied here) are recorded from their last heartbeat, not at their next one: a
   * power cut right after formation can come first.
   */
  private recordNewlyListed (): void {
    const conf = this.init.raftConfiguration?.()
    if (conf === undefined || conf === this.recordedConf || this.ctx.knownPeers === undefined) return
    this.recordedConf = conf
    for (const [peer, addresses] of this.ownAddresses) this.announceListed(conf, peer, addresses)
  }

  private announceListed (conf: RaftMembers, peer: string, addresses: string[]): void {
    const voter = isVoterIn(conf, peer)
    if (!voter && !conf.learners.includes(peer) && !conf.learnersNext.includes(peer)) return
    this.ctx.knownPeers?.announced({ peer, addresses, voter })
  }

  /**
   * A removed member's peer store entry goes, once the merge that made it has ended: libp2p's peer store drops an
   * entry only when it is read hours after its last update, so a key holder signing heartbeats or digests with
   * made-up identities grew it by one entry each, for good. Kept for a peer this node still needs it for: one
   * connected, one its Raft configuration lists (Raft and content dial members by PeerId), a redial target (its
   * seeds, peers.json, every peer that ever connected: net/redial.ts dials them by PeerId), and a member heard
   * again meanwhile.
   */
  private dropStoredPeer (member: string): void {
    const merged = this.storedPeers.get(member)
    if (merged === undefined) return
    this.storedPeers.delete(member)
    void merged.then(async () => {
      const peerId = peerIdFromString(member)
      const conf = this.init.raftConfiguration?.()
      if (this.table.has(member) || (conf !== undefined && membersOf(conf).has(member))) return
      if (this.ctx.redialer.tracks(member) || this.ctx.net.getConnections(peerId).length > 0) return
      await this.ctx.net.peerStore.delete(peerId)
    }).catch((err: unknown) => { this.ctx.log.debug({ peer: member, err: (err as Error).message }, 'a removed member\'s peer store entry not deleted') })
  }

  private onTick (): void {
    const now = this.nowMs()
    this.updateTier(now)
    if (++this.ticks % VOTER_SUBSCRIPTION_CHECK_TICKS === 0) this.reconnectUnsubscribedVoters(now)
    const events = this.table.tick(now, this.listening)
    if (events.length > 0) this.emit(events)
    this.recordNewlyListed()
    if (this.tier === 'joiner') this.askForLeader(now)
    // The leader publishes in full mode too, for joiners (core/joiner.ts); nobody subscribed costs nothing.
    if ((this.tier !== 'voter' && this.tier !== 'full') || !(this.init.isLeader?.() ?? false)) {
      this.verdictSinceDigest = false
      return
    }
    const verdict = this.verdictSinceDigest
    const intervalMs = this.init.digestIntervalMs ?? C.DIGEST_INTERVAL_MS
    if (digestDue({ nowMs: now, lastPublishedMs: this.lastDigestPublishedMs, intervalMs, verdictSince: verdict })) {
      if (verdict && now - this.lastDigestPublishedMs < intervalMs) this.digestsPrompt++
      this.lastDigestPublishedMs = now
      this.verdictSinceDigest = false
      void this.publishDigest(now)
    }
  }

  /**
   * Reconnects to each connected voter gossipsub has not counted as a heartbeat subscriber for
   * VOTER_SUBSCRIPTION_GRACE_MS (core/voter-subscriptions.ts): without it this node's heartbeats never reach
   * that voter again.
   */
  private reconnectUnsubscribedVoters (now: number): void {
    const conf = this.init.raftConfiguration?.()
    if (conf === undefined || this.stopped) return
    const connectedSinceMs = new Map<string, number>()
    for (const c of this.ctx.net.getConnections()) {
      if (c.status !== 'open') continue
      const peer = c.remotePeer.toString()
      const openedAt = this.connectionAges.openedAtMs(c, now)
      connectedSinceMs.set(peer, Math.min(connectedSinceMs.get(peer) ?? Infinity, openedAt))
    }
    const subscribers = new Set(this.ctx.net.services.pubsub.getSubscribers(this.topic).map((p) => p.toString()))
    const due = votersToReconnect({ conf, self: this.ctx.nodeId, connectedSinceMs, subscribed: (peer) => subscribers.has(peer), watch: this.voterWatch, nowMs: now, graceMs: VOTER_SUBSCRIPTION_GRACE_MS, retryMs: VOTER_RECONNECT_RETRY_MS })
    for (const voter of due) {
      let peerId: PeerId
      try { peerId = peerIdFromString(voter) } catch { continue }
      this.votersReconnected++
      this.ctx.log.info({ peer: voter, reconnected: this.votersReconnected }, 'a connected voter is not a heartbeat subscriber in gossipsub\'s view; reconnecting to it')
      // A new connection is the one event on which both ends' gossipsub opens fresh streams and restates every
      // subscription; the redial loop makes it (a voter is always dialled).
      void this.ctx.net.hangUp(peerId).catch(() => {})
    }
  }

  /**
   * Applies the tier this node's configuration gives it (core/tier.ts): an observer subscribes to digests and,
   * while they are fresh, leaves the heartbeat topic (it keeps publishing its own heartbeats: flood publishing
   * reaches the voters, who subscribe); without fresh digests it listens and detects again. A joiner does the
   * same with its own wait (core/joiner.ts) and, while quiet, dials only its seeds and the voters.
   */
  private updateTier (now: number): void {
    const tieredAbove = this.init.tieredAboveMembers ?? C.TIERED_ABOVE_MEMBERS
    const conf = this.init.raftConfiguration?.()
    const tier = tierOf(conf, this.ctx.nodeId, tieredAbove)
    if (tier === 'observer' && this.tier !== 'observer') this.observerSinceMs = now
    if (tier !== this.tier) this.ctx.log.info({ from: this.tier, to: tier }, 'membership tier changed')
    if (tier !== 'joiner') this.joinerConnectedSinceMs = undefined
    else if (this.joinerConnectedSinceMs === undefined && this.ctx.net.getConnections().length > 0) this.joinerConnectedSinceMs = now
    this.tier = tier
    const listen = this.mustListen(tier, now)
    if (!this.stopped) this.links?.update(tier, conf, now, () => this.joinerKept(now))
    if (listen !== this.listening && this.setSubscribed(this.topic, listen)) {
      this.listening = listen
      if (listen) {
        // Detection restarts from now: the digest's last word is not a heartbeat this node heard. A member it
        // has no connection to yet is judged once one opens (a new voter dials every member). Each member's
        // detector expects the period that member sends at, as the configuration now tells it.
        this.expectIntervals()
        this.table.rebase(now, new Set(this.ctx.net.getPeers().map((id) => id.toString())))
        this.ctx.log.info('membership listens to heartbeats (full mode)')
      } else {
        this.ctx.log.info(tier === 'joiner' ? 'membership of a joiner takes its view from the leader\'s digest' : 'membership takes its view from the voters\' digest')
      }
    }
    // A node that listens keeps taking digests while it awaits members it has not heard since its rebase: the
    // leader's word that they are alive renews the wait (MemberTable.vouch). A new voter was an observer, so it
    // stays subscribed until then.
    const wantDigest = tier === 'observer' || tier === 'joiner' || (this.listening && this.table.awaitingAny(now))
    if (wantDigest !== this.digestSubscribed && this.setSubscribed(this.digestTopic, wantDigest)) this.digestSubscribed = wantDigest
  }

  /** Whether this node hears heartbeats itself (everyone but an observer or a joiner with fresh digests). */
  private mustListen (tier: Tier, now: number): boolean {
    if (tier === 'observer') return observerMustListen({ observerSinceMs: this.observerSinceMs, lastDigestMs: this.lastDigestMs, nowMs: now, staleMs: C.DIGEST_STALE_MS })
    if (tier === 'joiner') return joinerMustListen({ connectedSinceMs: this.joinerConnectedSinceMs, lastDigestMs: this.lastDigestMs, nowMs: now, staleMs: C.JOINER_DIGEST_STALE_MS })
    return true
  }

  /** The peers a joiner dials: its seeds, the last digest's sender, the leader a peer named and the etcd holders of its view. */
  private joinerKept (now: number): Set<string> {
    const members = this.table.view(now).members.map((m) => m.state)
    return joinerDialTargets({ self: this.ctx.nodeId, seeds: this.ctx.redialer.seedPeers(), digestFrom: this.joinerDigestFrom, leaderHint: this.joinerLeaderHint, members })
  }

  /**
   * A joiner that hears no digest asks its connected peers, seeds first, which node leads (core/joiner.ts
   * joinerAsksLeader); the first that names one (not this node) becomes a dial target. At most
   * ANSWERERS_PER_LEADER_ASK peers a round, one round in flight, rounds spaced by a doubling wait.
   */
  private askForLeader (now: number): void {
    const ask = this.init.askLeader
    if (ask === undefined || this.leaderAskInFlight || this.stopped) return
    if (!joinerAsksLeader({ connectedSinceMs: this.joinerConnectedSinceMs, lastDigestMs: this.lastDigestMs, nowMs: now, afterMs: C.JOINER_LEADER_ASK_MS, nextAskAtMs: this.leaderAskAtMs })) return
    this.leaderAskWaitMs = doubledWaitMs(this.leaderAskWaitMs, C.JOINER_LEADER_ASK_MS, C.JOINER_LEADER_ASK_MAX_MS)
    this.leaderAskAtMs = now + this.leaderAskWaitMs
    const seeds = new Set(this.ctx.redialer.seedPeers())
    const connected = this.ctx.net.getPeers().map((p) => p.toString())
    const answerers = [...connected.filter((p) => seeds.has(p)), ...connected.filter((p) => !seeds.has(p))].slice(0, ANSWERERS_PER_LEADER_ASK)
    this.leaderAskInFlight = true
    void (async () => {
      for (const peer of answerers) {
        const leader = await ask(peer).catch(() => undefined)
        if (this.stopped || this.tier !== 'joiner') return
        if (leader !== undefined && leader !== this.ctx.nodeId) {
          this.joinerLeaderHint = leader
          return
        }
      }
    })().finally(() => { this.leaderAskInFlight = false })
  }

  /** Subscribes or unsubscribes; false when gossipsub refuses (it stopped: the node is going down). */
  private setSubscribed (topic: string, subscribed: boolean): boolean {
    const pubsub = this.ctx.net.services.pubsub
    try {
      if (subscribed) pubsub.subscribe(topic)
      else pubsub.unsubscribe(topic)
      return true
    } catch (err) {
      this.ctx.log.debug({ topic, err: (err as Error).message }, 'gossipsub subscription not changed')
      return false
    }
  }

  /**
   * The leader's liveness digest: every member its table tracks, itself included; a member's full state only
   * when an observer may lack it (core/tier.ts compactDigest, fullDigestDue): every DIGEST_FULL_EVERY-th digest, when
   * a new subscriber appeared since the last one, or when the member's state shows differently than last sent.
   */
  private async publishDigest (now: number): Promise<void> {
    const pubsub = this.ctx.net.services.pubsub
    const subscribers = pubsub.getSubscribers(this.digestTopic).map((p) => p.toString())
    if (subscribers.length === 0) return
    const seq = ++this.digestSeq
    const full = fullDigestDue({ seq, subscribers, previous: this.digestSubscribers })
    this.digestSubscribers = new Set(subscribers)
    const tracked = this.table.view(now).members.map((m) => ({ health: m.health, state: m.state }))
    const { members, lastSent } = compactDigest({ members: tracked, lastSent: this.digestLastSent, full })
    this.digestLastSent = lastSent
    const digest = { clusterId: this.ctx.cluster.clusterId, from: this.ctx.nodeId, generation: this.self.generation, seq, members }
    const data = encodeCanonical(digestRecord(digest))
    if (full) {
      this.digestFullBytes = data.length
      this.digestsFull++
    } else this.digestCompactBytes = data.length
    try {
      await pubsub.publish(this.digestTopic, data)
      this.digestsPublished++
    } catch {
      // Nobody subscribed after all: nothing to tell.
    }
  }

  /**
   * Digest topic validator: a digest from a voter of this node's own configuration becomes an observer's view
   * (while it is not listening to heartbeats itself), and vouches for the members a listening voter has not
   * heard since its rebase (MemberTable.vouch); anything else is dropped and counted by reason. Never
   * relayed (`Ignore`): the leader flood-publishes to every subscriber, and each is connected to it (Raft).
   */
  private validateDigest (message: Message): TopicValidatorResult {
    const drop = (reason: DigestDropReason, reject: boolean): TopicValidatorResult => {
      this.digestDrops.set(reason, (this.digestDrops.get(reason) ?? 0) + 1)
      this.ctx.log.debug({ reason }, 'liveness digest dropped')
      return reject ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
    const opened = openSigned(message, C.MAX_DIGEST_BYTES)
    if (!opened.ok) return drop(opened.tooLarge ? 'digest-too-large' : 'digest-malformed', true)
    const { decoded, sender } = opened
    const conf = this.init.raftConfiguration?.()
    const joining = this.tier === 'joiner'
    const verdict = judgeDigest({ decoded, sender, clusterId: this.ctx.cluster.clusterId, conf, joining, lastFrom: this.digestFrom.get(sender) })
    if (!verdict.ok) return drop(verdict.reason, verdict.reject)
    const { digest } = verdict
    this.rememberDigestSender(sender, digest)
    this.digestsAccepted++
    const now = this.nowMs()
    this.lastDigestMs = now
    if (this.tier !== 'observer' && !joining) {
      if (!this.listening) return TopicValidatorResult.Ignore
      const { renewed, events } = this.table.vouch(digest.members, now)
      this.awaitsVouched += renewed
      if (events.length > 0) {
        const added = new Set(events.map((e) => e.nodeId))
        this.keepAddresses(digest.members.flatMap((m) => m.state !== undefined && added.has(m.nodeId) ? [m.state] : []), conf)
        this.emit(events)
      }
      return TopicValidatorResult.Ignore
    }
    if (joining) this.joinerDigestFrom = sender
    if (this.listening) this.updateTier(now) // fresh again: back to the digest before adopting it
    if (this.listening) return TopicValidatorResult.Ignore
    // A joiner's digest comes from a signer it could not check: its view, never what orders the member's own word.
    const events = this.table.adopt(digest.members, now, sender, !joining)
    const states = digest.members.flatMap((m) => m.state !== undefined ? [m.state] : [])
    this.keepAddresses(states, conf)
    if (events.length > 0) this.emit(events)
    return TopicValidatorResult.Ignore
  }

  /**
   * Keeps the sender's newest digest for the replay check, as the most recently heard; beyond MAX_DIGEST_SENDERS
   * the least recently heard sender is forgotten. A joiner takes digests from any signer (core/joiner.ts), and a
   * key holder can sign with as many identities as it likes: kept for good, each grew the map without limit.
   * A forgotten sender's next digest is judged as a first one; what it can then say is as any signer's.
   */
  private rememberDigestSender (sender: string, digest: { generation: number, seq: number }): void {
    this.digestFrom.delete(sender)
    this.digestFrom.set(sender, { generation: digest.generation, seq: digest.seq })
    for (const oldest of this.digestFrom.keys()) {
      if (this.digestFrom.size <= C.MAX_DIGEST_SENDERS) break
      this.digestFrom.delete(oldest)
    }
  }

  /**
   * An observer hears of members through digests, not heartbeats: their addresses go into the peer store
   * (content dials a provider on demand), and the voters of its configuration into the redial loop (the
   * leader must reach every member for Raft, and heartbeats reach the voters only over direct connections).
   * Only for members the table tracks (adopt skips some: beyond its bound, or new and already dead), so the
   * ids kept are bounded with it: a joiner takes digests from any signer, and every made-up id of every digest
   * was kept for good.
   */
  private keepAddresses (states: NodeState[], conf: RaftMembers | undefined): void {
    for (const state of states) {
      if (state.nodeId === this.ctx.nodeId || this.knownAddresses.has(state.nodeId) || !this.table.has(state.nodeId)) continue
      this.knownAddresses.add(state.nodeId)
      const voter = conf !== undefined && isVoterIn(conf, state.nodeId)
      const multiaddrs = parseAdvertisedAddresses(state.addresses, state.nodeId)
      if (multiaddrs.length === 0) {
        this.ctx.log.debug({ peer: state.nodeId, addresses: state.addresses.length }, 'no usable address in a digest')
        continue
      }
      try {
        this.storedPeers.set(state.nodeId, this.ctx.net.peerStore.merge(peerIdFromString(state.nodeId), { multiaddrs }).then(() => { if (voter) this.ctx.redialer.addPeer(state.nodeId) }, () => {}))
      } catch (err) {
        this.ctx.log.debug({ peer: state.nodeId, err: (err as Error).message }, 'a digest names an unusable node id')
      }
    }
  }

  /**
   * Pings a suspect member's connection once; a connection that does not answer, to a member still not
   * heard from, is closed (libp2p's `peer:disconnect` then lowers the suspicion threshold, and the redial
   * loop reconnects a peer that comes back). A member that answers stays connected; heartbeats decide.
   */
  private checkConnection (peer: string): void {
    let peerId: PeerId
    try {
      peerId = peerIdFromString(peer)
    } catch {
      return
    }
    if (this.ctx.net.getConnections(peerId).length === 0) return
    this.ctx.net.services.ping.ping(peerId, { signal: AbortSignal.timeout(SUSPECT_PING_TIMEOUT_MS) }).catch(async (err: unknown) => {
      // A heartbeat that arrived meanwhile (a slow peer, not a frozen one) keeps the connection.
      const health = this.view().members.find((m) => m.nodeId === peer)?.health
      if (this.stopped || (health !== 'suspect' && health !== 'dead')) return
      if (isLocalPingRefusal(err)) return
      this.ctx.log.info({ peer, err: (err as Error).message }, 'a suspect member did not answer a ping; closing its connection')
      await this.ctx.net.hangUp(peerId).catch(() => {})
    })
  }

  /**
   * What this node's link to a member it finds silent looks like: open connections, and whether gossipsub has
   * a stream each way (read at run time; absent from older gossipsub). Says, in the suspicion's log line,
   * whether the silence is a dead peer or a connected one gossip no longer reaches.
   */
  private gossipLinkOf (peer: string): { connections: number, gossipOut?: boolean, gossipIn?: boolean } {
    let connections = 0
    try {
      connections = this.ctx.net.getConnections(peerIdFromString(peer)).filter((c) => c.status === 'open').length
    } catch {
      // A malformed id: not connected.
    }
    const tables = gossipStreamTables(this.ctx.net)
    if (tables === undefined) return { connections }
    return { connections, gossipOut: tables.outbound.has(peer), gossipIn: tables.inbound.has(peer) }
  }

  private emit (events: MembershipEvent[]): void {
    for (const event of events) {
      if (event.kind === 'suspect') this.checkConnection(event.nodeId)
      if (event.kind === 'dead' || event.kind === 'left') this.verdictSinceDigest = true
      // Forgotten with the member: a member back later has its (maybe new) addresses taken again.
      if (event.kind === 'removed') {
        this.knownAddresses.delete(event.nodeId)
        this.ownAddresses.delete(event.nodeId)
        this.dropStoredPeer(event.nodeId)
      }
      this.events.push(event)
      // A suspicion of this node's own detector says what it was judged on: silence against the window's mean
      // and spread (and the hint); an observer's comes from the leader's digest.
      const detector = event.kind === 'suspect' && this.listening ? this.table.detectorOf(event.nodeId) : undefined
      const judged = detector === undefined ? {} : { silentMs: detector.lastHeartbeatMs === undefined ? undefined : Math.round(event.atMs - detector.lastHeartbeatMs), meanMs: detector.meanMs, stdDeviationMs: detector.stdDeviationMs, hinted: detector.hinted, unreachable: detector.unreachable, ...this.gossipLinkOf(event.nodeId) }
      this.ctx.log.info({ event: event.kind, peer: event.nodeId, generation: event.generation, ...judged }, `member ${event.kind}`)
    }
    if (this.events.length > C.MAX_RECENT_EVENTS) this.events.splice(0, this.events.length - C.MAX_RECENT_EVENTS)
    const view = this.view()
    for (const listener of this.listeners) listener(view, events)
  }

  view (): MembershipView {
    return this.table.view(this.nowMs())
  }

  subscribe (listener: (view: MembershipView, events: MembershipEvent[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  recentEvents (): MembershipEvent[] {
    return [...this.events]
  }

  /** Published, accepted (of which relayed), dropped-by-reason counters (for metrics and tests). */
  counters (): Record<string, number> {
    return {
      published: this.published,
      accepted: this.accepted,
      relayed: this.relayed,
      digestsPublished: this.digestsPublished,
      digestsPrompt: this.digestsPrompt,
      digestsFull: this.digestsFull,
      votersReconnected: this.votersReconnected,
      awaitsVouched: this.awaitsVouched,
      digestFullBytes: this.digestFullBytes,
      digestCompactBytes: this.digestCompactBytes,
      digestsAccepted: this.digestsAccepted,
      digestSenders: this.digestFrom.size,
      knownAddresses: this.knownAddresses.size,
      storedPeers: this.storedPeers.size,
      linksClosed: this.links?.closedCount ?? 0,
      ...Object.fromEntries([...this.drops].map(([reason, n]) => [`dropped.${reason}`, n])),
      ...Object.fromEntries([...this.digestDrops].map(([reason, n]) => [`dropped.${reason}`, n]))
    }
  }

  /** `full`, `voter` or `observer` (core/tier.ts), and whether this node hears heartbeats itself. */
  tierStatus (): { tier: Tier, listening: boolean } {
    return { tier: this.tier, listening: this.listening }
  }

  statusFields (): Record<string, unknown> {
    return { members: summarize(this.view()), membershipTier: this.tier, membershipListening: this.listening }
  }

  routes (app: FastifyInstance): void {
    app.get('/v1/members', async () => ({ ...summaryView(this.view()), heartbeatIntervalMs: this.intervalMs, tier: this.tier, listening: this.listening, events: this.recentEvents().slice(-50), counters: this.counters() }))
  }
}

/**
 * The first steps of both topic validators: a signed message (gossipsub strict signing names its sender) of at
 * most `maxBytes` whose body is canonical CBOR. Anything else is the sender's fault: both reject it.
 */
function openSigned (message: Message, maxBytes: number): { ok: true, decoded: unknown, sender: string } | { ok: false, tooLarge: boolean } {
  if (message.type !== 'signed') return { ok: false, tooLarge: false }
  if (message.data.length > maxBytes) return { ok: false, tooLarge: true }
  try {
    return { ok: true, decoded: decodeCanonical(message.data), sender: message.from.toString() }
  } catch {
    return { ok: false, tooLarge: false }
  }
}

function summarize (view: MembershipView): Array<Record<string, unknown>> {
  return view.members.map((m) => ({
    nodeId: m.nodeId, health: m.health, generation: m.state.generation, roles: m.state.roles, labels: m.state.labels,
    phi: Number(m.phi.toFixed(2)), uptimeMs: m.state.uptimeMs, addresses: m.state.addresses
  }))
}

function summaryView (view: MembershipView): Record<string, unknown> {
  return { self: view.self, atMs: view.atMs, members: summarize(view) }
}
