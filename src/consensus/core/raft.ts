/**
 * @module consensus/core/raft
 * The Raft state machine of one node (internal; the public door is RawNode). It holds the term, vote,
 * log, configuration and role, and turns inputs into queued messages. Role behaviour lives in function
 * values (`stepRole`, `tickRole`) swapped only by the `becomeX()` methods (STYLE §7, etcd raft.go).
 * Leader handling is in raft-leader.ts, follower and candidate handling in raft-follower.ts.
 *
 * Persistence ordering (thesis §3.8): vote and append responses go to `msgsAfterPersist`; a node's own
 * vote and its own append acknowledgement are self-addressed messages in the same queue, stepped by
 * RawNode.advance() (or persisted(), with asynchronous storage writes) once the Ready that carried the
 * state is durable.
 */
import { assert } from '../../util/assert.js'
import type { ResolvedRaftConfig } from './config.js'
import { changeConf, confStateProblem, copyConfState, decodeConfChange } from './confchange.js'
import { RECOVERY_TERM_LEAP } from './constants.js'
import { RaftLog } from './log.js'
import { Progress } from './progress.js'
import { allMembers, allVoters, jointVoteResult } from './quorum.js'
import { stepCandidate, stepFollower } from './raft-follower.js'
import { bcastAppend, maybeHandOff, stepLeader, tickLeader } from './raft-leader.js'
import { EntryType, MessageType } from './types.js'
import type { ConfState, Message, NodeId, RaftRole, ReadState } from './types.js'

/** A ReadIndex request waiting for a quorum of heartbeat acknowledgements (thesis §6.4). */
export interface PendingRead {
  index: number
  context: Uint8Array
  from: NodeId
  acks: Set<NodeId>
}

/** An InstallSnapshot being reassembled from chunks. */
export interface SnapshotInbox {
  meta: NonNullable<Message['snapshotMeta']>
  chunks: Uint8Array[]
  /** Invariant: the chunks' total length, at most MAX_SNAPSHOT_BYTES. */
  bytes: number
}

export type CampaignKind = 'pre-election' | 'election' | 'transfer'

/** Message types whose sending must wait for the Ready that carries their state to be persisted. */
const AFTER_PERSIST = new Set<MessageType>([MessageType.AppResp, MessageType.VoteResp, MessageType.PreVoteResp])

export class Raft {
  readonly cfg: ResolvedRaftConfig
  readonly id: NodeId
  /** Invariant: never decreases. */
  term: number
  /** The candidate voted for in `term`. */
  vote: NodeId | null
  lead: NodeId | null = null
  role: RaftRole = 'follower'
  readonly log: RaftLog
  /** Invariant: well formed (confStateProblem returns null). */
  conf: ConfState
  /** Leader only: replication progress of every member, including itself. */
  prs = new Map<NodeId, Progress>()
  votes = new Map<NodeId, boolean>()
  msgs: Message[] = []
  msgsAfterPersist: Message[] = []
  readStates: ReadState[] = []
  electionElapsed = 0
  heartbeatElapsed = 0
  /** Leader only: ticks since learners were last heartbeated (learnerHeartbeatTicks). */
  learnerHeartbeatElapsed = 0
  randomizedElectionTimeout = 0
  leadTransferee: NodeId | null = null
  /**
   * Follower: the transferee the leader of this term last announced (on an append or heartbeat), or
   * null. Only its forced vote request may bypass leader stickiness.
   */
  announcedTransferee: NodeId | null = null
  /** Leader only: index of the newest conf change entry; a new one is refused until it is applied. */
  pendingConfIndex = 0
  /**
   * Leader only: index of an appended conf change that takes this node out of the voters, or 0. From
   * then on it accepts no proposals, so its log never runs ahead of the voters that remain: after it
   * steps down or crashes they can always be elected without its vote.
   */
  selfRemovalIndex = 0
  /** Leader only: bytes of entries appended in this term and not yet committed. */
  uncommittedBytes = 0
  readQueue: PendingRead[] = []
  /** ReadIndex requests received before the leader committed an entry of its term. */
  pendingReadMsgs: Message[] = []
  /** Follower only, from the leader it follows in this term (cleared on a term or leader change). */
  snapshotInbox: SnapshotInbox | undefined
  droppedMessages = 0
  droppedProposals = 0
  /** Snapshots from the leader that `snapshotAcceptable` refused. */
  rejectedSnapshots = 0
  /** Snapshots from the leader dropped part way because their chunks went past MAX_SNAPSHOT_BYTES. */
  oversizeSnapshots = 0
  /**
   * Quorum recovery (the operator's `revoada recover-quorum`, unsafe by nature): the voters this node knew
   * when the recovery started, its log's tail included (`lostVoters`, or the set an unfinished earlier run
   * fixed), are gone for good. Quorums count this node and every voter not lost: a voter added later counts
   * as usual, and this node counts even if its tail demoted it. It ends once no lost voter is left in the
   * configuration and this node is an incoming voter: from then on quorums are the configuration's.
   */
  recovering = false
  /** Set once this recovery's first campaign has leapt past the terms a lost leader may have used. */
  recoveryLeapt = false
  lostVoters: ReadonlySet<NodeId> = new Set<NodeId>()
  /** Every voter a recovery of this core counted as lost, kept after it ends (`cutOff`). */
  private cutOffVoters: ReadonlySet<NodeId> = new Set<NodeId>()
  stepRole: (r: Raft, m: Message) => void = stepFollower
  tickRole: (r: Raft) => void = tickElection

