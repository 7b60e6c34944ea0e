/**
 * @module consensus/admission-loop
 * The leader's admission loop (issue 6 item 3; issue 16: a fleet booting together). Each round, on the
 * leader only:
 *   - removed members still in the configuration as learners are taken out (one change, several steps);
 *   - a removed member that connects again is told so, never admitted;
 *   - connected peers the shape already knows but the configuration does not (re-added after a rejoin)
 *     become learners together: one configuration change with one add-learner step each (no voter moves,
 *     so not a joint change);
 *   - otherwise a lone new peer is admitted through its signed `add-member` command, from which the leader
 *     derives the learner step (shape-command-rules.ts): nobody else ever names a configuration change;
 *   - several new peers waiting at once (a fleet booting together) are admitted together: their
 *     `add-member` commands in one batch envelope (one entry, no configuration change), after which they
 *     are members the shape knows and the configuration lacks, so the next round adds them all as learners
 *     in one change (the case above). Two commits for the whole wave instead of one each: every node
 *     applies, materializes and chains two entries, not N − 1, and no joiner waits behind the others'
 *     commits — the next wave goes as soon as this one is applied, not on the next timer tick;
 *   - while no learner step can be proposed (a joint change, or another change pending), new peers still join
 *     the shape by such a batch (a lone one too), so the one learner change that follows takes them all.
 *
 * Above protocol level 1, a peer (new or known) is admitted only once it advertised at least the cluster's
 * level in a heartbeat (`sortByLevel`, admission.ts; docs/OPERATIONS.md "Rolling upgrades"): one below it is
 * withheld with a warning naming both levels (once per peer per LOG_INTERVAL_MS_PER_PEER) and admitted on a
 * later round once it advertises enough, e.g. after an upgrade and restart; one not heard yet waits for its
 * first heartbeat. Both are counted (`withheld`, in `status --json` `admission`).
 *
 * A peer's first heartbeat makes its level known: the leader runs a round then (`onPeerHeard`, on the next
 * turn), so a joiner waiting for its level is admitted at once, not up to a timer period later.
 *
 * The timer only restarts the loop (a new leader, a newly connected peer, a retry after a refusal).
 */
import type { Logger } from '../log/index.js'
import type { ConfChange, ConfState, NodeId } from './core/types.js'
import type { Outcome } from './shape/core/index.js'
import { candidatesForAdmission, sortByLevel, ADMISSION_BATCH_MAX, ADMISSION_RETRY_MS } from './admission.js'
import type { LevelSort } from './admission.js'
import { PerPeerLogLimiter } from './log-limiter.js'
import { intervalTicker, type StopDuty, type Ticker } from '../util/ticker.js'

/** What admission reads of the applied MeshShape. */
export interface AdmissionShape {
  has: (nodeId: NodeId) => boolean
  wasRemoved: (nodeId: NodeId) => boolean
  /** The protocol level the cluster runs at (shape/core/protocol.ts). */
  protocol: number
}

/** Connected peers the last round withheld for their protocol level (0 and 0 on a follower). */
export interface AdmissionWithheld {
  /** Peers that advertise a level below the cluster's. */
  belowLevel: number
  /** Peers not heard from yet (their level unknown) while the cluster runs above level 1. */
  levelUnheard: number
}

/** The loop's view of the node; injected so tests drive it without Raft or libp2p. */
export interface AdmissionDeps {
  self: NodeId
  isLeader: () => boolean
  /** The configuration in force after the entries applied so far. */
  configuration: () => ConfState
  shape: () => AdmissionShape
  /** Peers with an open connection to this node (they passed the cluster-key handshake). */
  connectedPeers: () => NodeId[]
  /**
   * The protocol level each node advertised in its latest heartbeat heard since this node started
   * (membership); a node absent was not heard. Untrusted: `sortByLevel` reads a non-level as 1. Read at
   * most once a round, and only above level 1.
   */
  advertisedLevels: () => ReadonlyMap<NodeId, number>
  /** Proposes the signed `add-member` command of a new member; resolves with its outcome once applied here. */
  proposeAddMember: (nodeId: NodeId) => Promise<Outcome>
  /**
   * Proposes the `add-member` commands of several new members in one signed batch envelope (no
   * configuration change); resolves with one outcome per member, in order, once applied here.
   */
  proposeAddMembers: (nodeIds: NodeId[]) => Promise<Outcome[]>
  /** Proposes a configuration change without a command; throws while another one is pending. */
  proposeConfChange: (change: ConfChange) => void
  /** Tells a removed member that it was removed. */
  notifyRemoved: (nodeId: NodeId) => void
  /**
   * Whether several new peers may be admitted in one batch envelope (the cluster's protocol level knows v2);
   * otherwise one at a time. @default always
   */
  batchAdmission?: () => boolean
  /**
   * Why a peer's id may not be a member id (codec/peer-id.ts: the canonical text of an ed25519 PeerId), or
   * null. A key holder with another key type connects all the same; its add-member would be refused before
   * the log (InvalidMemberIdError), and in a batch it would fail every joiner of the wave. @default none refused
   */
  memberIdProblem?: (nodeId: NodeId) => string | null
  /** Steady clock (ms) for retry deadlines. */
  nowMs: () => number
  log: Logger
  /** Runs the next round after the current call stack. @default setImmediate */
  soon?: (run: () => void) => void
  /**
   * Subscribes to members heard for the first time (membership's `joined`: a first heartbeat, which carries
   * the protocol level); returns the unsubscribe. The leader runs a round on the next turn for each.
   * @default none: only the timer's rounds see them
   */
  onPeerHeard?: (listener: () => void) => () => void
}

