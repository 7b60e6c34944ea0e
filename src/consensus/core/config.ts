/**
 * @module consensus/core/config
 * The Raft core's configuration and its validation at construction (STYLE §14): every limit has a
 * default from constants.ts, and relationships between fields are checked once here.
 */
import * as C from './constants.js'
import { InvalidRaftConfigError } from './errors.js'
import type { Prng } from './prng.js'
import type { NodeId, Snapshot } from './types.js'

/** Planted bugs, test-only, so the simulator can prove it catches them (issue 3 item 4). */
export interface RaftTestingBugs {
  /** Commit an old term's entry by counting replicas (violates thesis §3.6.2, Figure 8). */
  commitOldTermByCounting?: boolean
  /** Send vote responses before the vote is persisted (violates thesis §3.8). */
  voteBeforePersist?: boolean
  /** A follower appends entries without checking the previous entry's term (violates log matching). */
  acceptMismatchedEntries?: boolean
  /**
   * With asynchronous storage writes, count the node's own vote and append acknowledgement when a Ready is
   * issued instead of once it is durable (a leader committing on its own unflushed append).
   */
  selfAckBeforePersist?: boolean
}

export interface RaftConfig {
  id: NodeId
  /** Base election timeout in ticks; the effective timeout is random in [electionTicks, 2*electionTicks). */
  electionTicks: number
  /** Heartbeat interval in ticks; must be < electionTicks. */
  heartbeatTicks: number
  /**
   * Heartbeat interval toward learners that have acknowledged the whole log, in ticks (≥ heartbeatTicks).
   * Learners never campaign, so no election timeout depends on how often they hear from the leader; a
   * lagging or probing learner still gets one every heartbeatTicks (its repair is not slowed). Voters keep
   * `heartbeatTicks`; check-quorum and ReadIndex count only voters. Commits still reach learners at once
   * (every commit is broadcast as an append), and a ReadIndex or transfer heartbeat goes to every member.
   * @default heartbeatTicks (learners heartbeated like voters)
   */
  learnerHeartbeatTicks?: number
  /** @default true */
  preVote?: boolean
  /** @default true */
  checkQuorum?: boolean
  /** @default MAX_SIZE_PER_MSG_BYTES_DEFAULT */
  maxSizePerMsgBytes?: number
  /** @default MAX_INFLIGHT_MSGS_DEFAULT */
  maxInflightMsgs?: number
  /** @default MAX_UNCOMMITTED_ENTRIES_BYTES_DEFAULT */
  maxUncommittedEntriesBytes?: number
  /** @default SNAPSHOT_CHUNK_BYTES_DEFAULT */
  snapshotChunkBytes?: number
  /** @default MAX_COMMITTED_BYTES_PER_READY_DEFAULT */
  maxCommittedBytesPerReady?: number
  /** Seeded randomness for election timeouts. */
  random: Prng
  /**
   * Whether a snapshot received from the leader can be restored (the application decodes its data
   * without side effects). A refused one is never installed or persisted: it is counted in
   * `rejectedSnapshots` and answered with a rejection, so the leader falls back to probing.
   * @default accept every snapshot
   */
  snapshotAcceptable?: (snapshot: Snapshot) => boolean
  /**
   * Asynchronous storage writes (etcd raft's AsyncStorageWrites): the driver acknowledges a Ready in two
   * steps — `advanceIssued()` once its writes are issued and its committed entries applied, then
   * `persisted(ticket)` once those writes are durable — and steps other input in between, so the disk
   * flush overlaps with receiving and replicating. Committed entries are then handed out only up to the
   * durable index, and the node's own vote and append acknowledgement count only at `persisted()`.
   * @default false: `advance()` acknowledges both at once
   */
  asyncStorageWrites?: boolean
  testingBugs?: RaftTestingBugs
}

/** A RaftConfig with every default filled in. */
export interface ResolvedRaftConfig {
  id: NodeId
  electionTicks: number
  heartbeatTicks: number
  learnerHeartbeatTicks: number
  preVote: boolean
  checkQuorum: boolean
  maxSizePerMsgBytes: number
  maxInflightMsgs: number
  maxUncommittedEntriesBytes: number
  snapshotChunkBytes: number
  maxCommittedBytesPerReady: number
  random: Prng
  snapshotAcceptable: (snapshot: Snapshot) => boolean
  asyncStorageWrites: boolean
  testingBugs: RaftTestingBugs
}

function positiveInt (value: number, label: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidRaftConfigError(`${label} must be a positive integer, got ${value}`)
  }
  return value
}

/**
 * Validates `config` and fills in defaults.
 * @throws InvalidRaftConfigError on a bad value, electionTicks <= heartbeatTicks or learnerHeartbeatTicks < heartbeatTicks.
 */
export function resolveRaftConfig (config: RaftConfig): ResolvedRaftConfig {
  if (typeof config.id !== 'string' || config.id.length === 0) {
    throw new InvalidRaftConfigError('id must be a non-empty string')
  }
  const electionTicks = positiveInt(config.electionTicks, 'electionTicks')
  const heartbeatTicks = positiveInt(config.heartbeatTicks, 'heartbeatTicks')
  if (electionTicks <= heartbeatTicks) {
    throw new InvalidRaftConfigError(`electionTicks (${electionTicks}) must be > heartbeatTicks (${heartbeatTicks})`)
  }
  const learnerHeartbeatTicks = positiveInt(config.learnerHeartbeatTicks ?? heartbeatTicks, 'learnerHeartbeatTicks')
  if (learnerHeartbeatTicks < heartbeatTicks) {
    throw new InvalidRaftConfigError(`learnerHeartbeatTicks (${learnerHeartbeatTicks}) must be ≥ heartbeatTicks (${heartbeatTicks})`)
  }
  if (typeof config.random?.nextInt !== 'function') throw new InvalidRaftConfigError('random must be a Prng')
  return {
    id: config.id,
    electionTicks,
    heartbeatTicks,
    learnerHeartbeatTicks,
    preVote: config.preVote ?? C.PRE_VOTE_DEFAULT,
    checkQuorum: config.checkQuorum ?? C.CHECK_QUORUM_DEFAULT,
    maxSizePerMsgBytes: positiveInt(config.maxSizePerMsgBytes ?? C.MAX_SIZE_PER_MSG_BYTES_DEFAULT, 'maxSizePerMsgBytes'),
    maxInflightMsgs: positiveInt(config.maxInflightMsgs ?? C.MAX_INFLIGHT_MSGS_DEFAULT, 'maxInflightMsgs'),
    maxUncommittedEntriesBytes: positiveInt(config.maxUncommittedEntriesBytes ??
      C.MAX_UNCOMMITTED_ENTRIES_BYTES_DEFAULT, 'maxUncommittedEntriesBytes'),
    snapshotChunkBytes: Math.min(C.MAX_SNAPSHOT_CHUNK_BYTES,
      positiveInt(config.snapshotChunkBytes ?? C.SNAPSHOT_CHUNK_BYTES_DEFAULT, 'snapshotChunkBytes')),
    maxCommittedBytesPerReady: positiveInt(config.maxCommittedBytesPerReady ??
      C.MAX_COMMITTED_BYTES_PER_READY_DEFAULT, 'maxCommittedBytesPerReady'),
    random: config.random,
    snapshotAcceptable: config.snapshotAcceptable ?? (() => true),
    asyncStorageWrites: config.asyncStorageWrites ?? false,
    testingBugs: { ...(config.testingBugs ?? {}) }
  }
}
