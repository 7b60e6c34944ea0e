/**
 * @module membership/core/member-table
 * The pure membership state machine: heartbeats, connection hints, leave announcements and clock ticks in;
 * health transitions and events out. Per member: alive → suspect (phi over the threshold) → dead (suspect
 * for the confirmation time) → removed (after retention); a heartbeat from a suspect or dead member of the
 * same or a newer generation brings it back (`recovered`); a leave announcement makes it `left`, not dead.
 */
import { assert } from '../../util/assert.js'
import { PhiAccrualDetector } from './phi-accrual.js'
import type { Health, Member, MembershipEvent, MembershipView, NodeId, NodeState } from './types.js'
import * as C from './constants.js'
import type { DigestMember } from './tier.js'

export interface MemberTableOptions {
  self: NodeState
  heartbeatIntervalMs?: number
  phiThreshold?: number
  minStdDeviationMs?: number
  acceptablePauseMs?: number
  deadAfterSuspectMs?: number
  removeAfterMs?: number
  /** The period at which tick() is called; a later tick is a stall of this node, not of its peers. */
  tickIntervalMs?: number
}

interface Entry {
  state: NodeState
  health: Health
  sinceMs: number
  detector: PhiAccrualDetector
  hinted: boolean
  /**
   * Every connection to it closed and none opened since, nor a heartbeat heard: none of its heartbeats can be
   * waiting unread in this node's sockets, so this node's stalls are not excused for it (excuseOwnStall).
   */
  unreachable: boolean
  /**
   * While unreachable, a dial to it was refused on every address (ECONNREFUSED: nothing listens on its port —
   * a frozen or starved process still accepts TCP): its process is gone. Judged on its silence, not on phi.
   */
  refused: boolean
  /**
   * Detection restarted (rebase) and this member's heartbeats may not reach this node yet, so its silence is
   * not judged until it is heard, a dial to it is refused, or LISTEN_CONNECT_GRACE_MS passes (renewed while a
   * leader's digests vouch for it: vouch). A voter is
   * awaited only while this node has no connection to it (detection starts when one opens); any other member
   * until it is heard, connected or not: it sends every scaled period, and only once it has learnt this node's
   * new subscription (rebase).
   */
  awaitingSinceMs: number | undefined
  /**
   * While awaited: the newest (generation, seq) of it a leader's digest listed alive, and when (vouch). The
   * wait lasts LISTEN_CONNECT_GRACE_MS from the later of the rebase and that digest, and never more than
   * VOUCHED_AWAIT_MAX_MS after the rebase.
   */
  vouched?: { generation: number, seq: number, atMs: number } | undefined
  /**
   * The sender of the last digest that listed it (undefined: never listed by one, or by one of unknown sender),
   * and since when digests from another sender have not listed it (adopt).
   */
  listedBy?: string | undefined
  unlistedSinceMs?: number | undefined
  /**
   * The newest (generation, seq) of it this node has on checked word: its own signed heartbeat, or the digest of
   * a voter of this node's configuration (adopt with `checked`, vouch). Undefined while only digests this node
   * could not check (a joiner's, from any signer of the cluster) spoke of it. Invariant: the state shown is
   * checked (isChecked) or a later unchecked digest moved it; the member's own heartbeats and checked digests
   * are ordered against this, never against what an unchecked digest said (lastSeen, adopt).
   */
  checked: { generation: number, seq: number } | undefined
}

export class MemberTable {
  private readonly entries = new Map<NodeId, Entry>()
  private self: NodeState
  /** When tick() last ran; undefined before the first tick. */
  private lastTickMs: number | undefined
  /** Total ms of own stalls excused so far (status and tests). */
  excusedStallMs = 0
  private readonly opts: Required<Omit<MemberTableOptions, 'self'>>
  /** Members that heartbeat at `votersIntervalMs` rather than `opts.heartbeatIntervalMs` (setHeartbeatIntervals). */
  private voters: ReadonlySet<NodeId> = new Set()
  private votersIntervalMs: number | undefined

