/**
 * @module consensus/raft-node
 * The Raft driver: the thin, serial IO loop around the pure RawNode (STYLE §9, etcd raft node.go). Network
 * callbacks and timers only step inputs into the core and schedule one batch; a batch drains every Ready
 * in the contract's order — send `messages`, write, apply committed entries, acknowledge — synchronously,
 * so the core never sees an input between ready() and advance().
 *
 * When the storage can flush off the event loop (`syncAsync`, FileStorage) the driver uses the core's
 * asynchronous storage writes: each Ready's records are written at once, but the fdatasync runs on libuv's
 * thread pool while the loop keeps receiving, replicating and writing the next Readies; when it completes,
 * every Ready it covers is acknowledged (`persisted()`, in order) and only then are their
 * `messagesAfterPersist` sent. One flush at a time, covering everything written before it started: group
 * commit. Without `syncAsync` (or with `asyncStorageWrites: false`) each Ready is fsynced inline.
 *
 * On top of the core it provides what callers need: proposals that resolve with their typed result once
 * applied locally (retried under the same proposal id, so exactly-once holds across leader changes),
 * linearizable reads by ReadIndex (or stale reads on request), leader time stamps, snapshots with log
 * compaction, and conf changes that carry a command (voters move together with the shape).
 */
import { randomBytes } from 'node:crypto'
import { assert } from '../util/assert.js'
import { steadyNowMs } from '../util/clock.js'
import { intervalTicker, type StopDuty, type Ticker } from '../util/ticker.js'
import {
  RawNode, createPrng, applyOnce, ProposalSessions, decodeConfChange, encodeConfChange, EntryType, MessageType, isMemberOf
} from './core/index.js'
import type {
  ConfChange, ConfState, Entry, HardState, Message, NodeId, PersistTicket, ProposalId, RaftStatus, Ready, Snapshot,
  ProposalSessionsData
} from './core/index.js'
import type { Storage, StorageState } from './storage/types.js'
import type { ReplicatedStateMachine } from './state-machine.js'
import { decodeContext, decodeEntryPayload, encodeEntryPayload, encodeEntryPayloadContext } from './entry-payload.js'
import { PendingTable } from './pending.js'
import { CommitNotices } from './commit-notices.js'
import { snapshotFileName } from './storage/snapshot-file.js'
import { decodeNodeSnapshot, encodeNodeSnapshot, isAppliedRecord } from './node-snapshot.js'
import type { AppliedRecord } from './node-snapshot.js'
import { ConsensusTimeoutError, ForwardedRequestRefusedError, ProposalLostError, ProposalReplayedError, ProposalTooLargeError, SnapshotDecodeError, StorageUnavailableError } from './errors.js'
import { PerPeerLogLimiter } from './log-limiter.js'
import { RETRYABLE_STORAGE_ERRORS } from './storage/errors.js'
import { decodeRefusal, encodeRefusal } from './request-refusal.js'

/**
 * Errors a state machine throws from apply when this build cannot apply what the cluster committed: the node
 * halts there instead of diverging (docs/OPERATIONS.md, "Rolling upgrades"). Thrown from canRestore (a
 * snapshot from the leader), they refuse that snapshot instead (refuseSnapshotAboveLevel).
 */
export const HALTING_APPLY_ERRORS: ReadonlySet<string> = new Set(['ProtocolLevelUnsupportedError'])
import * as C from './constants.js'

/** The narrow transport the driver needs: fire-and-forget sends and one inbound handler. */
export interface MessageTransport {
  send(message: Message): void
  setHandler(handler: (message: Message) => void): void
}

export interface Logger {
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  debug(obj: object | string, msg?: string): void
  /** For a halt (the node stops); warn when absent. */
  error?(obj: object | string, msg?: string): void
}

export interface RaftNodeInit {
  id: NodeId
  /** Proposal session id; unique per process start (e.g. `${id}/${generation}`). @default `${id}/${random}` */
  clientId?: string
  /** @default TICK_MS_DEFAULT */
  tickMs?: number
  /** @default ELECTION_TICKS_DEFAULT */
  electionTicks?: number
  /** @default HEARTBEAT_TICKS_DEFAULT */
  heartbeatTicks?: number
  /** Heartbeat interval toward learners. @default max(heartbeatTicks, LEARNER_HEARTBEAT_TICKS_DEFAULT) */
  learnerHeartbeatTicks?: number
  /** @default SNAPSHOT_EVERY_ENTRIES_DEFAULT */
  snapshotEveryEntries?: number
  /** @default RETAIN_ENTRIES_AFTER_SNAPSHOT_DEFAULT */
  retainEntries?: number
  /** @default RETRY_INTERVAL_MS_DEFAULT */
  retryIntervalMs?: number
  /** @default OPERATION_TIMEOUT_MS_DEFAULT */
  operationTimeoutMs?: number
  /** Seed of the election-timeout PRNG. @default random */
  seed?: number
  /**
   * Create a single-voter cluster when the log is empty: entry 1 adds this node as the only voter and,
   * when given, entry 2 carries `bootstrapCommand`. A joining node passes false and waits to be added.
   */
  bootstrap?: boolean
  bootstrapCommand?: Uint8Array
  /**
   * The raft directory was lost in an existing cluster (issue 10 item 4): this node may have voted in terms
   * it no longer remembers, so it neither votes nor campaigns, and asks the leader to remove it (admission
   * then re-adds it as a learner), until its configuration lists it as a learner. @default false
   */
  rejoinAsLearner?: boolean
  /**
   * Flush the WAL off the event loop (asynchronous storage writes) when the storage supports it.
   * @default true
   */
  asyncStorageWrites?: boolean
  /**
   * Leader: how long a commit-only append may wait for a later append or heartbeat to the same follower that
   * carries its commit index anyway (src/consensus/commit-notices.ts); 0 sends it on the next turn.
   * @default COMMIT_NOTICE_HOLD_MS_DEFAULT
   */
  commitNoticeHoldMs?: number
}

/** Whether the disk takes writes; `error` and `sinceMs` say why and since when it does not. */
export interface StorageHealth {
  writable: boolean
  error?: string
  sinceMs?: number
}

/**
 * What the driver may know about the application's commands (MeshShape: signed envelopes). With rules,
 * a command's own signed id is its proposal id (so a replayed envelope is never applied twice), a
 * forwarded proposal must be signed by the member that forwards it, and the leader derives the
 * configuration change a command needs from its own applied state: no peer ever names one.
 */