  constructor (cfg: ResolvedRaftConfig, log: RaftLog, term: number, vote: NodeId | null, conf: ConfState) {
    assert(confStateProblem(conf) === null, () => `bad initial config: ${confStateProblem(conf) ?? ''}`)
    this.cfg = cfg
    this.id = cfg.id
    this.log = log
    this.term = term
    this.vote = vote
    this.conf = copyConfState(conf)
    this.becomeFollower(term, null)
  }

  /**
   * The configuration whose majorities elect and confirm a leader (votes, check-quorum, ReadIndex): the
   * configuration itself, except while recovering a lost quorum: then this node alone. No other node can
   * lead meanwhile (a quorum of its configuration is lost), and every entry committed meanwhile is in this
   * node's durable log (`quorumConf` counts it), so a voter that is not lost but holds entries this node
   * lost in a crash cannot block it. Not copied when not recovering.
   */
  electorate (): ConfState {
    if (!this.recovering) return this.conf
    return { voters: [this.id], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
  }

  /**
   * The configuration whose majorities commit: the configuration itself, except while recovering a lost
   * quorum: then without the lost voters. Not copied when not recovering.
   */
  quorumConf (): ConfState {
    if (!this.recovering) return this.conf
    // Every half that has voters counts this node, even one its log's tail took it out of: it must commit
    // that tail and its own promotion back, alone or with the voters that are not lost.
    const half = (ids: NodeId[]): NodeId[] =>
      ids.length === 0 ? ids : [this.id, ...ids.filter((id) => id !== this.id && !this.lostVoters.has(id))]
    return { ...this.conf, voters: half(this.conf.voters), votersOutgoing: half(this.conf.votersOutgoing) }
  }

  /**
   * Starts quorum recovery (see `recovering`). `lost` resumes an earlier run that did not end: its set, not
   * the voters now, since a voter that run added counts as usual. A fresh run needs a voter: it must lead.
   * @returns the lost voters, for the caller to persist until the recovery ends
   */
  startRecovery (lost?: readonly NodeId[]): NodeId[] {
    assert(lost !== undefined || this.promotable(), 'only a voter can recover a lost quorum')
    this.recovering = true
    this.recoveryLeapt = false
    this.lostVoters = new Set((lost ?? this.recoveryLostVoters()).filter((id) => id !== this.id))
    this.cutOffVoters = new Set([...this.cutOffVoters, ...this.lostVoters])
    if (this.role === 'leader') this.maybeEndRecovery()
    return [...this.lostVoters].sort()
  }

  /**
   * The voters a quorum recovery started now treats as lost: every voter but this node, of the configuration
   * and of every one its log's tail (entries not yet applied) switches to. A voter only the tail adds is lost
   * too: the operator stopped or lost every voter but this node, so counting one could leave the recovery
   * waiting for a node that never comes (simulator seeds 7, 2990, 3993, 6910).
   */
  recoveryLostVoters (): NodeId[] {
    const voters = new Set(allVoters(this.conf))
    let conf = this.conf
    for (let index = Math.max(this.log.applied + 1, this.log.firstIndex()); index <= this.log.lastIndex(); index++) {
      const entry = this.log.entry(index)
      const cc = entry?.type === EntryType.ConfChange ? decodeConfChange(entry.data) : null
      const next = cc === null ? null : changeConf(conf, cc)
      if (next === null || typeof next === 'string') continue
      conf = next
      for (const id of allVoters(conf)) voters.add(id)
    }
    voters.delete(this.id)
    return [...voters].sort()
  }

  /**
   * True for a voter a quorum recovery of this core counted as lost: this node sends it nothing and drops what
   * it sends (`step`), during the recovery and after it, until this core is replaced (the process stops: the
   * product stops once the recovery ends). The operator declared it gone; if it runs after all (a learner only
   * this node's log tail made a voter, one the operator did not stop), it must not learn the configurations the
   * demotions pass through: in one of them it and the voters the operator starts again afterwards are a
   * majority without this node, and could elect it and write a second history (simulator seed 401053). The
   * recovery's end takes a snapshot keeping no entry before it (quorum-recovery-run.ts), so after the restart
   * such a node installs the outcome at once.
   */
  cutOff (id: NodeId): boolean {
    return this.cutOffVoters.has(id)
  }

  /** Ends quorum recovery once no lost voter is left and this node is an incoming voter. */
  private maybeEndRecovery (): void {
    if (!this.recovering || !this.conf.voters.includes(this.id)) return
    if (allVoters(this.conf).some((id) => this.lostVoters.has(id))) return
    this.recovering = false
    this.lostVoters = new Set()
  }

  /** True when this node may campaign: a voter of either half of the configuration, or recovering a quorum. */
  promotable (): boolean {
    return this.conf.voters.includes(this.id) || this.conf.votersOutgoing.includes(this.id) || this.recovering
  }

  /** Queues a message; fills the envelope fields and routes it by its persistence dependency. */
  send (m: Partial<Message> & { type: MessageType, to: NodeId }): void {
    if (this.cutOff(m.to)) return
    const msg: Message = {
      from: this.id, term: this.term, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m
    }
    const isVoteResp = msg.type === MessageType.VoteResp || msg.type === MessageType.PreVoteResp
    if (isVoteResp && this.cfg.testingBugs.voteBeforePersist === true && msg.to !== this.id) {
      this.msgs.push(msg)
    } else if (AFTER_PERSIST.has(msg.type)) {
      this.msgsAfterPersist.push(msg)
    } else {
      assert(msg.to !== this.id, () => `${msg.type} to self must not bypass persistence`)
      this.msgs.push(msg)
    }
  }

  private reset (term: number): void {
    assert(term >= this.term, () => `term regressed ${this.term} -> ${term}`)
    if (term !== this.term) {
      this.term = term
      this.vote = null
    }
    this.lead = null
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.learnerHeartbeatElapsed = 0
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.random.nextInt(this.cfg.electionTicks)
    this.leadTransferee = null
    this.announcedTransferee = null
    this.votes = new Map()
    this.prs = new Map()
    this.pendingConfIndex = 0
    this.selfRemovalIndex = 0
    this.uncommittedBytes = 0
    this.readQueue = []
    this.pendingReadMsgs = []
    // Chunks are contiguous only from one leader in one term: a later leader's must not extend them.
    this.snapshotInbox = undefined
  }

  becomeFollower (term: number, lead: NodeId | null): void {
    this.reset(term)
    this.lead = lead
    this.role = 'follower'
    this.stepRole = stepFollower
    this.tickRole = tickElection
  }

  becomePreCandidate (): void {
    assert(this.role !== 'leader', 'invalid transition [leader -> pre-candidate]')
    // NB: a pre-candidate keeps its term and vote (thesis §9.6): only a won pre-vote bumps the term.
    this.votes = new Map()
    this.lead = null
    this.snapshotInbox = undefined // its leader is no longer followed: a winner's chunks start over
    this.role = 'pre-candidate'
    this.stepRole = stepCandidate
    this.tickRole = tickElection
  }

  becomeCandidate (): void {
    assert(this.role !== 'leader', 'invalid transition [leader -> candidate]')
    this.reset(this.term + (this.recovering && !this.recoveryLeapt ? RECOVERY_TERM_LEAP : 1))
    this.recoveryLeapt ||= this.recovering
    this.vote = this.id
    this.role = 'candidate'
    this.stepRole = stepCandidate
    this.tickRole = tickElection
  }

  becomeLeader (): void {
    assert(this.role === 'candidate', () => `invalid transition [${this.role} -> leader]`)
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    this.stepRole = stepLeader
    this.tickRole = tickLeader
    this.resetProgress()
    const self = this.prs.get(this.id)
    assert(self !== undefined, 'leader not in its own progress')
    // Only what is durable counts toward commit; unflushed entries count once persisted() steps their ack.
    self.match = this.log.durableIndex
    self.becomeReplicate()
    self.recentActive = true
    this.maybeEndRecovery() // already the only voter: nothing to recover
    // Conservatively assume the tail may hold an unapplied conf change (etcd raft becomeLeader).
    this.pendingConfIndex = this.log.lastIndex()
    this.appendEntries([{ index: 0, term: 0, type: EntryType.Empty, data: new Uint8Array(0) }])
  }

  /**
   * Rebuilds leader progress for every member of the current configuration, and for itself while recovering
   * a lost quorum: its log's tail may have removed it, and its acknowledgement still commits.
   */
  resetProgress (): void {
    const voters = new Set(allVoters(this.conf))
    const prs = new Map<NodeId, Progress>()
    const members = allMembers(this.conf)
    for (const id of this.recovering && !members.includes(this.id) ? [...members, this.id] : members) {
      const old = this.prs.get(id)
      if (old !== undefined) {
        old.isLearner = !voters.has(id)
        prs.set(id, old)
      } else {
        prs.set(id, new Progress(this.log.lastIndex() + 1, !voters.has(id), this.cfg.maxInflightMsgs))
      }
    }
    this.prs = prs
  }

  /** Leader: assigns index and term to `entries`, appends them, and acknowledges them after persisting. */
  appendEntries (entries: { index: number, term: number, type: EntryType, data: Uint8Array }[]): void {
    assert(this.role === 'leader', 'append by a non-leader')
    let index = this.log.lastIndex()
    const stamped = entries.map((e) => ({ ...e, index: ++index, term: this.term }))
    this.log.append(stamped)
    for (const e of stamped) this.uncommittedBytes += e.data.length
    this.send({ type: MessageType.AppResp, to: this.id, index: this.log.lastIndex() })
  }

  /** Leader: records a conf change entry just appended at lastIndex(). */
  noteConfChangeAppended (data: Uint8Array): void {
    assert(this.role === 'leader', 'conf change appended by a non-leader')
    this.pendingConfIndex = this.log.lastIndex()
    const cc = decodeConfChange(data)
    const next = cc === null ? null : changeConf(this.conf, cc)
    if (next === null || typeof next === 'string') return
    if (!next.voters.includes(this.id) && !next.votersOutgoing.includes(this.id)) {
      this.selfRemovalIndex = this.log.lastIndex()
    }
  }

  /** The single entry point for every message, local or from the network. */
  step (m: Message): void {
    if (this.cutOff(m.from)) { this.droppedMessages++; return }
    if (!this.stepTerm(m)) return
    switch (m.type) {
      case MessageType.Hup:
        this.hup(m.force === true ? 'transfer' : undefined)
        return
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m)
        return
      default:
        this.stepRole(this, m)
    }
  }