  constructor (options: MemberTableOptions) {
    this.self = options.self
    this.opts = {
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? C.HEARTBEAT_INTERVAL_MS_DEFAULT,
      phiThreshold: options.phiThreshold ?? C.PHI_THRESHOLD_DEFAULT,
      minStdDeviationMs: options.minStdDeviationMs ?? C.MIN_STD_DEVIATION_MS_DEFAULT,
      acceptablePauseMs: options.acceptablePauseMs ?? C.ACCEPTABLE_PAUSE_MS_DEFAULT,
      deadAfterSuspectMs: options.deadAfterSuspectMs ?? C.DEAD_AFTER_SUSPECT_MS_DEFAULT,
      removeAfterMs: options.removeAfterMs ?? C.REMOVE_AFTER_MS_DEFAULT,
      tickIntervalMs: options.tickIntervalMs ?? C.TICK_INTERVAL_MS_DEFAULT
    }
    assert(this.opts.phiThreshold > 0, 'phi threshold must be positive')
  }

  setSelf (state: NodeState): void {
    assert(state.nodeId === this.self.nodeId, 'self id cannot change')
    this.self = state
  }

  /**
   * The newest (generation, seq) of `id` on checked word (Entry.checked), for the replay check of its heartbeats;
   * undefined for a member not tracked or known only from digests this node could not check: a lying insider's
   * digest to a joiner listing a member at generation 2^53−1 made every real heartbeat of it stale there until
   * the member was declared dead and removed (`test/membership/joiner-digest.test.ts`).
   */
  lastSeen (id: NodeId): { generation: number, seq: number } | undefined {
    const checked = this.entries.get(id)?.checked
    return checked === undefined ? undefined : { ...checked }
  }

  /**
   * Makes room in a full table (MAX_MEMBERS) for a member this node's configuration lists, not tracked yet: forgets
   * the member heard least recently among those `admitted` says no to, and returns its `removed` event (none when
   * the table is not full or every member tracked is admitted). A key holder can sign heartbeats with as many
   * made-up identities as it likes; once they filled the table, the heartbeats of every member not tracked yet
   * were dropped (`table-full`) until the made-up ones were removed, about 63 s after the last of them
   * (`test/membership/table-full.test.ts`). A made-up member forgotten is dropped as any newcomer when it comes back.
   */
  makeRoom (nowMs: number, admitted: (id: NodeId) => boolean): MembershipEvent[] {
    if (this.entries.size < C.MAX_MEMBERS) return []
    let oldest: NodeId | undefined
    let oldestHeardMs = Infinity
    for (const [id, entry] of this.entries) {
      const heardMs = entry.detector.lastHeartbeat ?? -Infinity
      if (heardMs < oldestHeardMs && !admitted(id)) {
        oldest = id
        oldestHeardMs = heardMs
      }
    }
    if (oldest === undefined) return []
    const entry = this.entries.get(oldest)
    assert(entry !== undefined, 'member to forget is tracked')
    this.entries.delete(oldest)
    assert(this.entries.size < C.MAX_MEMBERS, 'room made')
    return [{ kind: 'removed', nodeId: oldest, atMs: nowMs, generation: entry.state.generation }]
  }

  /** Whether `id` is tracked (any health). */
  has (id: NodeId): boolean {
    return this.entries.has(id)
  }

  get size (): number {
    return this.entries.size
  }

  /** Members alive or suspect, self included (what sizes the heartbeat period). */
  liveCount (): number {
    let count = 1
    for (const entry of this.entries.values()) if (entry.health === 'alive' || entry.health === 'suspect') count++
    return count
  }

  /**
   * The heartbeat period now in force (it grows with the cluster, heartbeat-interval.ts): a member heard of
   * from now on starts with it as its expected interval. Members already tracked adapt through their window.
   */
  setHeartbeatIntervalMs (ms: number): void {
    this.setHeartbeatIntervals(ms, ms, new Set())
  }

  /**
   * The periods members send at, as far as this node can tell: `votersMs` for the members in `voters` (a
   * tiered voter heartbeats at the base period), `othersMs` for everyone else (the period scaled with the
   * member count). A detector started from now on (a member first heard of, a restart, a rebase, an awaited
   * connection) expects its member's own period: seeded with a voter's 500 ms, a new voter suspected the
   * observers heartbeating every 1.5 s at 50 members 2.2–2.7 s after its promotion (docs/bench/scale.md).
   */
  setHeartbeatIntervals (othersMs: number, votersMs: number, voters: ReadonlySet<NodeId>): void {
    assert(othersMs > 0 && votersMs > 0, 'heartbeat interval must be positive')
    this.opts.heartbeatIntervalMs = othersMs
    this.votersIntervalMs = votersMs
    this.voters = voters
  }