export interface CommandRules {
  /**
   * The command's signed proposal id and proposer, or null when the bytes are not a command; `leaderOnly` names
   * the kind of a command only a leader proposes for itself, which the leader refuses as a forward.
   */
  identify(command: Uint8Array): { id: ProposalId, proposer: NodeId, leaderOnly?: string } | null
  /** Leader: the configuration change that must carry `command` now, or null for none. */
  confChangeFor(command: Uint8Array, conf: ConfState): ConfChange | null
  /**
   * Whether `command` is a forwarded request (issue 16): commands a follower sends the leader unsigned, for
   * the leader's own next envelope. A request is never appended as an entry: the leader hands it to
   * `takeRequest`, and the follower's proposal resolves when an entry carrying its id applies.
   * @default never
   */
  isRequest?(command: Uint8Array): boolean
  /** The request ids `command` carries for other proposals (a leader's merged envelope), in order. @default none */
  requestIds?(command: Uint8Array): ProposalId[]
  /**
   * Leader: whether `nodeId`, outside the Raft configuration, may still forward proposals and requests (a
   * member of the applied state machine: a node whose log was lost asks to rejoin from outside it).
   * @default every peer
   */
  isMember?(nodeId: NodeId): boolean
}

export interface RaftNodeComponents<R> {
  storage: Storage
  transport: MessageTransport
  stateMachine: ReplicatedStateMachine<R>
  logger: Logger
  /** Wall clock, only for the time a leader stamps on entries. @default Date.now */
  nowMs?: () => number
  /**
   * Monotonic clock for deadlines and retries: a wall-clock step must not time out or retry anything.
   * @default steadyNowMs
   */
  monotonicMs?: () => number
  /** @default none: any command, proposal ids of the form `<forwarding NodeId>/<session>` */
  commandRules?: CommandRules
  /**
   * A node rejoining after losing its raft directory asks, through this, to be removed from the
   * configuration (the consensus service proposes the signed `rejoin` shape command; peers never send
   * configuration changes). Called at most once at a time; the next call waits for the previous to settle.
   * @default none: the node waits for an operator
   */
  requestRejoin?: () => Promise<unknown>
  /**
   * Leader: takes a forwarded request (CommandRules.isRequest) from member `from` — this node itself for a
   * request it forwarded before it became leader — for its next envelope; returns null when taken, or the
   * typed error it is refused with (counted in `refusedRequests` and logged).
   * @default none: every request is refused
   */
  takeRequest?: (command: Uint8Array, id: ProposalId | undefined, from: NodeId) => Error | null
  /**
   * Leader: whether a request refused with ForwardedRequestInvalidError is answered to its follower (a
   * `prop-resp`, request-refusal.ts): only when every member knows that message (the protocol level).
   * @default never
   */
  answerRefusals?: () => boolean
  /**
   * What drives the tick: the node's ticker (util/ticker.ts), so Raft's tick and the other periodic duties
   * of the process wake it once. @default intervalTicker (a `setInterval` of its own)
   */
  ticker?: Ticker
}

/** Proposals refused at the leader and command entries not applied again, for status and metrics. */
export interface RaftNodeCounters {
  /** Forwarded proposals the leader refused (a conf change, a foreign proposal id or signer). */
  refusedForwarded: number
  /** Forwarded requests (issue 16) the leader refused: malformed, over a bound, a command that may not travel in one. */
  refusedRequests: number
  /** Leader: refusals answered to the follower. Follower: its requests failed by the leader's answer. */
  refusalsAnswered: number
  requestsRefusedByLeader: number
  /** Committed command entries whose proposal id was already applied (a retry or a replay). */
  duplicateCommands: number
  /**
   * Leader: followers' retries (forwarded proposals and requests) not appended or queued again: the entry
   * that carries them is in this leader's log for its term, or applied here and held in theirs.
   */
  retriesSkipped: number
  /** Envelopes this node appended as leader that the committed log ruled out (ProposalLostError). */
  proposalsLost: number
  /** Leader: proposals refused for a configuration change before them, submitted again once one applied. */
  confChangesRetried: number
  /** WAL flushes (fdatasync) that acknowledged Readies, and the entries they made durable (group commit). */
  walFlushes: number
  walFlushedEntries: number
  /** Commit-only appends held (src/consensus/commit-notices.ts), and of those replaced by a later message. */
  commitNoticesHeld: number
  commitNoticesReplaced: number
}

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

/** A Ready written to storage but not yet durable (asynchronous storage writes), in ticket order. */
interface UnflushedWrite {
  ticket: PersistTicket
  hardState: HardState | undefined
  entries: Entry[]
  /** Sent once durable. */
  after: Message[]
  mustSync: boolean
}

/** The typed result of a proposal, once its entry is applied on this node. */
export interface ProposalResult<R> {
  index: number
  term: number
  result: R
  /** True when this proposal id had already been applied (a retry): `result` is the first one. */
  duplicate: boolean
}

/** Listeners see every applied command entry in order (the attestation chain and metrics use it). */
export type AppliedListener<R> = (event: { entry: Entry, command: Uint8Array, timeMs: number, result: R }) => void

interface ProposalExtra {
  command: Uint8Array
  confChange?: ConfChange
  id: ProposalId
  /** The leader the last submission went to (this node when it led), null when none was known. */
  sentTo?: NodeId | null
  /**
   * Set when the command carries other nodes' request ids (a leader's merged envelope, issue 16): any other
   * leader refuses it (`checkForwarded`), so it is never forwarded; only this node, leading, appends it.
   * `appendedAt` lists the copies it appended, each at (index, term): once the committed log rules every
   * copy out, it can never commit and the proposal fails with ProposalLostError (`resolveLeaderOnly`).
   */
  leaderOnly?: { appendedAt: Array<{ index: number, term: number }> }
}

/** Options of one proposal (`RaftNode.propose`). */
export interface ProposeOptions {
  confChange?: ConfChange
  /**
   * The caller's absolute deadline (this driver's monotonic clock, `RaftNodeComponents.monotonicMs`): the
   * proposal times out then if that comes before the operation timeout. A command submitted again after
   * its envelope was lost passes the deadline of its first submission (`ProposalLostError.deadlineMs`).
   */
  deadlineMs?: number
  /**
   * The command carries other nodes' request ids (a leader's merged envelope, issue 16): any other leader
   * refuses it, so it is never forwarded and the committed log decides its fate (ProposalExtra.leaderOnly).
   * The proposer says so (it built the envelope); the driver does not decode the command to find out.
   */
  leaderOnly?: boolean
}

const proposalKey = (id: ProposalId): string => `${id.clientId}/${id.seq}`
/** Forwarded proposals remembered where this leader appended them, before the applied ones are pruned. */
const FORWARDED_APPENDED_MAX = 4_096

/** The node a proposal id belongs to: client ids are `<NodeId>/<session>`. */
export function clientIdOwner (clientId: string): string {
  const slash = clientId.indexOf('/')
  return slash > 0 ? clientId.slice(0, slash) : ''
}

