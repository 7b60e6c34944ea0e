/**
 * @module consensus/election-log
 * Why this node's role changed, said in the driver's election lines (docs/CONSENSUS.md, "A node logs why its
 * role changed"): a follower that campaigns (how long its leader had been silent, and whether this process
 * had just stalled), a leader that steps down (a higher term, or no quorum heard within an election timeout,
 * with each voter's silence), and a voter's own long stalls. The lines are rate-limited per kind; the events
 * behind them are counted in full (`ElectionCounters`, for metrics). The driver tells it what it heard from
 * voters, its late ticks and its status changes; nothing here reaches the core.
 */
import { MessageType } from './core/index.js'
import type { ConfState, Message, NodeId, RaftStatus, RawNode } from './core/index.js'
import type { Logger } from './raft-node-types.js'
import { PerPeerLogLimiter } from './log-limiter.js'
import * as C from './constants.js'

export type CampaignCause = 'election_timeout' | 'handed_over' | 'only_voter'
export type StepDownReason = 'higher_term' | 'no_quorum'
export type ElectionLineKind = 'campaign' | 'step-down' | 'stall'

/** Why this node campaigned, why it stepped down as leader, and its long stalls: every one, never rate-limited. */
export interface ElectionCounters {
  campaigns: Record<CampaignCause, number>
  stepDowns: Record<StepDownReason, number>
  /** Ticks that fired an election timeout or more late (the process ran nothing for that long), voter or not. */
  stalls: number
}

/** An election line as logged: its kind, its fields, and when (wall clock ms). */
export interface ElectionLine {
  atMs: number
  kind: ElectionLineKind
  fields: Readonly<Record<string, unknown>>
}

const CAMPAIGN_WHY: Record<CampaignCause, string> = {
  election_timeout: 'no word from a leader within the election timeout',
  handed_over: 'the leader handed leadership to this node',
  only_voter: 'the only voter, with no leader'
}
const STEP_DOWN_REASON: Record<StepDownReason, string> = {
  higher_term: 'a higher term',
  no_quorum: 'no quorum heard within an election timeout'
}

/** Whether `id` votes in configuration `conf` (either half). */
function votesIn (conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.votersOutgoing.includes(id)
}

/** What the election log needs of the driver; the applied configuration and the status come with each call. */
export interface ElectionLogDeps {
  id: NodeId
  log: Logger
  /** Wall clock: only for the time a line was logged (`ElectionLine.atMs`). */
  nowMs: () => number
  /** Monotonic clock: silences, stalls and the lines' rate limit. */
  monotonicMs: () => number
  /** The election timeout (electionTicks × tickMs). */
  electionTimeoutMs: number
}

export class ElectionLog {
  /** When a leader last handed leadership to this node (TimeoutNow), for the campaign log line. */
  private handedOverAtMs: number | undefined
  /** The last leader this node knew (kept while it has none), for the campaign log line. */
  private lastKnownLeader: NodeId | null = null
  /** The term of the status the driver last reported (`observe`): a step-down at a higher one is for that. */
  private lastTerm = 0
  /**
   * When each voter's last Raft message arrived (monotonic ms; voters only, so at most the configuration's
   * size): the election log lines say how long the leader, or each voter, had been silent.
   */
  private readonly voterHeardAtMs = new Map<NodeId, number>()
  /** This process's last stall (a tick that fired late), for the same lines: a node that stalled may campaign against a live leader. */
  private lastStall: { atMs: number, gapMs: number } | undefined
  /** Election log lines: one per kind per interval, with a count of that kind's lines skipped since. */
  private readonly limiter: PerPeerLogLimiter
  private readonly linesSkipped = new Map<string, number>()
  /** The last lines logged (ELECTION_LINES_KEPT), and who hears the next ones. */
  private readonly lines: ElectionLine[] = []
  private readonly lineListeners = new Set<(line: ElectionLine) => void>()
  /** What those lines report, counted in full (the lines are rate-limited; metrics read these). */
  private readonly counts: ElectionCounters = {
    campaigns: { election_timeout: 0, handed_over: 0, only_voter: 0 },
    stepDowns: { higher_term: 0, no_quorum: 0 },
    stalls: 0
  }

  constructor (private readonly deps: ElectionLogDeps) {
    this.limiter = new PerPeerLogLimiter(deps.monotonicMs, C.ELECTION_LOG_INTERVAL_MS)
  }

  /** A Raft message arrived: from a voter of `conf`, it ends that voter's silence (a TimeoutNow hands over). */
  heard (message: Message, conf: ConfState): void {
    if (!votesIn(conf, message.from)) return
    const now = this.deps.monotonicMs()
    this.voterHeardAtMs.set(message.from, now)
    if (message.type === MessageType.TimeoutNow) this.handedOverAtMs = now
  }

  /**
   * Remembers this process's stall for the election lines, and logs one that lasted an election timeout or
   * more on a voter: a leader that stalls that long lets its followers campaign, and a follower that does
   * may campaign against a live leader. A learner's stall moves no election (and nearly every one of 50
   * nodes starting on one machine stalls: docs/bench/scale.md, "Why a node campaigned").
   */
  noteStall (atMs: number, gapMs: number, conf: ConfState, core: Pick<RawNode, 'role' | 'term'>): void {
    this.lastStall = { atMs, gapMs }
    if (gapMs < this.deps.electionTimeoutMs) return
    this.counts.stalls++
    if (!votesIn(conf, this.deps.id)) return
    this.logElection('stall', { id: this.deps.id, role: core.role(), term: core.term(), gapMs: Math.round(gapMs) },
      'this process stalled for an election timeout or more (no tick ran)')
  }