  /** A validated heartbeat arrived at `nowMs`. Returns the events it caused. */
  heartbeat (state: NodeState, nowMs: number): MembershipEvent[] {
    assert(state.nodeId !== this.self.nodeId, 'own heartbeat fed back')
    const entry = this.entries.get(state.nodeId)
    const event = (kind: MembershipEvent['kind']): MembershipEvent => ({ kind, nodeId: state.nodeId, atMs: nowMs, generation: state.generation })
    if (entry === undefined) {
      const health: Health = state.leaving ? 'left' : 'alive'
      this.track(state, health, nowMs)
      return [event(health === 'left' ? 'left' : 'joined')]
    }
    // The caller judged it against lastSeen: a generation other than the state's is a newer one, or the state
    // shown came from an unchecked digest (any generation).
    const restarted = state.generation !== entry.state.generation
    // A restart quicker than its detection: a newer generation than its own word, heard while it looked alive. The
    // policy counts a restart as a flap only from an event (a crash-looping node went unseen); an unchecked
    // digest's generation is not its word (checked).
    const backAlive = entry.health === 'alive' && entry.checked !== undefined && state.generation > entry.checked.generation
    // Awaited since a rebase: its first heartbeat starts detection; the wait is not an interval it sent at.
    if (restarted || entry.awaitingSinceMs !== undefined) entry.detector = this.newDetector(state.nodeId)
    entry.state = state
    entry.checked = { generation: state.generation, seq: state.seq }
    entry.hinted = false
    entry.unreachable = false
    entry.refused = false
    entry.awaitingSinceMs = undefined
    entry.vouched = undefined
    // Back from dead or left in the same generation: the silence was a failure, not an interval it sends at. Nor
    // is a gap this node's own stall: read before the late tick that excuses it (the rest of a poll phase after
    // the stall), the heartbeat queued meanwhile came that much "late" (excuseOwnStall).
    const ownStall = this.lastTickMs !== undefined && nowMs - this.lastTickMs - this.opts.tickIntervalMs >= C.LOCAL_STALL_MIN_MS
    if (entry.health === 'dead' || entry.health === 'left' || ownStall) entry.detector.resume(nowMs)
    else entry.detector.heartbeat(nowMs)
    if (state.leaving) return this.transition(entry, 'left', nowMs, event('left'))
    if (entry.health === 'alive') return backAlive ? [event('recovered')] : []
    return this.transition(entry, 'alive', nowMs, event('recovered'))
  }

  /** A connection to `id` closed: a hint that lowers the suspicion threshold, never a verdict. */
  connectionClosed (id: NodeId): void {
    const entry = this.entries.get(id)
    if (entry === undefined) return
    entry.hinted = true
    entry.unreachable = true
  }

  /**
   * A connection to `id` opened at `nowMs`: its heartbeats may queue in this node's sockets again
   * (excuseOwnStall), and a voter awaited since a rebase is judged from now on, as if heard now (any other
   * member stays awaited until heard: rebase).
   */
  connectionOpened (id: NodeId, nowMs: number): void {
    const entry = this.entries.get(id)
    if (entry === undefined) return
    entry.unreachable = false
    entry.refused = false
    if (entry.awaitingSinceMs !== undefined && this.voters.has(id)) {
      entry.awaitingSinceMs = undefined
      entry.vouched = undefined
      entry.detector = this.newDetector(id)
      entry.detector.heartbeat(nowMs)
      if (entry.health === 'suspect') entry.sinceMs = nowMs
    }
  }

  /**
   * A dial to `id` was refused on every address it tried (net/dial-errors.ts refusedEverywhere). Counted only
   * while every connection to it is closed (a refusal at a stale address of a connected member says nothing).
   * Until it is heard or connected again, it is suspect once silent for its usual heartbeat interval (the
   * detector's mean): phi waits out the spread of a loaded machine's arrivals (seconds at 50 nodes on 2 cores,
   * docs/bench/scale.md), and nothing alive refuses a connection. Death still waits the confirmation time.
   */
  dialRefused (id: NodeId): void {
    const entry = this.entries.get(id)
    if (entry !== undefined && entry.unreachable) entry.refused = true
  }