export class AdmissionLoop {
  /** Peer → steady time before which it is not tried again (a refused admission, a removed member told). */
  private readonly retryAt = new Map<NodeId, number>()
  private inFlight = false
  private stopTimer: StopDuty | undefined
  private stopHeard: (() => void) | undefined
  private stopped = false
  private readonly soon: (run: () => void) => void
  /** One warning per withheld peer per interval, not one per round. */
  private readonly levelLog: PerPeerLogLimiter
  private withheldNow: AdmissionWithheld = { belowLevel: 0, levelUnheard: 0 }

  constructor (private readonly deps: AdmissionDeps) {
    this.soon = deps.soon ?? ((run) => { setImmediate(run) })
    this.levelLog = new PerPeerLogLimiter(deps.nowMs)
  }

  /** Runs a round every `intervalMs` (a restart, not the pace: admissions chain on their own). */
  start (intervalMs: number, ticker: Ticker = intervalTicker): void {
    this.stopTimer = ticker.every(intervalMs, () => { this.round() })
    // Outside the membership listener that tells it: the round runs on the next turn.
    this.stopHeard = this.deps.onPeerHeard?.(() => {
      if (!this.stopped && this.deps.isLeader()) this.soon(() => { this.round() })
    })
  }

  stop (): void {
    this.stopped = true
    this.stopTimer?.()
    this.stopHeard?.()
  }

  /** True while an `add-member` proposal has not settled. */
  get admitting (): boolean {
    return this.inFlight
  }

  /** The peers the last round on this leader withheld for their protocol level (status). */
  get withheld (): AdmissionWithheld {
    return { ...this.withheldNow }
  }

  /** One round (see the module comment). Never throws: a refusal is logged and retried on a later round. */
  round (): void {
    if (!this.deps.isLeader()) this.withheldNow = { belowLevel: 0, levelUnheard: 0 }
    if (this.stopped || this.inFlight || !this.deps.isLeader()) return
    const now = this.deps.nowMs()
    for (const [id, at] of this.retryAt) if (at <= now) this.retryAt.delete(id)
    const shape = this.deps.shape()
    const conf = this.deps.configuration()
    // Learner steps while voters move would land in learnersNext; wait until the joint change is left.
    const settled = conf.votersOutgoing.length === 0 && conf.learnersNext.length === 0
    const stale = conf.learners.filter((id) => shape.wasRemoved(id))
    if (stale.length > 0) {
      if (settled) this.changeConf(stale.map((nodeId) => ({ type: 'remove' as const, nodeId })), 'removing removed members from the raft configuration')
      return
    }
    const waiting = candidatesForAdmission(this.deps.connectedPeers(), conf, this.deps.self).filter((id) => !this.retryAt.has(id) && this.mayBeMember(id, shape))
    for (const id of waiting.filter((id) => shape.wasRemoved(id))) {
      this.retryAt.set(id, now + ADMISSION_RETRY_MS)
      this.deps.log.info({ peer: id }, 'a removed member connected; telling it so')
      this.deps.notifyRemoved(id)
    }
    // A peer below the cluster's protocol level (or not heard yet) is neither admitted nor re-added.
    let heard: ReadonlyMap<NodeId, number> | undefined
    const levelOf = (id: NodeId): number | undefined => (heard ??= this.deps.advertisedLevels()).get(id)
    const levels = sortByLevel(waiting.filter((id) => !shape.wasRemoved(id)), shape.protocol, levelOf)
    this.reportLevels(levels, shape.protocol)
    const known = levels.admit.filter((id) => shape.has(id))
    // Already members of the shape: no command to apply, only the learner steps, all in one change.
    if (known.length > 0 && settled && this.changeConf(known.map((nodeId) => ({ type: 'add-learner' as const, nodeId })), 'adding known members as learners')) return
    const batch = this.deps.batchAdmission?.() ?? true
    if (known.length > 0 || !settled) {
      // No learner step can go now (voters moving, or another change pending: the policy's promotions while a
      // fleet forms held it for 18–76 s in docs/bench/scale.md "50 nodes: which step the joiners give up at").
      // New peers still join the shape meanwhile — a batch of add-member commands is no configuration change —
      // so that one learner change takes all of them once the configuration is free. A lone add-member would
      // carry its own learner step, so below the batch level they wait as before.
      const fresh = levels.admit.filter((id) => !shape.has(id)).slice(0, ADMISSION_BATCH_MAX)
      if (batch && fresh.length > 0) this.admitWave(fresh)
      return
    }
    const fresh = levels.admit.filter((id) => !shape.has(id)).slice(0, batch ? ADMISSION_BATCH_MAX : 1)
    if (fresh.length === 1) this.admitNew(fresh[0] as NodeId)
    else if (fresh.length > 1) this.admitWave(fresh)
  }

