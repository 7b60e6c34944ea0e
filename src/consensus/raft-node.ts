/**
 * @module consensus/raft-node
 * The Raft driver: the thin, serial IO loop around the pure RawNode (STYLE §9, etcd raft node.go). Network
 * callbacks and timers only step inputs into the core and schedule one batch; a batch drains every Ready
 * in the contract's order — send `messages`, write, apply committed entries, acknowledge — synchronously,
 * so the core never sees an input between ready() and advance().
 *
 * Each Ready is made durable by the persistence pipeline (persistence-pipeline.ts): with a storage that can
 * flush off the event loop (`syncAsync`, FileStorage) one fdatasync at a time covers every Ready written
 * before it started (group commit), and each Ready's `messagesAfterPersist` wait for it; otherwise each
 * Ready is fsynced inline.
 *
 * On top of the core it provides what callers need: proposals that resolve with their typed result once
 * applied locally (retried under the same proposal id, so exactly-once holds across leader changes),
 * linearizable reads by ReadIndex (or stale reads on request), leader time stamps, snapshots with log
 * compaction, and conf changes that carry a command (voters move together with the shape).
 */
import { randomBytes } from 'node:crypto'
import { assert, rethrowBug } from '../util/assert.js'
import { steadyNowMs } from '../util/clock.js'
import { intervalTicker, type StopDuty, type Ticker } from '../util/ticker.js'
import { RawNode, createPrng, applyOnce, ProposalSessions, decodeConfChange, encodeConfChange, EntryType, MessageType } from './core/index.js'
import type { ConfChange, ConfState, Entry, Message, NodeId, ProposalId, RaftStatus, Ready, Snapshot } from './core/index.js'
import type { Storage, StorageState } from './storage/types.js'
import type { ReplicatedStateMachine } from './state-machine.js'
import { decodeContext, decodeEntryPayload, encodeEntryPayload, encodeEntryPayloadContext } from './entry-payload.js'
import { PendingTable } from './pending.js'
import type { AppliedRecord } from './node-snapshot.js'
import { ConsensusTimeoutError, HALTING_APPLY_ERRORS, InvalidMemberIdError, ProposalLostError, ProposalReplayedError, ProposalTooLargeError, StorageUnavailableError } from './errors.js'
import { PerPeerLogLimiter } from './log-limiter.js'
import type {
  AppliedListener, CommandRules, Logger, MessageTransport, ProposalResult, ProposeOptions, RaftNodeComponents, RaftNodeCounters, RaftNodeInit,
  RaftNodeStatus, StorageHealth
} from './raft-node-types.js'
import { proposalKey, sameId } from './pending-proposal.js'
import type { ProposalExtra, ProposalTable } from './pending-proposal.js'
import { ElectionLog } from './election-log.js'
import type { ElectionCounters, ElectionLine } from './election-log.js'
import { Outbox, isVoteTraffic } from './outbox.js'
import { PersistencePipeline } from './persistence-pipeline.js'
import { SnapshotKeeper } from './snapshot-keeper.js'
import { ForwardedProposals } from './forwarded-proposals.js'
import * as C from './constants.js'

// The driver's contract lives in raft-node-types.ts and its election lines in election-log.ts; callers
// import them from here.
export type {
  AppliedListener, CommandRules, Logger, MessageTransport, ProposalResult, ProposeOptions, RaftNodeComponents, RaftNodeCounters, RaftNodeInit,
  RaftNodeStatus, StorageHealth
} from './raft-node-types.js'
export type { CampaignCause, ElectionCounters, ElectionLine, ElectionLineKind, StepDownReason } from './election-log.js'
export { HALTING_APPLY_ERRORS } from './errors.js'
export { clientIdOwner } from './pending-proposal.js'