  /**
   * Advances health with the clock: suspicion, confirmation of death, and removal after retention. With
   * `detect: false` (a tiered observer, whose health comes from the voters' digest: adopt) only removal runs.
   */
  tick (nowMs: number, detect = true): MembershipEvent[] {
    const stalledSinceMs = this.excuseOwnStall(nowMs)
    const events: MembershipEvent[] = []
    for (const [id, entry] of this.entries) {
      const event = (kind: MembershipEvent['kind']): MembershipEvent => ({ kind, nodeId: id, atMs: nowMs, generation: entry.state.generation })
      const threshold = this.opts.phiThreshold * (entry.hinted ? C.HINTED_THRESHOLD_FACTOR : 1)
      // An unreachable member is not excused a stall, but judged as of the tick before it: the heartbeats
      // relayed by others that were waiting in the sockets then have been read since (a poll phase ran).
      const judgedAt = entry.unreachable && stalledSinceMs !== undefined ? stalledSinceMs : nowMs
      if (!detect) {
        if ((entry.health === 'dead' || entry.health === 'left') && nowMs - entry.sinceMs >= this.opts.removeAfterMs) {
          this.entries.delete(id)
          events.push(event('removed'))
        }
      } else if ((entry.health === 'alive' || entry.health === 'suspect') && awaited(entry, nowMs)) {
        // Not judged yet: this node could not hear it since it started listening (rebase).
      } else if (entry.health === 'alive' && (entry.detector.phi(judgedAt) > threshold || refusedAndSilent(entry, judgedAt))) {
        events.push(...this.transition(entry, 'suspect', judgedAt, event('suspect')))
      } else if (entry.health === 'suspect' && judgedAt - entry.sinceMs >= this.opts.deadAfterSuspectMs) {
        events.push(...this.transition(entry, 'dead', nowMs, event('dead')))
      } else if ((entry.health === 'dead' || entry.health === 'left') && nowMs - entry.sinceMs >= this.opts.removeAfterMs) {
        this.entries.delete(id)
        events.push(event('removed'))
      }
    }
    return events
  }

