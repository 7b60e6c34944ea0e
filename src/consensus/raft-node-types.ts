/**
 * @module consensus/raft-node-types
 * The Raft driver's contract (raft-node.ts re-exports every name here): what a RaftNode is built from (its
 * init, its components, the command rules of the application) and what it hands back (proposal results,
 * counters, storage health). Kept apart so that the driver's modules share them without importing the driver.
 */
import type { ConfChange, ConfState, Entry, Message, NodeId, ProposalId, RaftStatus } from './core/index.js'
import type { Storage } from './storage/types.js'
import type { ReplicatedStateMachine } from './state-machine.js'
import type { Ticker } from '../util/ticker.js'

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

/** `RaftNode.status()`: the core's status, and whether the driver stopped (then no leader, role or progress is claimed). */
export type RaftNodeStatus = RaftStatus & { stopped: boolean }

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
  /**
   * Why `command` must not enter the log though it decodes (a member id that is no canonical peer id), or
   * null. Asked of this node's own proposals and of every forwarded one (not of a request: the leader's intake
   * judges those). @default none refused
   */
  memberIdProblem?(command: Uint8Array): string | null
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
   * refuses it, so it is never forwarded and the committed log decides its fate (pending-proposal.ts,
   * ProposalExtra.leaderOnly). The proposer says so (it built the envelope); the driver does not decode the
   * command to find out.
   */
  leaderOnly?: boolean
}