  /** False (a warning once per peer per interval) for a new peer whose id no command may name as a member. */
  private mayBeMember (id: NodeId, shape: AdmissionShape): boolean {
    const problem = shape.has(id) ? null : this.deps.memberIdProblem?.(id) ?? null
    if (problem === null) return true
    if (this.levelLog.allow(id, 'member-id')) this.deps.log.warn({ peer: id, reason: problem }, `not admitting ${id}: its id is no canonical ed25519 peer id`)
    return false
  }

  /** Counts the withheld peers and tells the operator which node to upgrade (once per peer per interval). */
  private reportLevels (levels: LevelSort, cluster: number): void {
    this.withheldNow = { belowLevel: levels.below.length, levelUnheard: levels.unheard.length }
    for (const { peer, advertised } of levels.below) {
      if (!this.levelLog.allow(peer, 'level-below')) continue
      this.deps.log.warn({ peer, advertised, cluster },
        `not admitting ${peer}: it runs protocol level ${advertised}, below the cluster's ${cluster}; upgrade revoada on that node and start it again (it is admitted once it advertises level ${cluster})`)
    }
    for (const peer of levels.unheard) {
      if (this.levelLog.allow(peer, 'level-unheard')) this.deps.log.debug({ peer, cluster }, 'waiting for the peer\'s first heartbeat (its protocol level) before admitting it')
    }
  }

  /** Proposes the change; false when it is not accepted now (a later round tries again). */
  private changeConf (steps: ConfChange['steps'], message: string): boolean {
    const peers = steps.map((s) => s.nodeId)
    try {
      this.deps.proposeConfChange({ steps, transition: 'auto' })
      this.deps.log.info({ peers }, message)
      return true
    } catch (err) {
      // Another configuration change pending, or leadership lost meanwhile: a later round tries again.
      this.deps.log.debug({ peers, err: (err as Error).message }, 'configuration change not accepted yet')
      return false
    }
  }

  private admitNew (peer: NodeId): void {
    this.inFlight = true
    let admitted = false
    this.deps.proposeAddMember(peer).then((outcome) => {
      admitted = outcome.kind === 'applied'
      this.deps.log.info({ peer, outcome }, admitted ? 'admitted peer as learner' : 'admission refused by the shape')
      // A refused command would be refused again at once: the peer waits like after a failure.
      if (!admitted) this.retryAt.set(peer, this.deps.nowMs() + ADMISSION_RETRY_MS)
    }, (err: unknown) => {
      this.retryAt.set(peer, this.deps.nowMs() + ADMISSION_RETRY_MS)
      this.deps.log.warn({ peer, err: (err as Error).message }, 'admission failed; will retry')
    }).finally(() => {
      this.inFlight = false
      // Applied: the next waiting peer goes now. After a refusal the timer paces the retries.
      if (admitted) this.soon(() => { this.round() })
    })
  }

  /** Several new peers in one batch of `add-member` commands; the next round makes them learners together. */
  private admitWave (peers: NodeId[]): void {
    this.inFlight = true
    let admitted = 0
    this.deps.log.info({ peers: peers.length }, 'admitting new peers in one batch')
    this.deps.proposeAddMembers(peers).then((outcomes) => {
      peers.forEach((peer, i) => {
        const outcome = outcomes[i]
        if (outcome?.kind === 'applied') {
          admitted++
          return
        }
        this.retryAt.set(peer, this.deps.nowMs() + ADMISSION_RETRY_MS)
        this.deps.log.info({ peer, outcome }, 'admission refused by the shape')
      })
      this.deps.log.info({ admitted, of: peers.length }, 'admitted new peers; adding them as learners')
    }, (err: unknown) => {
      for (const peer of peers) this.retryAt.set(peer, this.deps.nowMs() + ADMISSION_RETRY_MS)
      this.deps.log.warn({ peers: peers.length, err: (err as Error).message }, 'batch admission failed; will retry')
    }).finally(() => {
      this.inFlight = false
      // Applied: the learner steps of this wave go now (they are known to the shape, missing from the configuration).
      if (admitted > 0) this.soon(() => { this.round() })
    })
  }
}