  /**
   * Takes a voter's liveness digest as this node's view (a tiered observer, core/tier.ts). Per member: an
   * older (generation, seq) than this table holds is skipped; the same one updates health only (and the state,
   * from a full entry); a newer one updates state and health (and counts as a heartbeat at `nowMs`, so full
   * mode starts from it). A compact entry (no state) carries only (generation, seq) and health: it applies to
   * a member this table holds in that generation (the seq moves, the rest stays as last taken in full); for a
   * member unknown here, or known in an older generation, this table lacks the state and skips the entry
   * until a full one comes (nothing is invented). A member first heard of in a full entry is added unless the
   * digest calls it dead or left. A live member the digest no longer lists (the voter removed it after its
   * death) turns dead — at once when `from` (the digest's sender) is the sender whose digest last listed it or is
   * not given, otherwise once no digest has listed it for DIGEST_UNLISTED_GRACE_MS (a new leader may not hold it
   * yet). Returns the events, as heartbeat() does.
   *
   * `checked: false` (a joiner's digest, from any signer of the cluster: core/joiner.ts) still moves the view,
   * ordered against the state shown, but is no checked word (Entry.checked): the member's own heartbeats and a
   * checked digest are ordered against what checked word said, so a generation an unchecked digest planted
   * outranks neither, and a checked compact entry waits for a full one over a state only unchecked digests gave.
   */
  adopt (members: readonly DigestMember[], nowMs: number, from?: string, checked = true): MembershipEvent[] {
    const events: MembershipEvent[] = []
    const listed = new Set<NodeId>()
    for (const { nodeId, health, generation, seq, state } of members) {
      if (nodeId === this.self.nodeId) continue
      listed.add(nodeId)
      const event = (kind: MembershipEvent['kind']): MembershipEvent => ({ kind, nodeId, atMs: nowMs, generation })
      const entry = this.entries.get(nodeId)
      if (entry === undefined) {
        // The table's bound holds for digests as for heartbeats: members never heard of beyond it are skipped.
        if (state === undefined || health === 'dead' || health === 'left' || this.entries.size >= C.MAX_MEMBERS) continue
        this.track(state, health, nowMs, { listedBy: from, unchecked: !checked })
        events.push(event('joined'))
        continue
      }
      entry.listedBy = from
      entry.unlistedSinceMs = undefined
      const base = checked ? entry.checked : entry.state
      if (base !== undefined && (generation < base.generation || (generation === base.generation && seq < base.seq))) continue
      const hearsay = !isChecked(entry)
      // A compact entry of a generation this table never held a state of: wait for the full entry. So too for a
      // checked one over a state only unchecked digests gave (the rest of it may be a liar's).
      if (state === undefined && (generation !== entry.state.generation || (checked && hearsay))) continue
      const newer = (checked && hearsay) || generation > entry.state.generation || seq > entry.state.seq
      // A restart the voter saw while the member stayed alive (heartbeat): told here too, on checked word only.
      const backAlive = checked && health === 'alive' && entry.health === 'alive' && entry.checked !== undefined && generation > entry.checked.generation
      if (newer) {
        if (generation !== entry.state.generation) entry.detector = this.newDetector(nodeId)
        entry.hinted = false
        entry.unreachable = false
        entry.refused = false
        entry.awaitingSinceMs = undefined
        entry.vouched = undefined
        if (health === 'alive') entry.detector.heartbeat(nowMs)
      }
      if (state !== undefined) entry.state = state
      else if (newer) entry.state = { ...entry.state, seq }
      if (checked) entry.checked = { generation, seq }
      const kind: MembershipEvent['kind'] = health === 'alive' ? 'recovered' : health
      const moved = this.transition(entry, health, nowMs, event(kind))
      events.push(...(moved.length === 0 && backAlive ? [event('recovered')] : moved))
    }
    for (const [id, entry] of this.entries) {
      if (listed.has(id) || (entry.health !== 'alive' && entry.health !== 'suspect')) continue
      if (from !== undefined && entry.listedBy !== from) {
        // Another sender than the one that listed it: it may not hold this member yet.
        entry.unlistedSinceMs ??= nowMs
        if (nowMs - entry.unlistedSinceMs < C.DIGEST_UNLISTED_GRACE_MS) continue
      }
      events.push(...this.transition(entry, 'dead', nowMs, { kind: 'dead', nodeId: id, atMs: nowMs, generation: entry.state.generation }))
    }
    return events
  }

  /**
   * Restarts failure detection from `nowMs` (an observer promoted to voter or going back to full mode): every
   * live member counts as heard now, so detection starts afresh instead of from the digest's last
   * confirmation. A live member not in `connected` (the peers this node has a connection to now) cannot be
   * heard until this node dials it: it is unreachable until then. A voter (setHeartbeatIntervals) is awaited
   * only while unreachable and judged from the moment a connection to it opens; any other member is awaited
   * until its first heartbeat, connected or not: its next heartbeat comes up to a scaled period later (1.5 s at
   * 50 members), and only once its node has learnt this node's subscription, which on a starved machine took
   * seconds (issue 16: a new voter whose event loop ran at a raised priority declared 7–34 live observers dead
   * 5–11 s after its promotion; docs/bench/scale.md). Either is judged once LISTEN_CONNECT_GRACE_MS have
   * passed, and at once if a dial to it is refused. The leader's own detector, which the policy reads, is not
   * restarted by another node's promotion.
   */
  rebase (nowMs: number, connected: ReadonlySet<NodeId>): void {
    for (const [id, entry] of this.entries) {
      if (entry.health !== 'alive' && entry.health !== 'suspect') continue
      entry.detector = this.newDetector(id)
      entry.detector.heartbeat(nowMs)
      // A suspicion the last digest gave (another node's detector) restarts too: it dated from the digest, and the
      // first tick turned the member dead before this node could hear it.
      if (entry.health === 'suspect') entry.sinceMs = nowMs
      const reachable = connected.has(id)
      entry.awaitingSinceMs = reachable && this.voters.has(id) ? undefined : nowMs
      entry.vouched = undefined
      if (!reachable) entry.unreachable = true
    }
  }