export class RaftNode<R> {
  readonly id: NodeId
  private readonly init: Required<Omit<RaftNodeInit, 'bootstrapCommand' | 'seed' | 'rejoinAsLearner' | 'asyncStorageWrites' | 'commitNoticeHoldMs'>> & Pick<RaftNodeInit, 'bootstrapCommand' | 'seed'>
  private readonly storage: Storage
  private readonly transport: MessageTransport
  private readonly machine: ReplicatedStateMachine<R>
  private readonly log: Logger
  private readonly nowMs: () => number
  private readonly monotonicMs: () => number
  private readonly rules: CommandRules | undefined
  /** Keys of pending proposals whose last submission a configuration change refused (retryRefusedConfChanges). */
  private readonly confRefused = new Set<string>()
  private confRetryScheduled = false
  /** The counters of `counters()`, shared with the modules that count (forwarded proposals, persistence). */
  private readonly counts: Omit<RaftNodeCounters, 'commitNoticesHeld' | 'commitNoticesReplaced'> = { refusedForwarded: 0, refusedRequests: 0, refusalsAnswered: 0, requestsRefusedByLeader: 0, duplicateCommands: 0, retriesSkipped: 0, proposalsLost: 0, confChangesRetried: 0, walFlushes: 0, walFlushedEntries: 0 }
  /** Random per start: read contexts of an earlier run can never match a read of this one. */
  private readonly readNonce = randomBytes(8).toString('hex')
  private raw!: RawNode
  private sessions = new ProposalSessions<AppliedRecord<R>>()
  private readonly proposals: ProposalTable<R>
  private readonly reads: PendingTable<void, { index: number | null }>
  private readonly appliedListeners = new Set<AppliedListener<R>>()
  private readonly stateListeners = new Set<(status: RaftStatus) => void>()
  private readonly haltListeners = new Set<(err: Error) => void>()
  private haltedBy: Error | undefined
  private seq = 0
  /** Proposals made since the last batch, submitted together at its start. */
  private queuedProposals: ProposalExtra[] = []
  private readCounter = 0
  private applied = 0
  /** The term of the last applied entry (or of the snapshot restored last). */
  private appliedTerm = 0
  /** Keys of pending proposals that only this node, leading, may append (ProposalExtra.leaderOnly). */
  private readonly leaderOnlyKeys = new Set<string>()
  private confState: ConfState = { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
  private stopTicker: StopDuty | undefined
  private readonly tickSource: Ticker
  /** When the ticker last fired (monotonic ms), to tell a late tick (this process stalled) from an on-time one. */
  private lastTickAtMs: number | undefined
  private batchScheduled = false
  private running = false
  /** Whether the node runs (started, not stopped): callers outside the driver check it before proposing. */
  get isRunning (): boolean { return this.running }
  private lastRole = ''
  private lastLeader: NodeId | null = null
  /** The applied configuration the state listeners last heard of (replaced, never mutated, on a change). */
  private lastConf: ConfState | undefined
  private rejoining: boolean
  private nextRemovalRequestMs = 0
  private rejoinRequestInFlight = false
  private readonly requestRejoin: (() => Promise<unknown>) | undefined
  /** Why the role changed, in lines and counts (election-log.ts). */
  private readonly elections: ElectionLog
  /** Every message this node sends (outbox.ts). */
  private readonly outbox: Outbox
  /** Each Ready made durable, group-committed or inline; a failed write stalls the node (persistence-pipeline.ts). */
  private readonly persistence: PersistencePipeline
  /** This node's snapshots and the checks on the leader's (snapshot-keeper.ts). */
  private readonly snapshots: SnapshotKeeper<R>
  /** Followers' forwarded proposals and requests, and the leader's refusals of them (forwarded-proposals.ts). */
  private readonly forwarded: ForwardedProposals<R>

  constructor (init: RaftNodeInit, components: RaftNodeComponents<R>) {
    this.id = init.id
    this.init = {
      id: init.id,
      clientId: init.clientId ?? `${init.id}/${Math.floor(Math.random() * 2 ** 32).toString(16)}`,
      tickMs: init.tickMs ?? C.TICK_MS_DEFAULT,
      electionTicks: init.electionTicks ?? C.ELECTION_TICKS_DEFAULT,
      heartbeatTicks: init.heartbeatTicks ?? C.HEARTBEAT_TICKS_DEFAULT,
      learnerHeartbeatTicks: init.learnerHeartbeatTicks ??
        Math.max(init.heartbeatTicks ?? C.HEARTBEAT_TICKS_DEFAULT, C.LEARNER_HEARTBEAT_TICKS_DEFAULT),
      snapshotEveryEntries: init.snapshotEveryEntries ?? C.SNAPSHOT_EVERY_ENTRIES_DEFAULT,
      retainEntries: init.retainEntries ?? C.RETAIN_ENTRIES_AFTER_SNAPSHOT_DEFAULT,
      retryIntervalMs: init.retryIntervalMs ?? C.RETRY_INTERVAL_MS_DEFAULT,
      operationTimeoutMs: init.operationTimeoutMs ?? C.OPERATION_TIMEOUT_MS_DEFAULT,
      bootstrap: init.bootstrap ?? false,
      bootstrapCommand: init.bootstrapCommand,
      seed: init.seed
    }
    this.storage = components.storage
    this.transport = components.transport
    this.machine = components.stateMachine
    this.log = components.logger
    this.nowMs = components.nowMs ?? Date.now
    this.tickSource = components.ticker ?? intervalTicker
    this.monotonicMs = components.monotonicMs ?? steadyNowMs
    this.rules = components.commandRules
    this.requestRejoin = components.requestRejoin
    const badInputLog = new PerPeerLogLimiter(this.monotonicMs)
    this.proposals = new PendingTable(C.MAX_PENDING_PROPOSALS, 'proposal')
    this.reads = new PendingTable(C.MAX_PENDING_READS, 'read')
    this.rejoining = init.rejoinAsLearner ?? false
    const raw = (): RawNode => this.raw
    const running = (): boolean => this.running
    const scheduleBatch = (): void => { this.scheduleBatch() }
    this.elections = new ElectionLog({
      id: this.id, log: this.log, nowMs: this.nowMs, monotonicMs: this.monotonicMs, electionTimeoutMs: this.init.electionTicks * this.init.tickMs
    })
    this.outbox = new Outbox({
      transport: this.transport, commitNoticeHoldMs: init.commitNoticeHoldMs ?? C.COMMIT_NOTICE_HOLD_MS_DEFAULT, running, rejoining: () => this.rejoining
    })
    this.persistence = new PersistencePipeline({
      id: this.id, storage: this.storage, log: this.log, monotonicMs: this.monotonicMs, counts: this.counts, outbox: this.outbox, raw, running, scheduleBatch,
      asyncWrites: (init.asyncStorageWrites ?? true) && this.storage.syncAsync !== undefined,
      apply: (ready) => { this.applyReady(ready) },
      installSnapshot: (snapshot) => { this.installSnapshot(snapshot) }
    })
    this.snapshots = new SnapshotKeeper({
      storage: this.storage, machine: this.machine, log: this.log, badInputLog, persistence: this.persistence, raw,
      snapshotEveryEntries: this.init.snapshotEveryEntries, retainEntries: this.init.retainEntries,
      applied: () => this.applied, sessions: () => this.sessions
    })
    this.forwarded = new ForwardedProposals({
      id: this.id, log: this.log, badInputLog, counts: this.counts, rules: this.rules, nowMs: this.nowMs, proposals: this.proposals, outbox: this.outbox, raw,
      takeRequest: components.takeRequest, answerRefusals: components.answerRefusals,
      applied: () => this.applied, sessions: () => this.sessions,
      proposeAtLeader: (command, id) => { this.proposeAtLeader(command, id) }
    })
  }

  /** Loads durable state (bootstrapping an empty log if asked), then starts ticking. */
  start (): void {
    assert(!this.running, 'raft node started twice')
    // load() is called once (the Storage contract); bootstrapping writes on top of what it returned.
    const state = this.init.bootstrap ? this.maybeBootstrap(this.storage.load()) : this.storage.load()
    if (state.snapshot !== undefined) this.restoreSnapshot(state.snapshot)
    this.raw = new RawNode({
      id: this.id,
      electionTicks: this.init.electionTicks,
      heartbeatTicks: this.init.heartbeatTicks,
      learnerHeartbeatTicks: this.init.learnerHeartbeatTicks,
      // Bound what a leader can have in flight to one follower (64 × 256 KiB = 16 MiB) well below the
      // transport's 64 MiB read buffer, so a slow follower slows the leader instead of resetting streams.
      maxSizePerMsgBytes: C.MAX_SIZE_PER_MSG_BYTES,
      maxInflightMsgs: C.MAX_INFLIGHT_MSGS,
      snapshotAcceptable: (snapshot) => this.snapshots.canRestore(snapshot),
      asyncStorageWrites: this.persistence.asyncWrites,
      random: createPrng(this.init.seed ?? Math.floor(Math.random() * 2 ** 31))
    }, state)
    this.applied = state.snapshot?.meta.index ?? 0
    this.appliedTerm = state.snapshot?.meta.term ?? 0
    this.running = true
    this.transport.setHandler((message) => this.onMessage(message))
    this.stopTicker = this.tickSource.every(this.init.tickMs, () => { this.onTick() })
    this.log.info({ id: this.id, term: state.hardState.term, commit: state.hardState.commit, entries: state.entries.length }, 'raft node started')
    this.scheduleBatch()
  }

  /** Stops ticking and fails every waiting operation; durable state stays as it is. */
  stop (): void {
    if (!this.running) return
    this.running = false
    this.stopTicker?.()
    this.outbox.stop()
    this.proposals.rejectAll()
    this.reads.rejectAll()
  }

  /**
   * Writes the bootstrap entries into an empty log (once, on the first start of a new cluster). Also when
   * the log is empty but the hard state is the one bootstrapping writes (term 1, voted for itself): a power
   * cut between the two writes kept that hard state without the entries (no disk syncs one record before
   * the next), and nothing was sent or acknowledged before they were synced, so writing them again is the
   * same bootstrap. Without this such a node never elects itself (`power-loss.test.ts`, a cut at op 7).
   */
  private maybeBootstrap (state: StorageState): StorageState {
    const hs = state.hardState
    const unbootstrapped = hs.term === 0 || (hs.term === 1 && hs.vote === this.id)
    if (state.snapshot !== undefined || state.entries.length > 0 || !unbootstrapped) return state
    const entries: Entry[] = [{
      index: 1, term: 1, type: EntryType.ConfChange,
      data: encodeConfChange({ steps: [{ type: 'add-voter', nodeId: this.id }], transition: 'auto' })
    }]
    if (this.init.bootstrapCommand !== undefined) {
      entries.push({
        index: 2, term: 1, type: EntryType.Normal,
        data: encodeEntryPayload({ command: this.init.bootstrapCommand, timeMs: this.nowMs() })
      })
    }
    const hardState = { term: 1, vote: this.id, commit: entries.length }
    this.storage.setHardState(hardState)
    this.storage.append(entries)
    this.storage.sync()
    this.log.info({ id: this.id }, 'bootstrapped a new single-voter cluster')
    return { hardState, entries }
  }

  /**
   * Proposes `command`; resolves with its typed result once applied on this node. A proposal made on a
   * follower is forwarded to the leader; one lost with a leader is re-submitted under the same id.
   * @throws ConsensusBusyError when too many proposals wait
   * @throws ConsensusTimeoutError (async) when no result arrives before the operation timeout, or before
   *   `options.deadlineMs` when that comes first (at once when it has passed: nothing is proposed)
   */
  propose (command: Uint8Array, options: ProposeOptions = {}): Promise<ProposalResult<R>> {
    assert(this.running, 'propose on a stopped raft node')
    const stalled = this.persistence.stalled
    if (stalled !== undefined) return Promise.reject(new StorageUnavailableError(stalled.error.message))
    if (command.length > C.MAX_COMMAND_BYTES) {
      return Promise.reject(new ProposalTooLargeError(`command of ${command.length} bytes over ${C.MAX_COMMAND_BYTES}`))
    }
    // The shape takes any id string; a second text of one key would be a second member (codec/peer-id.ts).
    const idProblem = this.rules?.memberIdProblem?.(command) ?? null
    if (idProblem !== null) {
      this.log.warn({ reason: idProblem }, 'refused a proposal naming a member id that is no canonical peer id')
      return Promise.reject(new InvalidMemberIdError(idProblem))
    }
    // A command that carries its own signed id is proposed under it: a second copy is then a duplicate.
    const id: ProposalId = this.rules?.identify(command)?.id ?? { clientId: this.init.clientId, seq: ++this.seq }
    const key = proposalKey(id)
    if (this.proposals.get(key) !== undefined) {
      return Promise.reject(new ProposalReplayedError(`proposal ${key} is already pending`))
    }
    const now = this.monotonicMs()
    if (options.deadlineMs !== undefined && options.deadlineMs <= now) {
      return Promise.reject(new ConsensusTimeoutError(`proposal ${key}: its caller's deadline passed before it was proposed (not proposed)`, false))
    }
    const deadlineMs = Math.min(now + this.init.operationTimeoutMs, options.deadlineMs ?? Number.POSITIVE_INFINITY)
    const extra: ProposalExtra = { command, id, ...(options.confChange !== undefined ? { confChange: options.confChange } : {}) }
    const promise = this.proposals.add(key, extra, deadlineMs, now + this.init.retryIntervalMs)
    if (options.leaderOnly === true && !this.forwarded.isRequest(command)) {
      extra.leaderOnly = { appendedAt: [] }
      this.leaderOnlyKeys.add(key)
    }
    // Submitted at the start of the next batch, together with every proposal made until then: one append
    // and one App per follower (or one forwarded Prop) for all of them (group commit at the proposer).
    this.queuedProposals.push(extra)
    this.scheduleBatch()
    return promise
  }

  /**
   * Submits the proposals queued since the last batch: commands that need no configuration change go to
   * the core in one call (one append, one App per follower, or one forwarded Prop); the others one by one.
   */
  private submitQueued (): void {
    if (this.queuedProposals.length === 0) return
    const queued = this.queuedProposals
    this.queuedProposals = []
    const plain: ProposalExtra[] = []
    const leader = this.isLeader()
    const conf = leader ? this.configuration() : undefined
    for (const extra of queued) {
      // A proposal settled or timed out while queued is not submitted.
      if (this.proposals.get(proposalKey(extra.id)) === undefined) continue
      if (extra.leaderOnly !== undefined && !leader) {
        // Any other leader refuses it; never appended, it is lost at the end of this batch (resolveLeaderOnly).
        extra.sentTo = this.raw.leader()
        continue
      }
      if (leader && this.forwarded.isRequest(extra.command)) {
        this.submit(extra)
        continue
      }
      if (extra.confChange === undefined && (conf === undefined || this.rules?.confChangeFor(extra.command, conf) == null)) {
        plain.push(extra)
      } else {
        this.submit(extra)
      }
    }
    if (plain.length === 0) return
    const sentTo = this.raw.leader()
    for (const extra of plain) extra.sentTo = sentTo
    try {
      this.raw.proposeMany(plain.map((extra) => ({
        data: encodeEntryPayload({ command: extra.command, timeMs: leader ? this.nowMs() : 0 }), proposalId: extra.id
      })))
      if (leader) {
        const lastIndex = this.raw.lastIndex()
        const term = this.raw.term()
        plain.forEach((extra, k) => extra.leaderOnly?.appendedAt.push({ index: lastIndex - plain.length + 1 + k, term }))
        this.forwarded.noteRequestsAppended(plain)
      }
    } catch (err) {
      rethrowBug(err)
      // No leader yet or too many uncommitted bytes: the retry sweep submits them again.
      this.log.debug({ err: (err as Error).message, proposals: plain.length }, 'proposals not accepted yet')
    }
  }

  /**
   * A leader appends the command (deriving its configuration change); a follower forwards the command
   * alone — never a configuration change, which the leader refuses from peers.
   */
  private submit (extra: ProposalExtra): void {
    extra.sentTo = this.raw.leader()
    this.confRefused.delete(proposalKey(extra.id))
    try {
      if (extra.leaderOnly !== undefined) {
        // Never forwarded (any other leader refuses it). Leading, it is appended once; a copy already in a
        // log commits or is ruled out by the committed log (resolveLeaderOnly), so it is not appended again.
        if (this.isLeader() && extra.leaderOnly.appendedAt.length === 0) {
          this.proposeAtLeader(extra.command, extra.id, extra.confChange)
          extra.leaderOnly.appendedAt.push({ index: this.raw.lastIndex(), term: this.raw.term() })
        }
      } else if (this.isLeader() && this.forwarded.isRequest(extra.command)) {
        // This node forwarded it while following and leads now: its own next envelope carries it.
        this.forwarded.maybeTakeRequest(extra.command, extra.id, this.id)
      } else if (this.isLeader()) {
        this.proposeAtLeader(extra.command, extra.id, extra.confChange)
      } else if (extra.confChange === undefined || this.rules !== undefined) {
        this.raw.propose(encodeEntryPayload({ command: extra.command, timeMs: 0 }), extra.id)
      } else {
        this.log.debug({ id: extra.id }, 'a configuration change is proposed at the leader only; waiting')
      }
    } catch (err) {
      rethrowBug(err)
      // No leader yet or a transfer: the retry sweep submits it again. Refused for the configuration change
      // before it (one at a time; a joint one is left by another entry): again as soon as entries apply.
      if ((err as Error).name === 'ConfChangeRejectedError') this.confRefused.add(proposalKey(extra.id))
      this.log.debug({ err: (err as Error).message, id: extra.id }, 'proposal not accepted yet')
    }
  }

  /** Leader: stamps the time and appends `command`, inside the configuration change it requires. */
  private proposeAtLeader (command: Uint8Array, id: ProposalId, explicit?: ConfChange): void {
    const payload = encodeEntryPayload({ command, timeMs: this.nowMs() })
    const confChange = explicit ?? this.rules?.confChangeFor(command, this.configuration()) ?? null
    if (confChange !== null) {
      this.raw.proposeConfChange({ ...confChange, context: encodeContext(payload, id) })
    } else {
      this.raw.propose(payload, id)
    }
  }

  /**
   * Waits until this node's state machine reflects every write acknowledged before the call
   * (ReadIndex, thesis §6.4). `stale: true` returns at once with whatever is applied locally.
   */
  async read (options: { stale?: boolean } = {}): Promise<void> {
    assert(this.running, 'read on a stopped raft node')
    if (options.stale === true) return
    const stalled = this.persistence.stalled
    if (stalled !== undefined) throw new StorageUnavailableError(stalled.error.message)
    const key = `${this.id}:${this.readNonce}:${++this.readCounter}`
    const now = this.monotonicMs()
    const promise = this.reads.add(key, { index: null }, now + this.init.operationTimeoutMs, now + this.init.retryIntervalMs)
    try {
      this.requestRead(key)
    } catch (err) {
      this.reads.delete(key) // as in propose: a bug escapes; leave no orphaned waiter behind
      throw err
    }
    this.scheduleBatch()
    return await promise
  }

  private requestRead (key: string): void {
    try {
      this.raw.readIndex(new TextEncoder().encode(key))
    } catch (err) {
      rethrowBug(err)
      this.log.debug({ err: (err as Error).message }, 'read not accepted yet')
    }
  }

  /** Asks the leader to hand over leadership to `to`. */
  transferLeadership (to: NodeId): void {
    const stalled = this.persistence.stalled
    if (stalled !== undefined) throw new StorageUnavailableError(stalled.error.message)
    this.raw.transferLeadership(to)
    this.scheduleBatch()
  }

  /**
   * Quorum recovery (core/raw-node.ts `recoverAsSoleVoter`; unsafe, the operator's `revoada recover-quorum`):
   * this node campaigns at once and, leading, commits alone until `lostVoters` are out.
   */
  recoverAsSoleVoter (lostVoters: readonly NodeId[]): void {
    this.raw.recoverAsSoleVoter(lostVoters)
    if (!this.isLeader()) this.raw.campaign()
    this.scheduleBatch()
  }

  /** The longest randomized election timeout: 2 × electionTicks ticks. */
  electionTimeoutMaxMs (): number {
    return 2 * this.init.electionTicks * this.init.tickMs
  }

  /** The voters a quorum recovery started now would treat as lost: every voter but this one, its log's tail's too. */
  recoveryLostVoters (): NodeId[] {
    return this.raw.recoveryLostVoters()
  }

  /** The voters a running quorum recovery treats as lost, or undefined when none runs. */
  recovery (): { lostVoters: NodeId[] } | undefined {
    return this.raw.recovery()
  }

  /** Proposes a configuration change without a command (admitting a learner, for example). */
  proposeConfChange (cc: ConfChange): void {
    const stalled = this.persistence.stalled
    if (stalled !== undefined) throw new StorageUnavailableError(stalled.error.message)
    this.raw.proposeConfChange(cc)
    this.scheduleBatch()
  }

  /**
   * The core's status. Once the driver stopped (stop() or a halt) the core keeps its last role and leader, and a
   * halted leader's API, dashboard and metrics still read this until its process exits: then it names no
   * leader, no progress and no transfer, is a follower, and says `stopped`.
   */
  status (): RaftNodeStatus {
    const status = this.raw.status()
    if (this.running) return { ...status, stopped: false }
    const { progress: _progress, ...rest } = status
    return { ...rest, leader: null, role: 'follower', leadTransferee: null, stopped: true }
  }

  /** Refused forwarded proposals and duplicate command entries since start. */
  counters (): RaftNodeCounters {
    return { ...this.counts, commitNoticesHeld: this.outbox.noticesHeld, commitNoticesReplaced: this.outbox.noticesReplaced }
  }

  /** Campaigns by cause, step-downs by reason and long stalls since start (copies). */
  electionCounters (): ElectionCounters {
    return this.elections.counters()
  }

  /**
   * Whether this node leads. False once the driver stopped (stop() or a halt): the core keeps its last role,
   * but a halted leader's process runs on until it exits, and membership and the address lookup read this.
   */
  isLeader (): boolean {
    return this.running && this.raw.role() === 'leader'
  }

  /**
   * The leader this node knows of in its current term (null while there is none, and once the driver
   * stopped: it hears no more of the cluster), without a status copy.
   */
  leaderId (): NodeId | null {
    return this.running ? this.raw.leader() : null
  }

  /** The configuration in force after the entries applied so far. */
  configuration (): ConfState {
    return this.raw.status().confState
  }

  /** The same, not copied (core/raw-node.ts confState): read-only, for callers that read it often. */
  configurationView (): Readonly<ConfState> {
    return this.raw.confState()
  }

  /** Whether the log can be written; false while a failed write waits for its retry. */
  storageHealth (): StorageHealth {
    const stalled = this.persistence.stalled
    if (stalled === undefined) return { writable: true }
    return { writable: false, error: stalled.error.message, sinceMs: stalled.sinceMs }
  }

  /** True while this node rejoins after losing its raft directory and may not vote yet. */
  isRejoining (): boolean {
    return this.rejoining
  }

  appliedIndex (): number {
    return this.applied
  }

  /**
   * True once this node has applied every entry of an earlier term that its log holds: the next entry to apply,
   * if any, is of the current term. A leader's applied shape then holds everything its predecessors committed;
   * the entries of theirs it holds beyond its commit index commit only with its own first entry. After most
   * elections the new leader had applied them already, and need not wait a round trip for that first entry.
   */
  priorTermsApplied (): boolean {
    const term = this.raw.term()
    if (this.appliedTerm === term) return true
    const next = this.raw.termAt(this.applied + 1)
    return next === undefined || next === term
  }

  onApplied (listener: AppliedListener<R>): () => void {
    this.appliedListeners.add(listener)
    return () => this.appliedListeners.delete(listener)
  }

  /** Called on leader or role changes (and after every batch that changed the configuration). */
  onStateChange (listener: (status: RaftStatus) => void): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  private onTick (): void {
    if (!this.running) return
    const firedAt = this.monotonicMs()
    const late = this.lastTickAtMs !== undefined && firedAt - this.lastTickAtMs - this.init.tickMs >= C.LATE_TICK_MS
    if (late && this.lastTickAtMs !== undefined) this.elections.noteStall(firedAt, firedAt - this.lastTickAtMs, this.confState, this.raw)
    this.lastTickAtMs = firedAt
    // After a stall the input that waited in the sockets is read before the tick judges anyone.
    if (late) setImmediate(() => { this.tickNow() })
    else this.tickNow()
  }

  private tickNow (): void {
    if (!this.running) return
    const now = this.monotonicMs()
    const stalled = this.persistence.stalled
    if (stalled !== undefined) {
      // Deadlines still run out (the caller learns the outcome is unknown); nothing is re-submitted.
      this.proposals.sweep(now, this.init.retryIntervalMs, () => {})
      this.reads.sweep(now, this.init.retryIntervalMs, () => {})
      if (now >= stalled.nextRetryMs) this.runBatch()
      return
    }
    this.raw.tick()
    if (this.rejoining) this.maybeRequestRemoval(now)
    this.proposals.sweep(now, this.init.retryIntervalMs, (_key, extra) => this.submit(extra))
    this.reads.sweep(now, this.init.retryIntervalMs, (key) => this.requestRead(key))
    // Most ticks of an idle node change nothing (a follower counting toward its election timeout, a
    // leader between heartbeats): no batch, no extra turn of the event loop for it.
    if (this.queuedProposals.length > 0 || this.persistence.unflushedCount > 0 || this.raw.hasReady()) this.scheduleBatch()
  }

  private onMessage (message: Message): void {
    // While a write is stalled the core sits between ready() and advance(): nothing may reach it. A
    // dropped message is a lost message, which Raft tolerates.
    if (!this.running || this.persistence.stalled !== undefined) return
    if (this.rejoining && isVoteTraffic(message)) return
    this.elections.heard(message, this.confState)
    if (message.type === MessageType.Prop && this.isLeader()) {
      this.forwarded.stampForwarded(message)
    } else if (message.type === MessageType.PropResp) {
      this.forwarded.onRequestRefused(message)
    } else {
      this.raw.step(message)
    }
    this.scheduleBatch()
  }

  private scheduleBatch (): void {
    if (this.batchScheduled || !this.running) return
    this.batchScheduled = true
    setImmediate(() => {
      this.batchScheduled = false
      try {
        if (this.running) this.runBatch()
      } finally {
        for (const settled of this.batchWaiters.splice(0)) settled()
      }
    })
  }

  /** Called after the next batch ran (nextBatch). */
  private readonly batchWaiters: Array<() => void> = []

  /**
   * Resolves once the next batch has run (at once when the node is not running). After start(), the first
   * batch applies the committed entries of the local log, so a committed level above this build's has
   * halted the node (`halted`) by then (consensus-service.ts waits for it before the node serves).
   */
  async nextBatch (): Promise<void> {
    if (!this.running) return
    const done = new Promise<void>((resolve) => { this.batchWaiters.push(resolve) })
    this.scheduleBatch()
    await done
  }

  /**
   * Drains every Ready in the contract's order. Synchronous from start to end. A machine that cannot apply a
   * committed entry with this build (HALTING_APPLY_ERRORS) halts the node there: nothing after it applies.
   */
  private runBatch (): void {
    try {
      this.drainReadies()
    } catch (err) {
      if (!HALTING_APPLY_ERRORS.has((err as Error).name)) throw err
      this.halt(err as Error)
    }
  }

  /**
   * Stops this node because its machine refused to apply what the cluster committed (a protocol level
   * above this build's): the error is logged for the operator and handed to the halt listeners (the
   * consensus service stops the process). The entry stays committed in the log, unapplied here.
   */
  private halt (err: Error): void {
    if (this.haltedBy !== undefined) return
    this.haltedBy = err
    const error = this.log.error?.bind(this.log) ?? this.log.warn.bind(this.log)
    error({ id: this.id, err: err.message, applied: this.applied }, `cannot apply the committed log with this build, stopping: ${err.message}`)
    this.stop()
    for (const listener of this.haltListeners) listener(err)
  }

  /** Why this node halted (its machine could not apply a committed entry of its own log), if it did. */
  get halted (): Error | undefined {
    return this.haltedBy
  }

  /** The election lines logged lately, oldest first (copies of the list, not of the lines). */
  recentElectionLines (): ElectionLine[] {
    return this.elections.recentLines()
  }

  /** Hears each election line as it is logged, under the same limit of one per kind per interval. */
  onElectionLine (listener: (line: ElectionLine) => void): () => void {
    return this.elections.onLine(listener)
  }

  /** Called once when the node halts (see halt()). */
  onHalt (listener: (err: Error) => void): () => void {
    this.haltListeners.add(listener)
    return () => this.haltListeners.delete(listener)
  }

  private drainReadies (): void {
    let changed = false
    if (this.persistence.stalled !== undefined) {
      if (!this.persistence.retryStalled()) return
      changed = true
    }
    this.submitQueued()
    while (this.raw.hasReady()) {
      const ready = this.raw.ready()
      changed = true
      if (!this.persistence.handle(ready)) return
    }
    if (this.persistence.asyncWrites) this.persistence.maybeFlush()
    if (changed) {
      this.snapshots.maybeSnapshot()
      this.settleReads()
      this.notifyState()
    }
    // Also without a Ready: one that submitQueued held back on a follower is lost at once.
    this.resolveLeaderOnly()
  }

  /**
   * Settles the leader-only proposals (a merged envelope this node appended as leader) whose fate the
   * committed log now decides. Raft never moves an entry: a copy appended at (index i, term t) commits
   * there or never. It can no longer commit once this node has applied index i (had the entry there been
   * this copy, applying it settled the proposal) or applied an entry of a term above t (terms never
   * decrease along a log, and every later leader's log holds that committed entry, so none can hold the
   * copy after it). When every copy is ruled out — or none was appended and this node does not lead —
   * the proposal fails with ProposalLostError: nothing of it applied, so its commands may be submitted again
   * (the batcher does). A snapshot that covered it is read through the session table: its id there means
   * it applied. A log truncated at i is not enough: another node may still hold the copy and lead.
   */
  private resolveLeaderOnly (): void {
    if (this.leaderOnlyKeys.size === 0) return
    const leading = this.isLeader()
    for (const key of this.leaderOnlyKeys) {
      const pending = this.proposals.get(key)
      const held = pending?.extra.leaderOnly
      if (pending === undefined || held === undefined) {
        this.leaderOnlyKeys.delete(key)
        continue
      }
      // Not submitted yet: the next batch does.
      if (pending.extra.sentTo === undefined) continue
      const seen = this.sessions.lookup(pending.extra.id)
      if (seen.kind === 'duplicate') {
        this.leaderOnlyKeys.delete(key)
        this.proposals.settle(key, { ...seen.result, duplicate: false })
        continue
      }
      if (seen.kind === 'stale') {
        this.leaderOnlyKeys.delete(key)
        pending.reject(new ProposalReplayedError(`proposal ${key} was applied long ago`))
        this.proposals.delete(key)
        continue
      }
      const ruledOut = held.appendedAt.every((copy) => this.applied >= copy.index || this.appliedTerm > copy.term)
      if (!ruledOut || (held.appendedAt.length === 0 && leading)) continue
      this.leaderOnlyKeys.delete(key)
      this.counts.proposalsLost++
      const where = held.appendedAt.map((c) => `${c.index}@${c.term}`).join(', ')
      this.log.info({ id: key, appendedAt: where, applied: this.applied, appliedTerm: this.appliedTerm }, 'a merged envelope this node appended as leader can no longer commit; its own commands go again')
      pending.reject(new ProposalLostError(`proposal ${key} ${where === '' ? 'was never appended' : `appended at ${where}`} can no longer commit (applied ${this.applied} at term ${this.appliedTerm})`, pending.deadlineMs))
      this.proposals.delete(key)
    }
  }

  private applyReady (ready: Ready): void {
    for (const entry of ready.committedEntries) this.applyEntry(entry)
    if (ready.committedEntries.length > 0 && this.confRefused.size > 0 && this.isLeader()) this.retryRefusedConfChanges()
    for (const readState of ready.readStates) {
      const key = new TextDecoder().decode(readState.context)
      const waiter = this.reads.get(key)
      if (waiter !== undefined) waiter.extra.index = readState.index
    }
  }

  /**
   * Rejoining: asks the leader (forwarded) to remove this node from the configuration; the node's admission
   * (consensus-service) then adds it back as a learner with fresh progress, and it catches up from
   * scratch. Removal, not demotion: the leader's progress still records the log this node lost, and it
   * would ignore this node's rejections as stale. The request goes out once a leader is known (this node
   * has no log to tell whether it is a member) and is repeated slowly until the node is a learner.
   */
  private maybeRequestRemoval (now: number): void {
    const status = this.raw.status()
    if (status.confState.learners.includes(this.id)) {
      this.rejoining = false
      this.log.info({ id: this.id }, 'rejoined as a learner; may vote again once promoted')
      return
    }
    if (status.leader === null || status.leader === this.id || now < this.nextRemovalRequestMs) return
    if (this.rejoinRequestInFlight || this.requestRejoin === undefined) return
    this.rejoinRequestInFlight = true
    this.log.info({ id: this.id, leader: status.leader }, 'raft state lost: asking the leader to remove this node so it can rejoin as a learner')
    this.requestRejoin().then(() => {
      this.nextRemovalRequestMs = this.monotonicMs() + C.REJOIN_REQUEST_INTERVAL_MS
    }, (err: unknown) => {
      rethrowBug(err)
      // Not committed in time (or no leader yet): ask again later, more slowly than after an answer.
      this.nextRemovalRequestMs = this.monotonicMs() + 5 * C.REJOIN_REQUEST_INTERVAL_MS
      this.log.debug({ err: (err as Error).message }, 'rejoin request not committed yet')
    }).finally(() => { this.rejoinRequestInFlight = false })
  }

  private applyEntry (entry: Entry): void {
    assert(entry.index === this.applied + 1, () => `apply gap: ${this.applied} then ${entry.index}`)
    this.applied = entry.index
    this.appliedTerm = entry.term
    if (entry.type === EntryType.Normal) {
      const payload = decodeEntryPayload(entry.data)
      if (payload === null) return
      // A request is never an entry of an honest leader; one committed anyway applies (as the machine
      // judges it), keyed by nothing: it must not mark the follower's request id as applied.
      const id = this.forwarded.isRequest(payload.command) ? undefined : (this.commandId(payload.command) ?? entry.proposalId)
      this.applyCommand(id === undefined ? withoutProposalId(entry) : entry, id, payload.command, payload.timeMs, undefined)
    } else if (entry.type === EntryType.ConfChange) {
      const cc = decodeConfChange(entry.data)
      if (cc === null) return
      const context = cc.context !== undefined ? decodeContext(cc.context) : null
      const accepted = context === null || this.applyCommand(entry, this.commandId(context.payload.command) ?? context.id,
        context.payload.command, context.payload.timeMs, cc)
      if (accepted) this.confState = this.raw.applyConfChange(cc)
    }
  }

  /**
   * Entries applied while the leader holds proposals it refused for a configuration change: they go again
   * now, not at their retry time (up to RETRY_INTERVAL_MS later). What refused them clears only as entries
   * apply — the change before them (one at a time), the entry that leaves a joint change, or a new leader's
   * own first entry (it assumes its log's tail may hold a change until then). A dead voter's replacement
   * was two changes in a row (its demotion, then a learner's promotion; one from protocol level 6, still two
   * below it) proposed by a leader just elected,
   * and waiting for the sweep made it seconds slower (docs/bench/scale.md, 2026-12-04). On the next turn:
   * this runs inside a batch, and submitting belongs outside it; refused again, it waits for the next apply.
   */
  private retryRefusedConfChanges (): void {
    if (this.confRetryScheduled) return
    this.confRetryScheduled = true
    setImmediate(() => {
      this.confRetryScheduled = false
      if (!this.running || this.persistence.stalled !== undefined || !this.isLeader()) return
      // Settled or timed out meanwhile: nothing to retry.
      for (const key of this.confRefused) if (this.proposals.get(key) === undefined) this.confRefused.delete(key)
      const now = this.monotonicMs()
      this.proposals.retryAll(now, this.init.retryIntervalMs, (_key, extra) => {
        this.counts.confChangesRetried++
        this.submit(extra)
      }, (extra) => this.confRefused.has(proposalKey(extra.id)))
      this.scheduleBatch()
    })
  }

  /** Applies a command exactly once; returns whether the machine accepted it. */
  private applyCommand (entry: Entry, id: ProposalId | undefined, command: Uint8Array, timeMs: number, confChange: ConfChange | undefined): boolean {
    let accepted = false
    const keyed: Entry = id !== undefined ? { ...entry, proposalId: id } : entry
    const requestIds = this.rules?.requestIds?.(command) ?? []
    const outcome = applyOnce(this.sessions, keyed, () => {
      const applied = this.machine.apply(command, {
        index: entry.index,
        term: entry.term,
        timeMs,
        ...(confChange !== undefined ? { confChange } : {}),
        ...(requestIds.length > 0 ? { requestLookup: (rid: ProposalId) => this.sessions.lookup(rid).kind } : {})
      })
      accepted = applied.accepted
      // Each forwarded group that applied now is recorded under its request id (exactly-once per request;
      // the envelope's own id, of another session, is recorded after this returns).
      for (const group of applied.groups ?? []) {
        assert(requestIds.some((rid) => sameId(rid, group.id)), 'an applied group the command does not carry')
        this.sessions.record(group.id, entry.index, { index: entry.index, term: entry.term, result: group.result })
      }
      for (const listener of this.appliedListeners) listener({ entry, command, timeMs, result: applied.result })
      return { index: entry.index, term: entry.term, result: applied.result }
    })
    if (requestIds.length > 0) this.settleRequests(requestIds, entry.index)
    if (outcome.status !== 'applied') this.counts.duplicateCommands++
    if (id !== undefined && outcome.status !== 'stale') {
      const record = outcome.result
      this.proposals.settle(proposalKey(id), { ...record, duplicate: outcome.status === 'duplicate' })
    } else if (id !== undefined) {
      this.proposals.get(proposalKey(id))?.reject(new ProposalReplayedError(`proposal ${proposalKey(id)} was applied long ago`))
      this.proposals.delete(proposalKey(id))
    }
    return accepted
  }

  /**
   * Answers this node's forwarded requests that an applied entry carries: the group's recorded result
   * (`duplicate` when it was recorded at an earlier entry), or ProposalReplayedError when too old to tell.
   * A request still `new` here rode in an envelope that was refused as a whole: it stays pending and is
   * retried.
   */
  private settleRequests (ids: ProposalId[], index: number): void {
    for (const id of ids) {
      const key = proposalKey(id)
      if (this.proposals.get(key) === undefined) continue
      const seen = this.sessions.lookup(id)
      if (seen.kind === 'duplicate') {
        this.proposals.settle(key, { ...seen.result, duplicate: seen.result.index !== index })
      } else if (seen.kind === 'stale') {
        this.proposals.get(key)?.reject(new ProposalReplayedError(`request ${key} was applied long ago`))
        this.proposals.delete(key)
      }
    }
  }

  /**
   * After a snapshot from the leader: the pending proposals and requests it covered applied in entries this
   * node will never apply; their callers get the results the snapshot's session table recorded (an id evicted
   * from it as stale: ProposalReplayedError), instead of waiting for a duplicate copy the leader might never
   * append (it skips a retry it knows applied and held here: forwarded-proposals.ts,
   * `appliedAndHeldBy`).
   */
  private settleCoveredBySnapshot (): void {
    for (const [key, waiter] of [...this.proposals.entries()]) {
      const seen = this.sessions.lookup(waiter.extra.id)
      if (seen.kind === 'duplicate') {
        this.leaderOnlyKeys.delete(key)
        this.proposals.settle(key, { ...seen.result, duplicate: false })
      } else if (seen.kind === 'stale') {
        this.leaderOnlyKeys.delete(key)
        waiter.reject(new ProposalReplayedError(`proposal ${key} was applied long ago`))
        this.proposals.delete(key)
      }
    }
  }

  /** The signed id a command carries (rules), which then keys exactly-once instead of the entry's. */
  private commandId (command: Uint8Array): ProposalId | undefined {
    return this.rules?.identify(command)?.id
  }

  private settleReads (): void {
    for (const [key, waiter] of this.reads.entries()) {
      if (waiter.extra.index !== null && this.applied >= waiter.extra.index) this.reads.settle(key, undefined)
    }
  }

  /**
   * Snapshots the machine and the session table at the applied index, then compacts, keeping `retainEntries`
   * entries before it in memory (a quorum recovery's end keeps none: quorum-recovery-run.ts).
   */
  takeSnapshot (retainEntries?: number): Snapshot {
    return this.snapshots.takeSnapshot(retainEntries)
  }

  /** The term of the entry at `index` in this node's log; undefined when compacted away or absent. */
  termAt (index: number): number | undefined {
    return this.raw.entries(index, index + 1)[0]?.term
  }

  /** Snapshots from a leader refused because their protocol level is above this build's (refuseSnapshotAboveLevel). */
  get refusedSnapshotsAboveLevel (): number {
    return this.snapshots.refusedAboveLevel
  }

  private restoreSnapshot (snapshot: Snapshot): void {
    this.sessions = this.snapshots.restore(snapshot)
    this.applied = snapshot.meta.index
    this.appliedTerm = snapshot.meta.term
    this.confState = snapshot.meta.confState
  }

  /** A snapshot from the leader, persisted: restored, the log compacted, the proposals it covered settled. */
  private installSnapshot (snapshot: Snapshot): void {
    this.restoreSnapshot(snapshot)
    this.storage.compact(snapshot.meta.index)
    this.settleCoveredBySnapshot()
  }

  /**
   * A proposal or read handed to the old leader (or held while none was known) is lost or waiting: hand it
   * to the new one at once instead of at its retry time, up to RETRY_INTERVAL_MS later. Behind one such
   * proposal a node's whole next batch of commands waits (src/consensus/proposal-batcher.ts), so this is
   * most of a failover's time otherwise. The same proposal id makes a second copy harmless (sessions).
   * On the next turn: this runs inside a batch, and submitting belongs outside it.
   */
  private retryWithNewLeader (): void {
    setImmediate(() => {
      if (!this.running || this.persistence.stalled !== undefined) return
      const now = this.monotonicMs()
      const leader = this.raw.leader()
      // Only what went elsewhere: one already with this leader would become a second, useless entry, and
      // one still queued (never submitted: sentTo undefined) goes out with the next batch anyway.
      this.proposals.retryAll(now, this.init.retryIntervalMs, (_key, extra) => { this.submit(extra) },
        (extra) => extra.sentTo !== undefined && extra.sentTo !== leader)
      this.reads.retryAll(now, this.init.retryIntervalMs, (key) => this.requestRead(key))
      this.scheduleBatch()
    })
  }

  private notifyState (): void {
    // Runs after every batch: the full status (a copy) only when something the listeners hear of moved.
    if (this.raw.role() === this.lastRole && this.raw.leader() === this.lastLeader && this.confState === this.lastConf) return
    const status = this.raw.status()
    if (this.confState !== this.lastConf) this.elections.forgetNonVoters(this.confState)
    this.lastConf = this.confState
    // Says why the role changed (when it did), and remembers the leader and term for the next line.
    this.elections.observe(status, this.lastRole, this.confState)
    const newLeader = status.leader !== null && status.leader !== this.lastLeader
    this.lastRole = status.role
    this.lastLeader = status.leader
    if (status.role !== 'leader') this.outbox.forgetForwarded()
    if (newLeader) this.retryWithNewLeader()
    for (const listener of this.stateListeners) listener(status)
  }
}

/** The entry without its proposal id (applied, not recorded, by applyOnce). */
function withoutProposalId (entry: Entry): Entry {
  if (entry.proposalId === undefined) return entry
  const { proposalId: _, ...rest } = entry
  return rest
}

/** A conf-change context carries the command payload and its proposal id. */
function encodeContext (payload: Uint8Array, id: ProposalId): Uint8Array {
  return encodeEntryPayloadContext({ payload, id })
}