  /** Applies the term rules shared by every role; returns false when `m` must be ignored. */
  private stepTerm (m: Message): boolean {
    if (m.term === 0) return true
    if (m.term > this.term) return this.stepHigherTerm(m)
    if (m.term < this.term) {
      this.stepLowerTerm(m)
      return false
    }
    return true
  }

  private stepHigherTerm (m: Message): boolean {
    const isVote = m.type === MessageType.Vote || m.type === MessageType.PreVote
    if (isVote) {
      // Leader stickiness (thesis §4.2.3): ignore a disruptive candidate while a leader is known.
      const inLease = this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTicks
      if (inLease && !this.forcedVoteAllowed(m)) { this.droppedMessages++; return false }
    }
    if (m.type === MessageType.PreVote) return true
    if (m.type === MessageType.PreVoteResp && !m.reject) return true
    const fromLeader = m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap
    this.becomeFollower(m.term, fromLeader ? m.from : null)
    return true
  }

  /**
   * A forced vote request bypasses leader stickiness only for the transfer the current leader runs:
   * this node is that leader and chose the candidate, or it follows a leader that announced it.
   */
  private forcedVoteAllowed (m: Message): boolean {
    if (m.force !== true) return false
    if (this.role === 'leader') return this.leadTransferee === m.from
    return this.announcedTransferee === m.from
  }