  /**
   * A leader's liveness digest taken while this node listens itself (a new voter; the caller has checked that
   * the sender votes in this node's configuration). It counts only for members this node has not heard since
   * its rebase. One it awaits that the digest lists alive with a (generation, seq) newer than any this node has
   * seen of it sent a heartbeat the leader heard, so its wait starts over. One it has never heard of, listed
   * alive with its full state, is added as awaited (`joined`): a member admitted as this node was promoted is
   * otherwise missing from its view until its first heartbeat gets through; its state is not on checked word, so the
   * digest never orders the member's own heartbeats (a lying voter's generation made them stale). Evidence of life,
   * never a verdict: nothing is marked dead, a known member's state and detector do not change, and a wait ends
   * VOUCHED_AWAIT_MAX_MS after it began whatever the digests say. A new voter dials 47 starved observers at 50
   * nodes, and its own stream and subscription to each took up to 12 s to open: with only the grace, new voters
   * declared 13–29 live observers dead while the leader was hearing them, and learnt of the last admitted
   * joiners 10–11 s after every other node (issue 16, docs/bench/scale.md). Returns the waits it renewed and
   * the events (`joined`).
   */
  vouch (members: readonly DigestMember[], nowMs: number): { renewed: number, events: MembershipEvent[] } {
    let renewed = 0
    const events: MembershipEvent[] = []
    for (const { nodeId, health, generation, seq, state } of members) {
      if (nodeId === this.self.nodeId || health !== 'alive') continue
      const entry = this.entries.get(nodeId)
      if (entry === undefined) {
        // The table's bound holds as for heartbeats; a compact entry has no state to add a member from. Not on
        // checked word (Entry.checked): any voter's digest is taken, and one listing the member at generation
        // 2^53 − 1 made each of its own heartbeats stale here, so it was declared dead once the wait ended.
        if (state === undefined || this.entries.size >= C.MAX_MEMBERS) continue
        this.track(state, health, nowMs, { awaitingSinceMs: nowMs, unchecked: true })
        events.push({ kind: 'joined', nodeId, atMs: nowMs, generation })
        continue
      }
      if (entry.awaitingSinceMs === undefined || !awaited(entry, nowMs)) continue
      const seen = entry.vouched ?? entry.state
      const newer = generation > seen.generation || (generation === seen.generation && seq > seen.seq)
      if (!newer) continue
      entry.vouched = { generation, seq, atMs: nowMs }
      renewed++
    }
    return { renewed, events }
  }

  /** Whether any live member is still awaited since a rebase (the caller keeps taking digests for vouch meanwhile). */
  awaitingAny (nowMs: number): boolean {
    for (const entry of this.entries.values()) if ((entry.health === 'alive' || entry.health === 'suspect') && awaited(entry, nowMs)) return true
    return false
  }

  /**
   * A tick that comes late by LOCAL_STALL_MIN_MS or more means this node did not run for that long: its
   * peers' heartbeats may be waiting unread in its sockets. The excess is excused for every member (their
   * silence clocks and suspect timers move forward by it), so an observer's stall delays detection instead
   * of turning every member suspect at once — except an unreachable member (every connection to it closed):
   * nothing of its own can be waiting, so its silence counts in full and the stall does not delay its verdict
   * (issue 16: a newly elected leader, the busiest node, stalled ≥ 1 s on tick after tick and took up to 8 s
   * longer to declare the killed leader dead). Returns when the previous tick ran if this tick is a stall.
   */
  private excuseOwnStall (nowMs: number): number | undefined {
    const last = this.lastTickMs
    this.lastTickMs = Math.max(nowMs, last ?? nowMs)
    if (last === undefined) return undefined
    const excess = nowMs - last - this.opts.tickIntervalMs
    if (excess < C.LOCAL_STALL_MIN_MS) return undefined
    this.excusedStallMs += excess
    for (const entry of this.entries.values()) {
      if (entry.unreachable) continue
      entry.detector.excuse(excess, nowMs)
      if (entry.health === 'suspect') entry.sinceMs = Math.min(nowMs, entry.sinceMs + excess)
    }
    return last
  }

  private transition (entry: Entry, health: Health, nowMs: number, event: MembershipEvent): MembershipEvent[] {
    if (entry.health === health) return []
    entry.health = health
    entry.sinceMs = nowMs
    return [event]
  }