  /**
   * The driver's status moved (role, leader or configuration; `previousRole` is the role it last reported):
   * says why the role changed, then remembers the leader and the term for the next line.
   */
  observe (status: RaftStatus, previousRole: string, conf: ConfState): void {
    if (status.role !== previousRole) this.logRoleChange(status, previousRole, conf)
    if (status.leader !== null) this.lastKnownLeader = status.leader
    this.lastTerm = status.term
  }

  /** The configuration changed: the silences of nodes that no longer vote are forgotten. */
  forgetNonVoters (conf: ConfState): void {
    for (const id of this.voterHeardAtMs.keys()) {
      if (!votesIn(conf, id)) this.voterHeardAtMs.delete(id)
    }
  }

  /** Campaigns by cause, step-downs by reason and long stalls since start (copies). */
  counters (): ElectionCounters {
    return { campaigns: { ...this.counts.campaigns }, stepDowns: { ...this.counts.stepDowns }, stalls: this.counts.stalls }
  }

  /** The election lines logged lately, oldest first (copies of the list, not of the lines). */
  recentLines (): ElectionLine[] {
    return [...this.lines]
  }

  /** Hears each election line as it is logged, under the same limit of one per kind per interval. */
  onLine (listener: (line: ElectionLine) => void): () => void {
    this.lineListeners.add(listener)
    return () => this.lineListeners.delete(listener)
  }

  /**
   * Says why the role changed: a follower that campaigns (how long its leader had been silent, and whether
   * this process had just stalled), a leader that steps down (a higher term, or no quorum heard within an
   * election timeout, with each voter's silence). Roles that changed within one batch show as one change.
   */
  private logRoleChange (status: RaftStatus, from: string, conf: ConfState): void {
    const to = status.role
    if (to === 'leader') {
      this.deps.log.info({ id: this.deps.id, term: status.term }, 'became leader')
      return
    }
    const now = this.deps.monotonicMs()
    if (from === 'leader') {
      const reason: StepDownReason = status.term > this.lastTerm ? 'higher_term' : 'no_quorum'
      this.counts.stepDowns[reason]++
      this.logElection('step-down', {
        id: this.deps.id, term: status.term, previousTerm: this.lastTerm, reason: STEP_DOWN_REASON[reason], leader: status.leader, ...this.silences(now, conf)
      }, 'stepped down as leader')
      return
    }
    if ((to === 'pre-candidate' || to === 'candidate') && from !== 'pre-candidate' && from !== 'candidate') {
      const heard = this.lastKnownLeader === null ? undefined : this.voterHeardAtMs.get(this.lastKnownLeader)
      const cause = this.campaignCause(now, conf)
      this.counts.campaigns[cause]++
      this.logElection('campaign', {
        id: this.deps.id,
        term: status.term,
        why: CAMPAIGN_WHY[cause],
        previousLeader: this.lastKnownLeader,
        leaderSilentMs: heard === undefined ? null : Math.round(now - heard),
        ...this.stallWithin(now)
      }, 'campaigning')
    }
  }

  private campaignCause (now: number, conf: ConfState): CampaignCause {
    const window = this.deps.electionTimeoutMs
    if (this.handedOverAtMs !== undefined && now - this.handedOverAtMs <= window) return 'handed_over'
    const voters = [...conf.voters, ...conf.votersOutgoing]
    if (votesIn(conf, this.deps.id) && voters.every((id) => id === this.deps.id)) return 'only_voter'
    return 'election_timeout'
  }

  /** Each voter's silence (ms since its last message), and this process's recent stall. */
  private silences (now: number, conf: ConfState): { silentMs: Record<string, number | null>, stalledMs?: number } {
    const silentMs: Record<string, number | null> = {}
    for (const id of [...conf.voters, ...conf.votersOutgoing]) {
      if (id === this.deps.id) continue
      const heard = this.voterHeardAtMs.get(id)
      silentMs[id] = heard === undefined ? null : Math.round(now - heard)
    }
    return { silentMs, ...this.stallWithin(now) }
  }

  /** The last stall of this process, when it ended within two election timeouts. */
  private stallWithin (now: number): { stalledMs?: number } {
    const window = 2 * this.deps.electionTimeoutMs
    if (this.lastStall === undefined || now - this.lastStall.atMs > window) return {}
    return { stalledMs: Math.round(this.lastStall.gapMs) }
  }

  private logElection (kind: ElectionLineKind, fields: Record<string, unknown>, msg: string): void {
    if (!this.limiter.allow(this.deps.id, kind)) {
      this.linesSkipped.set(kind, (this.linesSkipped.get(kind) ?? 0) + 1)
      return
    }
    const logged = { ...fields, linesSkipped: this.linesSkipped.get(kind) ?? 0 }
    this.deps.log.info(logged, msg)
    this.linesSkipped.delete(kind)
    const line: ElectionLine = { atMs: this.deps.nowMs(), kind, fields: logged }
    this.lines.push(line)
    if (this.lines.length > C.ELECTION_LINES_KEPT) this.lines.shift()
    for (const listener of this.lineListeners) listener(line)
  }
}