const sameId = (a: ProposalId, b: ProposalId): boolean => a.clientId === b.clientId && a.seq === b.seq

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
  private readonly badInputLog: PerPeerLogLimiter
  /** Snapshots from a leader refused for a protocol level above this build's (refuseSnapshotAboveLevel). */
  private snapshotsAboveLevel = 0
  /** Keys of pending proposals whose last submission a configuration change refused (retryRefusedConfChanges). */
  private readonly confRefused = new Set<string>()
  private confRetryScheduled = false
  private readonly counts: Omit<RaftNodeCounters, 'commitNoticesHeld' | 'commitNoticesReplaced'> = { refusedForwarded: 0, refusedRequests: 0, refusalsAnswered: 0, requestsRefusedByLeader: 0, duplicateCommands: 0, retriesSkipped: 0, proposalsLost: 0, confChangesRetried: 0, walFlushes: 0, walFlushedEntries: 0 }
  /** Random per start: read contexts of an earlier run can never match a read of this one. */
  private readonly readNonce = randomBytes(8).toString('hex')
  private raw!: RawNode
  private sessions = new ProposalSessions<AppliedRecord<R>>()
  /**
   * Leader: followers' forwarded proposals appended in this leader's log, by proposal key → (index, term). A
   * retry of one still there, not yet applied, is not appended again (`forwardedRetrySkippable`).
   */
  private readonly forwardedAppended = new Map<string, { index: number, term: number }>()
  private readonly proposals: PendingTable<ProposalResult<R>, ProposalExtra>
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
  private lastSnapshotIndex = 0
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
  private lastTerm = 0
  /** When a leader last handed leadership to this node (TimeoutNow), for the campaign log line. */
  private handedOverAtMs: number | undefined
  /** The last leader this node knew (kept while it has none), for the campaign log line. */
  private lastKnownLeader: NodeId | null = null
  /**
   * When each voter's last Raft message arrived (monotonic ms; voters only, so at most the configuration's
   * size): the election log lines say how long the leader, or each voter, had been silent.
   */
  private readonly voterHeardAtMs = new Map<NodeId, number>()
  /** This process's last stall (a tick that fired late), for the same lines: a node that stalled may campaign against a live leader. */
  private lastStall: { atMs: number, gapMs: number } | undefined
  /** Election log lines: one per kind per interval, with a count of that kind's lines skipped since. */
  private readonly electionLog: PerPeerLogLimiter
  private readonly electionLinesSkipped = new Map<string, number>()
  /** The last lines logged (ELECTION_LINES_KEPT), and who hears the next ones. */
  private readonly electionLines: ElectionLine[] = []
  private readonly electionLineListeners = new Set<(line: ElectionLine) => void>()
  /** What those lines report, counted in full (the lines are rate-limited; metrics read these). */
  private readonly elections: ElectionCounters = {
    campaigns: { election_timeout: 0, handed_over: 0, only_voter: 0 },
    stepDowns: { higher_term: 0, no_quorum: 0 },
    stalls: 0
  }
  /** The applied configuration the state listeners last heard of (replaced, never mutated, on a change). */
  private lastConf: ConfState | undefined
  /**
   * A write that failed (disk full, EIO): retried until it succeeds; no input reaches the core. `ready` is
   * a Ready between ready() and its acknowledgement (written inline); `unflushed` writes are rewritten too.
   */
  private stalled: { ready: Ready | undefined, error: Error, sinceMs: number, nextRetryMs: number } | undefined
  /** Asynchronous storage writes: on when the storage has syncAsync and the init did not turn it off. */
  private readonly asyncWrites: boolean
  private unflushed: UnflushedWrite[] = []
  /** Appends held until the answers of the batch that made them are out (sendAfterAnswers). */
  private answersFirstSends: Message[] = []
  private readonly commitNotices: CommitNotices | undefined
  /**
   * Leader: per follower, the last index appended for proposals it forwarded. That follower answers its
   * callers once it applies them, so the commit-only append that covers them goes at once, not held.
   */
  private readonly forwardedUpTo = new Map<NodeId, number>()
  private flushRunning = false
  private rejoining: boolean
  private nextRemovalRequestMs = 0
  private rejoinRequestInFlight = false
  private readonly requestRejoin: (() => Promise<unknown>) | undefined
  private readonly takeRequest: RaftNodeComponents<R>['takeRequest']
  private readonly answerRefusals: RaftNodeComponents<R>['answerRefusals']

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
    this.takeRequest = components.takeRequest
    this.answerRefusals = components.answerRefusals
    this.badInputLog = new PerPeerLogLimiter(this.monotonicMs)
    this.electionLog = new PerPeerLogLimiter(this.monotonicMs, C.ELECTION_LOG_INTERVAL_MS)
    this.proposals = new PendingTable(C.MAX_PENDING_PROPOSALS, 'proposal')
    this.reads = new PendingTable(C.MAX_PENDING_READS, 'read')
    this.rejoining = init.rejoinAsLearner ?? false
    this.asyncWrites = (init.asyncStorageWrites ?? true) && this.storage.syncAsync !== undefined
    const holdMs = init.commitNoticeHoldMs ?? C.COMMIT_NOTICE_HOLD_MS_DEFAULT
    this.commitNotices = holdMs > 0 ? new CommitNotices(holdMs, (message) => { if (this.running) this.transport.send(message) }) : undefined
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
      snapshotAcceptable: (snapshot) => this.canRestore(snapshot),
      asyncStorageWrites: this.asyncWrites,
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
    this.commitNotices?.stop()
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
    if (this.stalled !== undefined) return Promise.reject(new StorageUnavailableError(this.stalled.error.message))
    if (command.length > C.MAX_COMMAND_BYTES) {
      return Promise.reject(new ProposalTooLargeError(`command of ${command.length} bytes over ${C.MAX_COMMAND_BYTES}`))
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
    if (options.leaderOnly === true && !this.isRequest(command)) {
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
      if (leader && this.isRequest(extra.command)) {
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
        this.noteRequestsAppended(plain)
      }
    } catch (err) {
      rethrowBug(err)
      // No leader yet or too many uncommitted bytes: the retry sweep submits them again.
      this.log.debug({ err: (err as Error).message, proposals: plain.length }, 'proposals not accepted yet')
    }
  }

  /**
   * Leader: the followers whose forwarded requests ride in these just-appended commands are told of their
   * commit at once (their callers wait for it), as for a forwarded proposal (`forwardedUpTo`).
   */
  private noteRequestsAppended (appended: ProposalExtra[]): void {
    if (this.commitNotices === undefined || this.rules?.requestIds === undefined) return
    const lastIndex = this.raw.lastIndex()
    for (const extra of appended) {
      for (const id of this.rules.requestIds(extra.command)) {
        const owner = clientIdOwner(id.clientId)
        if (owner !== this.id && owner !== '') this.forwardedUpTo.set(owner, lastIndex)
      }
    }
  }

  /**
   * Leader: whether request `id` of follower `from` has been applied here, in an entry `from`'s log already
   * holds (its match reaches the entry). That entry is committed, so `from` applies it and answers its
   * callers; queueing the request again would only commit a duplicate entry for every node to apply. A
   * follower retries every second until it has applied the entry, and a starved one (a 50-node fleet after a
   * leader kill) had most of its retries committed again: 86 entries for ~44 writes (docs/bench/scale.md). When
   * `from`'s log may lack it (its match is below, or unknown to a new leader) it goes again, as before;
   * a follower that a snapshot brings past the entry answers its callers from the snapshot's session table
   * (`settleCoveredBySnapshot`).
   */
  private appliedAndHeldBy (id: ProposalId, from: NodeId): boolean {
    const seen = this.sessions.lookup(id)
    if (seen.kind !== 'duplicate') return false
    const match = this.raw.matchOf(from)
    return match !== undefined && match >= seen.result.index
  }

  private isRequest (command: Uint8Array): boolean {
    return this.rules?.isRequest?.(command) === true
  }

  /**
   * Hands a forwarded request to the leader's intake; false (counted, logged at most once per interval
   * per peer) when it is refused. `from` is the authenticated sender (this node for its own request).
   */
  private maybeTakeRequest (command: Uint8Array, id: ProposalId | undefined, from: NodeId): boolean {
    // Only the sender's own request: one naming another node's id goes to the intake, which refuses and counts it.
    if (id !== undefined && from !== this.id && clientIdOwner(id.clientId) === from && this.appliedAndHeldBy(id, from)) {
      this.counts.retriesSkipped++
      return true
    }
    const refusal = this.takeRequest === undefined
      ? new Error('this node takes no forwarded requests')
      : this.takeRequest(command, id, from)
    if (refusal === null) return true
    this.counts.refusedRequests++
    if (this.badInputLog.allow(from, 'forwarded-request')) {
      this.log.warn({ from, error: refusal.name, reason: refusal.message }, 'refused a forwarded request (counted; logged once per interval)')
    }
    // A refusal for good is answered, so the request's callers fail now rather than at their timeout; one a
    // retry may overcome (ForwardedRequestDeferredError, ConsensusBusyError) is not.
    if (refusal.name === 'ForwardedRequestInvalidError' && id !== undefined) {
      if (from === this.id) {
        this.failRequest(id, refusal.message)
      } else if (this.answerRefusals?.() === true) {
        this.counts.refusalsAnswered++
        this.send({
          type: MessageType.PropResp, from: this.id, to: from, term: this.raw.term(), index: 0, logTerm: 0, entries: [],
          commit: 0, reject: true, rejectHint: 0, context: encodeRefusal({ id, reason: refusal.message })
        })
      }
    }
    return false
  }

  /**
   * Follower: the leader refused one of this node's forwarded requests (`prop-resp`). Trusted from the
   * leader this node knows only, and only for a request of its own still pending here; anything else is
   * dropped and counted.
   */
  private onRequestRefused (m: Message): void {
    const refusal = decodeRefusal(m.context)
    if (m.from !== this.raw.leader() || refusal === null) {
      this.counts.refusedForwarded++
      if (this.badInputLog.allow(m.from, 'request-refusal')) this.log.warn({ from: m.from }, 'dropped a request refusal not from the leader, or malformed (counted; logged once per interval)')
      return
    }
    this.failRequest(refusal.id, `the leader ${m.from} refused it: ${refusal.reason}`)
  }

  /** Fails the callers of this node's pending forwarded request `id` (a request only, never a signed proposal). */
  private failRequest (id: ProposalId, reason: string): void {
    const key = proposalKey(id)
    const pending = this.proposals.get(key)
    if (pending === undefined || !this.isRequest(pending.extra.command)) return
    this.counts.requestsRefusedByLeader++
    pending.reject(new ForwardedRequestRefusedError(`request ${key}: ${reason}`))
    this.proposals.delete(key)
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
      } else if (this.isLeader() && this.isRequest(extra.command)) {
        // This node forwarded it while following and leads now: its own next envelope carries it.
        this.maybeTakeRequest(extra.command, extra.id, this.id)
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
    if (this.stalled !== undefined) throw new StorageUnavailableError(this.stalled.error.message)
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
    if (this.stalled !== undefined) throw new StorageUnavailableError(this.stalled.error.message)
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
    if (this.stalled !== undefined) throw new StorageUnavailableError(this.stalled.error.message)
    this.raw.proposeConfChange(cc)
    this.scheduleBatch()
  }

  status (): RaftStatus {
    return this.raw.status()
  }

  /** Refused forwarded proposals and duplicate command entries since start. */
  counters (): RaftNodeCounters {
    return { ...this.counts, commitNoticesHeld: this.commitNotices?.held ?? 0, commitNoticesReplaced: this.commitNotices?.replaced ?? 0 }
  }

  /** Campaigns by cause, step-downs by reason and long stalls since start (copies). */
  electionCounters (): ElectionCounters {
    return { campaigns: { ...this.elections.campaigns }, stepDowns: { ...this.elections.stepDowns }, stalls: this.elections.stalls }
  }

  isLeader (): boolean {
    return this.raw.role() === 'leader'
  }

  /** The leader this node knows of in its current term (null while there is none), without a status copy. */
  leaderId (): NodeId | null {
    return this.raw.leader()
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
    if (this.stalled === undefined) return { writable: true }
    return { writable: false, error: this.stalled.error.message, sinceMs: this.stalled.sinceMs }
  }

  /** True while this node rejoins after losing its raft directory and may not vote yet. */
  isRejoining (): boolean {
    return this.rejoining
  }

  appliedIndex (): number {
    return this.applied
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
    if (late && this.lastTickAtMs !== undefined) this.noteStall(firedAt, firedAt - this.lastTickAtMs)
    this.lastTickAtMs = firedAt
    // After a stall the input that waited in the sockets is read before the tick judges anyone.
    if (late) setImmediate(() => { this.tickNow() })
    else this.tickNow()
  }

  /**
   * Remembers this process's stall for the election lines, and logs one that lasted an election timeout or
   * more on a voter: a leader that stalls that long lets its followers campaign, and a follower that does
   * may campaign against a live leader. A learner's stall moves no election (and nearly every one of 50
   * nodes starting on one machine stalls: docs/bench/scale.md, "Why a node campaigned").
   */
  private noteStall (atMs: number, gapMs: number): void {
    this.lastStall = { atMs, gapMs }
    if (gapMs < this.init.electionTicks * this.init.tickMs) return
    this.elections.stalls++
    if (!this.votesHere(this.id)) return
    this.logElection('stall', { id: this.id, role: this.raw.role(), term: this.raw.term(), gapMs: Math.round(gapMs) },
      'this process stalled for an election timeout or more (no tick ran)')
  }

  private tickNow (): void {
    if (!this.running) return
    const now = this.monotonicMs()
    if (this.stalled !== undefined) {
      // Deadlines still run out (the caller learns the outcome is unknown); nothing is re-submitted.
      this.proposals.sweep(now, this.init.retryIntervalMs, () => {})
      this.reads.sweep(now, this.init.retryIntervalMs, () => {})
      if (now >= this.stalled.nextRetryMs) this.runBatch()
      return
    }
    this.raw.tick()
    if (this.rejoining) this.maybeRequestRemoval(now)
    this.proposals.sweep(now, this.init.retryIntervalMs, (_key, extra) => this.submit(extra))
    this.reads.sweep(now, this.init.retryIntervalMs, (key) => this.requestRead(key))
    // Most ticks of an idle node change nothing (a follower counting toward its election timeout, a
    // leader between heartbeats): no batch, no extra turn of the event loop for it.
    if (this.queuedProposals.length > 0 || this.unflushed.length > 0 || this.raw.hasReady()) this.scheduleBatch()
  }

  private onMessage (message: Message): void {
    // While a write is stalled the core sits between ready() and advance(): nothing may reach it. A
    // dropped message is a lost message, which Raft tolerates.
    if (!this.running || this.stalled !== undefined) return
    if (this.rejoining && isVoteTraffic(message)) return
    if (this.votesHere(message.from)) {
      const now = this.monotonicMs()
      this.voterHeardAtMs.set(message.from, now)
      if (message.type === MessageType.TimeoutNow) this.handedOverAtMs = now
    }
    if (message.type === MessageType.Prop && this.isLeader()) {
      this.stampForwarded(message)
    } else if (message.type === MessageType.PropResp) {
      this.onRequestRefused(message)
    } else {
      this.raw.step(message)
    }
    this.scheduleBatch()
  }

  /**
   * The leader checks each forwarded proposal against its sender, then stamps its time and appends it
   * with the configuration change it derives itself.
   */
  private stampForwarded (message: Message): void {
    const plain: Array<{ data: Uint8Array, proposalId: ProposalId }> = []
    const conf = this.configuration()
    if (!this.mayForward(message.from, conf)) {
      // Any key holder can open a stream (a joiner must, to be admitted); only members propose.
      this.counts.refusedForwarded += message.entries.length
      if (this.badInputLog.allow(message.from, 'forwarded-by-stranger')) {
        this.log.warn({ from: message.from, entries: message.entries.length }, 'refused proposals forwarded by a peer that is not a member (counted; logged once per interval)')
      }
      return
    }
    for (const entry of message.entries) {
      const request = entry.type === EntryType.Normal ? decodeEntryPayload(entry.data) : null
      if (request !== null && this.isRequest(request.command)) {
        // Never appended: the leader's intake checks it all (id, sender, bounds, kinds) and its next
        // envelope carries the commands (issue 16).
        this.maybeTakeRequest(request.command, entry.proposalId, message.from)
        continue
      }
      const checked = this.checkForwarded(message.from, entry)
      if (typeof checked === 'string') {
        this.counts.refusedForwarded++
        if (this.badInputLog.allow(message.from, 'forwarded-proposal')) {
          this.log.warn({ from: message.from, reason: checked }, 'refused a forwarded proposal (counted; logged once per interval)')
        }
        continue
      }
      if (this.forwardedRetrySkippable(checked.id, message.from)) {
        this.counts.retriesSkipped++
        continue
      }
      try {
        if (this.rules?.confChangeFor(checked.command, conf) == null) {
          plain.push({ data: encodeEntryPayload({ command: checked.command, timeMs: this.nowMs() }), proposalId: checked.id })
        } else {
          this.proposeAtLeader(checked.command, checked.id)
          this.noteForwardedAppended([checked.id])
        }
      } catch (err) {
        rethrowBug(err)
        // The follower's retry will bring it back.
        this.log.debug({ err: (err as Error).message, from: message.from }, 'forwarded proposal not accepted yet')
      }
    }
    // The commands that need no configuration change are appended together: one App per follower.
    if (plain.length === 0) return
    try {
      this.raw.proposeMany(plain)
      this.noteForwardedAppended(plain.map((p) => p.proposalId))
    } catch (err) {
      rethrowBug(err)
      this.log.debug({ err: (err as Error).message, from: message.from }, 'forwarded proposals not accepted yet')
    }
    if (this.commitNotices !== undefined) this.forwardedUpTo.set(message.from, this.raw.lastIndex())
  }

  /** Leader: records where the forwarded proposals `ids` were just appended (the last `ids.length` entries). */
  private noteForwardedAppended (ids: ProposalId[]): void {
    const last = this.raw.lastIndex()
    const term = this.raw.term()
    ids.forEach((id, k) => { this.forwardedAppended.set(proposalKey(id), { index: last - ids.length + 1 + k, term }) })
    if (this.forwardedAppended.size > FORWARDED_APPENDED_MAX) {
      for (const [key, at] of this.forwardedAppended) if (at.index <= this.applied || at.term !== term) this.forwardedAppended.delete(key)
    }
  }

  /**
   * Leader: whether a follower's forwarded proposal `id` is a retry that need not be appended: a copy this
   * leader appended in its current term and has not applied yet (a leader never removes its own entries, so
   * it commits there unless leadership moves, and then the follower hands it to the next leader), or one
   * applied here in an entry `from`'s log holds (`appliedAndHeldBy`). Otherwise it is appended again, and a
   * second copy applies as a duplicate (sessions), as before.
   */
  private forwardedRetrySkippable (id: ProposalId, from: NodeId): boolean {
    const key = proposalKey(id)
    const appended = this.forwardedAppended.get(key)
    if (appended !== undefined) {
      if (appended.term === this.raw.term() && appended.index > this.applied) return true
      this.forwardedAppended.delete(key)
    }
    return this.appliedAndHeldBy(id, from)
  }

  /** Whether `from` may forward proposals and requests: a member of the configuration or of the machine. */
  private mayForward (from: NodeId, conf: ConfState): boolean {
    return isMemberOf(conf, from) || (this.rules?.isMember?.(from) ?? true)
  }

  /** The command and id of a forwarded entry, or why it is refused. */
  private checkForwarded (from: NodeId, entry: Entry): { command: Uint8Array, id: ProposalId } | string {
    if (entry.type !== EntryType.Normal) return 'a configuration change from a peer: the leader derives it from the command'
    const id = entry.proposalId
    if (id === undefined) return 'no proposal id'
    if (clientIdOwner(id.clientId) !== from) return `proposal id ${id.clientId} does not belong to ${from}`
    const payload = decodeEntryPayload(entry.data)
    if (payload === null) return 'not an entry payload'
    if (this.rules !== undefined) {
      const identity = this.rules.identify(payload.command)
      if (identity === null) return 'not a signed command'
      if (identity.proposer !== from) return `command signed by ${identity.proposer}, forwarded by ${from}`
      if (!sameId(identity.id, id)) return 'proposal id differs from the signed command\'s'
      if (identity.leaderOnly !== undefined) return `a ${identity.leaderOnly} command is proposed by the leader only`
      // A merged envelope (issue 16) records its groups' request ids as applied: forwarded by a member, it may
      // name that member's own requests only, or it could pre-empt (shadow) another node's next request.
      const foreign = this.rules.requestIds?.(payload.command).find((rid) => clientIdOwner(rid.clientId) !== from)
      if (foreign !== undefined) return `a merged envelope forwarded by ${from} carries request ${foreign.clientId}/${foreign.seq} of another node`
    }
    return { command: payload.command, id }
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
    return [...this.electionLines]
  }

  /** Hears each election line as it is logged, under the same limit of one per kind per interval. */
  onElectionLine (listener: (line: ElectionLine) => void): () => void {
    this.electionLineListeners.add(listener)
    return () => this.electionLineListeners.delete(listener)
  }

  /** Called once when the node halts (see halt()). */
  onHalt (listener: (err: Error) => void): () => void {
    this.haltListeners.add(listener)
    return () => this.haltListeners.delete(listener)
  }

  private drainReadies (): void {
    let changed = false
    if (this.stalled !== undefined) {
      if (!this.retryStalled()) return
      changed = true
    }
    this.submitQueued()
    while (this.raw.hasReady()) {
      const ready = this.raw.ready()
      changed = true
      if (this.asyncWrites) {
        if (!this.handleReadyAsync(ready)) return
      } else {
        if (!this.handleReady(ready, false)) return
        this.raw.advance()
      }
    }
    if (this.asyncWrites) this.maybeFlush()
    if (changed) {
      this.maybeSnapshot()
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

  /** Retries the stalled write: the unflushed Readies are rewritten in order, then synced inline. */
  private retryStalled (): boolean {
    const stalled = this.stalled as NonNullable<RaftNode<R>['stalled']>
    try {
      for (const write of this.unflushed) this.writeRecords(write.hardState, write.entries)
      if (stalled.ready === undefined) this.storage.sync()
    } catch (err) {
      this.stall(err, stalled.ready)
      return false
    }
    // A stalled Ready's own write (with its inline sync) also covers the unflushed ones rewritten before it.
    if (stalled.ready !== undefined && !this.handleReady(stalled.ready, true)) return false
    this.log.info({ id: this.id, stalledMs: this.monotonicMs() - stalled.sinceMs }, 'storage writable again; resuming')
    this.stalled = undefined
    if (!this.asyncWrites) {
      this.raw.advance()
      return true
    }
    if (stalled.ready !== undefined) this.unflushed.push(this.issued(stalled.ready, []))
    this.acknowledgeFlushed(Number.MAX_SAFE_INTEGER)
    return true
  }

  /**
   * Handles one Ready; false when persisting it failed (the node is then stalled on it). `retry` skips
   * the messages already sent on the first attempt.
   */
  private handleReady (ready: Ready, retry: boolean): boolean {
    if (!retry) for (const message of ready.messages) this.send(message)
    if (!this.persist(ready)) return false
    if (ready.snapshot !== undefined) {
      this.restoreSnapshot(ready.snapshot)
      this.storage.compact(ready.snapshot.meta.index)
      this.settleCoveredBySnapshot()
    }
    for (const message of ready.messagesAfterPersist) this.send(message)
    this.applyReady(ready)
    return true
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
   * Asynchronous storage writes: sends what may go first, writes the records without syncing, applies
   * what is durable, and queues the Ready until a flush covers it. A snapshot from the leader (rare) is
   * written and synced inline, which also makes every earlier unflushed Ready durable. False when a write
   * failed (the node is then stalled; the retry rewrites every unflushed Ready).
   */
  private handleReadyAsync (ready: Ready): boolean {
    if (ready.snapshot !== undefined) {
      if (!this.handleReady(ready, false)) return false
      this.unflushed.push(this.issued(ready, []))
      this.acknowledgeFlushed(Number.MAX_SAFE_INTEGER)
      return true
    }
    // Appends without entries (the commit index after a commit) wait until this Ready's answers are out.
    const answersFirst = ready.committedEntries.length > 0
    for (const message of ready.messages) {
      if (answersFirst && message.type === MessageType.App && message.entries.length === 0) this.sendAfterAnswers(message)
      else this.send(message)
    }
    let failure: unknown
    try {
      this.writeRecords(ready.hardState, ready.entries)
    } catch (err) {
      if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
      failure = err
    }
    this.unflushed.push(this.issued(ready, ready.messagesAfterPersist))
    // The disk flushes while this node applies: a follower's Ready often holds the next entries and the
    // commit of the previous ones, and its acknowledgement then waits for the longer of the two, not both.
    // Nothing steps the core between issuing and applying (starting a flush only calls the storage).
    if (failure === undefined && ready.mustSync && ready.committedEntries.length > 0) this.maybeFlush()
    // Committed entries are handed out only up to the durable index, so they apply even if this write failed.
    this.applyReady(ready)
    if (failure === undefined) return true
    this.stall(failure, undefined)
    return false
  }

  /** Acknowledges the Ready being handled as issued; its durability is acknowledged from the queue. */
  private issued (ready: Ready, after: Message[]): UnflushedWrite {
    return { ticket: this.raw.advanceIssued(), hardState: ready.hardState, entries: ready.entries, after, mustSync: ready.mustSync }
  }

  /** Hard state before entries: a torn write may keep a newer term without its entries, never the reverse. */
  private writeRecords (hardState: HardState | undefined, entries: Entry[]): void {
    if (hardState !== undefined && entries.length > 0 && this.storage.setHardStateAndAppend !== undefined) {
      this.storage.setHardStateAndAppend(hardState, entries)
      return
    }
    if (hardState !== undefined) this.storage.setHardState(hardState)
    if (entries.length > 0) this.storage.append(entries)
  }

  /**
   * Starts one flush for every unflushed Ready when none runs. Readies that need no fsync (a commit index
   * only) are acknowledged at once unless an earlier one waits for a flush.
   */
  private maybeFlush (): void {
    if (this.flushRunning || this.stalled !== undefined || this.unflushed.length === 0 || !this.running) return
    const last = (this.unflushed[this.unflushed.length - 1] as UnflushedWrite).ticket.seq
    if (!this.unflushed.some((write) => write.mustSync)) {
      this.acknowledgeFlushed(last)
      this.scheduleBatch()
      return
    }
    this.flushRunning = true
    const flush = this.storage.syncAsync as () => Promise<void>
    flush.call(this.storage).then(() => {
      this.flushRunning = false
      if (!this.running || this.stalled !== undefined) return
      this.counts.walFlushes++
      this.acknowledgeFlushed(last)
      this.scheduleBatch()
    }, (err: unknown) => {
      this.flushRunning = false
      if (!this.running) return
      if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
      if (this.stalled === undefined) this.stall(err, undefined)
    })
  }

  /** The unflushed Readies up to ticket `seq` are durable: acknowledge them in order and send what waited. */
  private acknowledgeFlushed (seq: number): void {
    while (this.unflushed.length > 0 && (this.unflushed[0] as UnflushedWrite).ticket.seq <= seq) {
      const write = this.unflushed.shift() as UnflushedWrite
      this.counts.walFlushedEntries += write.entries.length
      this.raw.persisted(write.ticket)
      for (const message of write.after) this.send(message)
    }
  }

  /**
   * Persists a Ready: snapshot, hard state, entries, one fsync. A disk that cannot write (full, EIO) stalls
   * the node on this Ready instead of crashing: nothing in it is acknowledged (messagesAfterPersist wait),
   * proposals are refused, and the retry rewrites it all (FileStorage rolled the partial write back).
   */
  private persist (ready: Ready): boolean {
    try {
      if (ready.snapshot !== undefined) this.storage.saveSnapshot(ready.snapshot)
      this.writeRecords(ready.hardState, ready.entries)
      // Inline, the sync also covers every unflushed Ready written before (asynchronous storage writes).
      if (ready.mustSync || this.unflushed.length > 0) this.storage.sync()
      return true
    } catch (err) {
      this.stall(err, ready)
      return false
    }
  }

  /** Stalls the node on a failed write (rethrowing anything that is not a retryable storage error). */
  private stall (err: unknown, ready: Ready | undefined): void {
    if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
    const now = this.monotonicMs()
    if (this.stalled === undefined) {
      this.log.warn({ id: this.id, err: (err as Error).message }, 'cannot write the log; refusing proposals until the disk takes writes again')
    }
    this.stalled = { ready, error: err as Error, sinceMs: this.stalled?.sinceMs ?? now, nextRetryMs: now + C.STORAGE_RETRY_INTERVAL_MS }
  }

  /**
   * Sends `message` on the next turn of the event loop, after the microtasks that answer the proposals
   * this batch applied (their HTTP replies): the leader answers before it tells the followers the new
   * commit index (two encrypted frames and socket writes, each of which may wake a follower onto this
   * core), and the followers learn it one turn later. Only appends without entries go this way; FIFO
   * with the next batch, which runs on a later turn.
   */
  private sendAfterAnswers (message: Message): void {
    if (this.commitNotices !== undefined && message.commitOnly === true && !this.coversForwarded(message)) {
      this.commitNotices.hold(message)
      return
    }
    this.answersFirstSends.push(message)
    if (this.answersFirstSends.length > 1) return
    setImmediate(() => {
      const messages = this.answersFirstSends
      this.answersFirstSends = []
      if (this.running) for (const queued of messages) this.send(queued)
    })
  }

  /** Whether commit-only `message` commits the last proposal its follower forwarded (then it is not held). */
  private coversForwarded (message: Message): boolean {
    const upTo = this.forwardedUpTo.get(message.to)
    if (upTo === undefined || message.commit < upTo) return false
    this.forwardedUpTo.delete(message.to)
    return true
  }

  /** Sends unless this rejoining node would take part in an election it may already have voted in. */
  private send (message: Message): void {
    if (this.rejoining && isVoteTraffic(message)) return
    this.commitNotices?.beforeSend(message)
    this.transport.send(message)
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
      const id = this.isRequest(payload.command) ? undefined : (this.commandId(payload.command) ?? entry.proposalId)
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
      if (!this.running || this.stalled !== undefined || !this.isLeader()) return
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
   * append (it skips a retry it knows applied and held here: `appliedAndHeldBy`).
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

  private maybeSnapshot (): void {
    if (this.applied - this.lastSnapshotIndex < this.init.snapshotEveryEntries) return
    try {
      this.takeSnapshot()
    } catch (err) {
      // The inline flush of unflushed Readies failed and rolled them back: rewrite them (stall).
      if (this.unflushed.length > 0) return this.stall(err, undefined)
      // A snapshot is an optimisation: the log still holds everything; the next batch tries again.
      if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
      this.log.warn({ err: (err as Error).message }, 'snapshot not written; the log keeps growing until it is')
    }
  }

  /**
   * Snapshots the machine and the session table at the applied index, then compacts, keeping `retainEntries`
   * entries before it in memory (a quorum recovery's end keeps none: quorum-recovery-run.ts).
   */
  takeSnapshot (retainEntries = this.init.retainEntries): Snapshot {
    if (this.unflushed.length > 0) {
      // Saving a snapshot syncs the WAL inline, and a failed save rolls it back: flush and acknowledge
      // the unflushed Readies first (once per snapshot), so a failure can never drop them unseen.
      this.storage.sync()
      this.acknowledgeFlushed(Number.MAX_SAFE_INTEGER)
      this.scheduleBatch()
    }
    const status = this.raw.status()
    const index = this.applied
    const term = index === 0 ? 0 : (this.termAt(index) ?? status.term)
    const data = encodeNodeSnapshot({ machine: this.machine.snapshot(), sessions: this.sessions.encode() as ProposalSessionsData<unknown> })
    const snapshot: Snapshot = { meta: { index, term, confState: status.confState }, data }
    this.storage.saveSnapshot(snapshot)
    this.raw.compact(snapshot, retainEntries)
    // The WAL keeps every entry after the previous snapshot too: if the new snapshot file turns out
    // unreadable at the next start, storage falls back to the previous one and replays from there.
    this.storage.compact(Math.max(0, Math.min(this.lastSnapshotIndex, index - retainEntries)))
    this.lastSnapshotIndex = index
    this.log.info({ index, term, bytes: data.length }, 'snapshot taken')
    return snapshot
  }

  /** The term of the entry at `index` in this node's log; undefined when compacted away or absent. */
  termAt (index: number): number | undefined {
    return this.raw.entries(index, index + 1)[0]?.term
  }

  /** Whether a snapshot from the leader can be restored: checked before anything is persisted. */
  private canRestore (snapshot: Snapshot): boolean {
    const decoded = decodeNodeSnapshot(snapshot.data)
    let ok: boolean
    try {
      ok = decoded !== null && ProposalSessions.tryDecode(decoded.sessions, isAppliedRecord) !== null &&
        (this.machine.canRestore?.(decoded.machine) ?? true)
    } catch (err) {
      if (!HALTING_APPLY_ERRORS.has((err as Error).name)) throw err
      this.refuseSnapshotAboveLevel(snapshot, err as Error)
      return false
    }
    if (!ok && this.badInputLog.allow(this.raw?.leader() ?? 'leader', 'snapshot')) {
      this.log.warn({ index: snapshot.meta.index, term: snapshot.meta.term }, 'refused a snapshot from the leader that cannot be restored (counted; logged once per interval)')
    }
    return ok
  }

  /**
   * A snapshot from the leader at a protocol level above this build's is refused, not halted on
   * (docs/OPERATIONS.md, "Rolling upgrades"). The halt exists so that a build left behind stops instead of
   * applying the committed log differently; refusing a snapshot applies nothing and persists nothing, so
   * this node cannot diverge by it, only stay behind. And the snapshot is only its sender's word: any key
   * holder may speak Raft (mayTalkRaft) and be the leader of a higher term for one frame, so halting here let
   * one frame per node stop the cluster. Halting only for a voter's snapshot would still trust the voter and
   * would miss an honest leader this node's lagging configuration does not name yet. What still halts is
   * the level in an entry this node applies from its own log, or in its own snapshot at start. An honest
   * cluster above this build keeps resending, so the warning repeats once per interval per leader and
   * `refused.snapshotsAboveLevel` grows: both name the fix.
   */
  private refuseSnapshotAboveLevel (snapshot: Snapshot, err: Error): void {
    this.snapshotsAboveLevel++
    const leader = this.raw?.leader() ?? 'leader'
    if (!this.badInputLog.allow(leader, 'snapshot-level')) return
    this.log.warn({ leader, index: snapshot.meta.index, term: snapshot.meta.term, err: err.message },
      `refused a snapshot from ${leader} that this build cannot apply, staying behind (counted; logged once per interval): ${err.message}`)
  }

  /** Snapshots from a leader refused because their protocol level is above this build's (refuseSnapshotAboveLevel). */
  get refusedSnapshotsAboveLevel (): number {
    return this.snapshotsAboveLevel
  }

  private restoreSnapshot (snapshot: Snapshot): void {
    const decoded = decodeNodeSnapshot(snapshot.data)
    const sessions = decoded === null ? null : ProposalSessions.tryDecode(decoded.sessions, isAppliedRecord as (v: unknown) => v is AppliedRecord<R>)
    if (decoded === null || sessions === null) {
      throw new SnapshotDecodeError(`snapshot at index ${snapshot.meta.index} cannot be decoded. Repair: move ` +
        `<data-dir>/raft/${snapshotFileName(snapshot.meta.index)} aside to start from the previous snapshot, or empty ` +
        'the data directory and start with the join string to rejoin')
    }
    this.machine.restore(decoded.machine)
    this.sessions = sessions
    this.applied = snapshot.meta.index
    this.appliedTerm = snapshot.meta.term
    this.lastSnapshotIndex = snapshot.meta.index
    this.confState = snapshot.meta.confState
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
      if (!this.running || this.stalled !== undefined) return
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
    if (this.confState !== this.lastConf) this.forgetNonVoters()
    this.lastConf = this.confState
    if (status.role !== this.lastRole) this.logRoleChange(status)
    const newLeader = status.leader !== null && status.leader !== this.lastLeader
    this.lastRole = status.role
    this.lastLeader = status.leader
    if (status.leader !== null) this.lastKnownLeader = status.leader
    this.lastTerm = status.term
    if (status.role !== 'leader') this.forwardedUpTo.clear()
    if (newLeader) this.retryWithNewLeader()
    for (const listener of this.stateListeners) listener(status)
  }

  /**
   * Says why the role changed: a follower that campaigns (how long its leader had been silent, and whether
   * this process had just stalled), a leader that steps down (a higher term, or no quorum heard within an
   * election timeout, with each voter's silence). Roles that changed within one batch show as one change.
   */
  private logRoleChange (status: RaftStatus): void {
    const from = this.lastRole
    const to = status.role
    if (to === 'leader') {
      this.log.info({ id: this.id, term: status.term }, 'became leader')
      return
    }
    const now = this.monotonicMs()
    if (from === 'leader') {
      const reason: StepDownReason = status.term > this.lastTerm ? 'higher_term' : 'no_quorum'
      this.elections.stepDowns[reason]++
      this.logElection('step-down', {
        id: this.id, term: status.term, previousTerm: this.lastTerm, reason: STEP_DOWN_REASON[reason], leader: status.leader, ...this.silences(now)
      }, 'stepped down as leader')
      return
    }
    if ((to === 'pre-candidate' || to === 'candidate') && from !== 'pre-candidate' && from !== 'candidate') {
      const heard = this.lastKnownLeader === null ? undefined : this.voterHeardAtMs.get(this.lastKnownLeader)
      const cause = this.campaignCause(now)
      this.elections.campaigns[cause]++
      this.logElection('campaign', {
        id: this.id,
        term: status.term,
        why: CAMPAIGN_WHY[cause],
        previousLeader: this.lastKnownLeader,
        leaderSilentMs: heard === undefined ? null : Math.round(now - heard),
        ...this.stallWithin(now)
      }, 'campaigning')
    }
  }

  private campaignCause (now: number): CampaignCause {
    const window = this.init.electionTicks * this.init.tickMs
    if (this.handedOverAtMs !== undefined && now - this.handedOverAtMs <= window) return 'handed_over'
    const voters = [...this.confState.voters, ...this.confState.votersOutgoing]
    if (this.votesHere(this.id) && voters.every((id) => id === this.id)) return 'only_voter'
    return 'election_timeout'
  }

  /** Each voter's silence (ms since its last message), and this process's recent stall. */
  private silences (now: number): { silentMs: Record<string, number | null>, stalledMs?: number } {
    const silentMs: Record<string, number | null> = {}
    for (const id of [...this.confState.voters, ...this.confState.votersOutgoing]) {
      if (id === this.id) continue
      const heard = this.voterHeardAtMs.get(id)
      silentMs[id] = heard === undefined ? null : Math.round(now - heard)
    }
    return { silentMs, ...this.stallWithin(now) }
  }

  /** The last stall of this process, when it ended within two election timeouts. */
  private stallWithin (now: number): { stalledMs?: number } {
    const window = 2 * this.init.electionTicks * this.init.tickMs
    if (this.lastStall === undefined || now - this.lastStall.atMs > window) return {}
    return { stalledMs: Math.round(this.lastStall.gapMs) }
  }

  private logElection (kind: ElectionLineKind, fields: Record<string, unknown>, msg: string): void {
    if (!this.electionLog.allow(this.id, kind)) {
      this.electionLinesSkipped.set(kind, (this.electionLinesSkipped.get(kind) ?? 0) + 1)
      return
    }
    const logged = { ...fields, linesSkipped: this.electionLinesSkipped.get(kind) ?? 0 }
    this.log.info(logged, msg)
    this.electionLinesSkipped.delete(kind)
    const line: ElectionLine = { atMs: this.nowMs(), kind, fields: logged }
    this.electionLines.push(line)
    if (this.electionLines.length > C.ELECTION_LINES_KEPT) this.electionLines.shift()
    for (const listener of this.electionLineListeners) listener(line)
  }

  /** Whether `id` votes in this node's applied configuration (either half). */
  private votesHere (id: NodeId): boolean {
    return this.confState.voters.includes(id) || this.confState.votersOutgoing.includes(id)
  }

  private forgetNonVoters (): void {
    for (const id of this.voterHeardAtMs.keys()) {
      if (!this.votesHere(id)) this.voterHeardAtMs.delete(id)
    }
  }
}

/**
 * Operating errors (no leader, a pending change) are retried; a failed assertion is a bug and must
 * reach the top of the process, never a debug line.
 */
function rethrowBug (err: unknown): void {
  if (err instanceof Error && err.name === 'AssertionError') throw err
}

/** Election messages: a rejoining node that lost its vote record must stay out of elections. */
function isVoteTraffic (message: Message): boolean {
  return message.type === MessageType.Vote || message.type === MessageType.PreVote ||
    message.type === MessageType.VoteResp || message.type === MessageType.PreVoteResp
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