  /**
   * What `id`'s detector holds (for the log line of a suspicion: why it came when it did); undefined for a
   * member not tracked. `meanMs` and `stdDeviationMs` are of the inter-arrival window, before the pause.
   */
  detectorOf (id: NodeId): { meanMs: number, stdDeviationMs: number, lastHeartbeatMs: number | undefined, hinted: boolean, unreachable: boolean } | undefined {
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    const { detector } = entry
    return { meanMs: Math.round(detector.meanMs()), stdDeviationMs: Math.round(detector.stdDeviationMs()), lastHeartbeatMs: detector.lastHeartbeat, hinted: entry.hinted, unreachable: entry.unreachable }
  }

  /**
   * Starts tracking a member first heard of at `nowMs` (heartbeat, digest or vouch), as if heard then; its state
   * is on checked word unless `unchecked` (a joiner's digest: Entry.checked).
   */
  private track (state: NodeState, health: Health, nowMs: number, fields: Pick<Entry, 'listedBy'> & { awaitingSinceMs?: number, unchecked?: boolean } = {}): void {
    const detector = this.newDetector(state.nodeId)
    detector.heartbeat(nowMs)
    const checked = fields.unchecked === true ? undefined : { generation: state.generation, seq: state.seq }
    this.entries.set(state.nodeId, { state, health, sinceMs: nowMs, detector, hinted: false, unreachable: false, refused: false, awaitingSinceMs: fields.awaitingSinceMs, checked, ...(fields.listedBy !== undefined ? { listedBy: fields.listedBy } : {}) })
  }

  /** A detector for `id`, seeded with the period `id` sends at (setHeartbeatIntervals). */
  private newDetector (id: NodeId): PhiAccrualDetector {
    const voter = this.votersIntervalMs !== undefined && this.voters.has(id)
    return new PhiAccrualDetector({
      windowSize: C.PHI_WINDOW_SIZE,
      minStdDeviationMs: this.opts.minStdDeviationMs,
      acceptablePauseMs: this.opts.acceptablePauseMs,
      firstHeartbeatEstimateMs: voter ? this.votersIntervalMs as number : this.opts.heartbeatIntervalMs
    })
  }

  /** Members sorted by NodeId, self included (always alive). */
  view (nowMs: number): MembershipView {
    const members: Member[] = [{ nodeId: this.self.nodeId, state: this.self, health: 'alive', phi: 0, sinceMs: 0, lastHeartbeatMs: nowMs }]
    for (const [nodeId, entry] of this.entries) {
      members.push({
        nodeId, state: entry.state, health: entry.health, phi: entry.detector.phi(nowMs), sinceMs: entry.sinceMs,
        lastHeartbeatMs: entry.detector.lastHeartbeat ?? 0
      })
    }
    members.sort((a, b) => a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
    return { self: this.self.nodeId, members, atMs: nowMs }
  }
}

/**
 * A live member awaited since a rebase (or since a digest added it: vouch), with no refused dial, within the grace
 * since then or since the last digest that vouched for it, and within VOUCHED_AWAIT_MAX_MS of the wait's start:
 * not judged yet.
 */
function awaited (entry: Entry, nowMs: number): boolean {
  const since = entry.awaitingSinceMs
  if (since === undefined || entry.refused || nowMs - since >= C.VOUCHED_AWAIT_MAX_MS) return false
  return nowMs - Math.max(since, entry.vouched?.atMs ?? since) < C.LISTEN_CONNECT_GRACE_MS
}

/** Whether the state shown of a member is on checked word (Entry.checked), not moved since by an unchecked digest. */
function isChecked (entry: Entry): boolean {
  const checked = entry.checked
  return checked !== undefined && checked.generation === entry.state.generation && checked.seq === entry.state.seq
}

/** A member whose dials were refused while unreachable, silent for at least its mean heartbeat interval. */
function refusedAndSilent (entry: Entry, atMs: number): boolean {
  const last = entry.detector.lastHeartbeat
  const mean = entry.detector.meanMs()
  return entry.refused && entry.unreachable && last !== undefined && Number.isFinite(mean) && atMs - last >= mean
}