  private stepLowerTerm (m: Message): void {
    const fromLeader = m.type === MessageType.App || m.type === MessageType.Heartbeat
    if ((this.cfg.checkQuorum || this.cfg.preVote) && fromLeader) {
      // A stale leader (e.g. after a partition) learns the new term from this reply and steps down.
      this.send({ type: MessageType.AppResp, to: m.from })
    } else if (m.type === MessageType.PreVote) {
      this.send({ type: MessageType.PreVoteResp, to: m.from, reject: true })
    } else {
      this.droppedMessages++
    }
  }

  private handleVoteRequest (m: Message): void {
    const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp
    const canVote = this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === MessageType.PreVote && m.term > this.term)
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The granted response carries the request's term so the candidate counts it (etcd raft).
      this.send({ type: respType, to: m.from, term: m.term })
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0
        this.vote = m.from
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true })
    }
  }

  /** Starts an election unless this node may not (leader, not a voter, or an unapplied conf change). */
  hup (kind?: CampaignKind): void {
    if (this.role === 'leader') return
    if (!this.promotable()) return
    if (this.hasUnappliedConfChange()) return
    this.campaign(kind ?? (this.cfg.preVote ? 'pre-election' : 'election'))
  }

  private hasUnappliedConfChange (): boolean {
    const from = Math.max(this.log.applied + 1, this.log.firstIndex())
    for (let index = from; index <= this.log.committed; index++) {
      if (this.log.entry(index)?.type === EntryType.ConfChange) return true
    }
    return false
  }

  campaign (kind: CampaignKind): void {
    let voteType: MessageType
    let voteTerm: number
    if (kind === 'pre-election') {
      this.becomePreCandidate()
      voteType = MessageType.PreVote
      voteTerm = this.term + 1
      this.votes.set(this.id, true)
    } else {
      this.becomeCandidate()
      voteType = MessageType.Vote
      voteTerm = this.term
      // Our own vote counts only once persisted: it comes back through RawNode.advance().
      this.send({ type: MessageType.VoteResp, to: this.id })
    }
    for (const id of allVoters(this.conf)) {
      if (id === this.id) continue
      this.send({
        type: voteType, to: id, term: voteTerm, index: this.log.lastIndex(), logTerm: this.log.lastTerm(),
        force: kind === 'transfer'
      })
    }
    if (kind === 'pre-election') this.checkVotes()
  }

  /** Records a vote response and acts on a decided election. */
  poll (from: NodeId, granted: boolean): void {
    if (!this.votes.has(from)) this.votes.set(from, granted)
    this.checkVotes()
  }

  private checkVotes (): void {
    const result = jointVoteResult(this.electorate(), this.votes)
    if (result === 'won') {
      if (this.role === 'pre-candidate') {
        this.campaign('election')
      } else {
        this.becomeLeader()
        bcastAppend(this)
      }
    } else if (result === 'lost') {
      this.becomeFollower(this.term, null)
    }
  }

  /** Switches to a new configuration (after a conf change entry is applied or a snapshot installed). */
  switchConf (conf: ConfState): void {
    const problem = confStateProblem(conf)
    assert(problem === null, () => `switch to bad config: ${problem ?? ''}`)
    this.conf = copyConfState(conf)
    this.maybeEndRecovery()
    if (this.role !== 'leader') return
    this.resetProgress()
    if (this.leadTransferee !== null && !allVoters(this.conf).includes(this.leadTransferee)) {
      this.leadTransferee = null
    }
    bcastAppend(this)
    // NB: a removed or demoted leader does not step down at once. Voters that have not yet learned
    // that the change committed may still need its vote, and its log may hold entries they lack, so
    // an abrupt step-down can leave no electable node. It keeps replicating and hands leadership to
    // the most up-to-date voter instead (thesis §3.10 transfer; etcd keeps such a leader too).
    maybeHandOff(this)
  }
}

/** Follower and candidate tick: campaign when the randomized election timeout elapses. */
export function tickElection (r: Raft): void {
  r.electionElapsed++
  if (r.promotable() && r.electionElapsed >= r.randomizedElectionTimeout) {
    r.electionElapsed = 0
    r.step({
      type: MessageType.Hup, from: r.id, to: r.id, term: 0, index: 0, logTerm: 0, entries: [], commit: 0,
      reject: false, rejectHint: 0
    })
  }
}
