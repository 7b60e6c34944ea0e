/**
 * @module consensus/core/types
 * The value types of the pure Raft core: log entries, hard state, configurations, snapshots, messages and
 * the Ready batch. They are plain data (no classes) so that the driver can encode them with deterministic
 * CBOR and the simulator can copy them. Every id is a NodeId (the libp2p PeerId string, DESIGN.md §2).
 */

/** A node's identity: its libp2p PeerId as a string. One id space for Raft, shape, gossip and chain. */
export type NodeId = string

/** What an entry's `data` holds. */
export enum EntryType {
  /** An application command (opaque bytes, for example an encoded MeshShape envelope). */
  Normal = 0,
  /** An encoded {@link ConfChange}. */
  ConfChange = 1,
  /** The empty entry a new leader appends to commit entries of earlier terms (thesis §3.6.2). */
  Empty = 2
}

/**
 * The id a client attaches to a proposal so that a retry is applied at most once (exactly-once
 * proposals). `clientId` names the proposer session, `seq` grows per proposal within it.
 */
export interface ProposalId {
  clientId: string
  seq: number
}

/** One log entry. Invariant: `index >= 1`, `term >= 1`. */
export interface Entry {
  index: number
  term: number
  type: EntryType
  data: Uint8Array
  /** Present on Normal entries that came from a client proposal. */
  proposalId?: ProposalId
}

/** State that must be durable before any message that depends on it is sent (thesis §3.8). */
export interface HardState {
  term: number
  /** The candidate voted for in `term`, or null. */
  vote: NodeId | null
  commit: number
}

/**
 * A cluster configuration, possibly joint. When `votersOutgoing` is non-empty the configuration is joint
 * and decisions need a majority of both `voters` and `votersOutgoing`.
 */
export interface ConfState {
  voters: NodeId[]
  votersOutgoing: NodeId[]
  learners: NodeId[]
  /** Voters being demoted to learners once the joint configuration is left. */
  learnersNext: NodeId[]
  /** True when the leader leaves the joint configuration on its own once it is committed. */
  autoLeave: boolean
}

/** One step of a configuration change. */
export type ConfChangeStep =
  | { type: 'add-voter', nodeId: NodeId }
  | { type: 'add-learner', nodeId: NodeId }
  | { type: 'remove', nodeId: NodeId }

/**
 * A configuration change. One step that adds or removes a single voter may be applied directly; anything
 * else enters a joint configuration. `transition: 'auto'` leaves the joint configuration automatically;
 * an empty `steps` list with a joint configuration active is the explicit "leave joint" request.
 */
export interface ConfChange {
  steps: ConfChangeStep[]
  transition: 'auto' | 'explicit'
  /**
   * Enter a joint configuration even for a single step (thesis §4.3). revoada moves voters this way so
   * that the old and the new voter sets must both agree while the etcd role changes hands.
   */
  enterJoint?: boolean
  /**
   * Opaque application bytes committed atomically with the change (etcd raft's ConfChange.Context):
   * revoada carries the MeshShape command whose etcd-role change this configuration change realizes.
   */
  context?: Uint8Array
}

export interface SnapshotMeta {
  index: number
  term: number
  confState: ConfState
}

/** A state-machine snapshot. `data` is the application's encoding (including its dedup table). */
export interface Snapshot {
  meta: SnapshotMeta
  data: Uint8Array
}

/** A read request resolved by ReadIndex: `index` is safe to serve once applied >= index. */
export interface ReadState {
  index: number
  /** The opaque request context the caller passed to readIndex(). */
  context: Uint8Array
}

export enum MessageType {
  /** Local: start an election (sent by tick, never on the wire). */
  Hup = 'hup',
  PreVote = 'pre-vote',
  PreVoteResp = 'pre-vote-resp',
  Vote = 'vote',
  VoteResp = 'vote-resp',
  /** AppendEntries. */
  App = 'app',
  AppResp = 'app-resp',
  Heartbeat = 'heartbeat',
  HeartbeatResp = 'heartbeat-resp',
  /** One chunk of InstallSnapshot. */
  Snap = 'snap',
  SnapResp = 'snap-resp',
  /** A follower forwards a proposal to the leader. */
  Prop = 'prop',
  /** A follower forwards a ReadIndex request to the leader. */
  ReadIndex = 'read-index',
  ReadIndexResp = 'read-index-resp',
  TransferLeader = 'transfer-leader',
  /** Sent by a leader to the transferee: campaign now, skipping pre-vote. */
  TimeoutNow = 'timeout-now',
  /**
   * Leader → follower: the forwarded request named in `context` was refused for good
   * (consensus/request-refusal.ts). Handled by the driver; a core that gets one drops it.
   */
  PropResp = 'prop-resp'
}

/**
 * A Raft message. One flat shape (as etcd's raftpb.Message) keeps the codec and simulator simple; each
 * type uses the fields its handler documents.
 */
export interface Message {
  type: MessageType
  from: NodeId
  to: NodeId
  term: number
  /** App: index of the entry before `entries`; App/Heartbeat resp: the follower's match/hint. */
  index: number
  /** App: term of the entry at `index`; votes: the candidate's last log term. */
  logTerm: number
  entries: Entry[]
  commit: number
  /** Responses: true if the request was rejected. */
  reject: boolean
  /** AppResp on reject: the follower's hint of where to probe next. */
  rejectHint: number
  /** Snap: the chunk, with `snapshotMeta` and the chunk's byte offset and whether it is the last. */
  snapshotMeta?: SnapshotMeta
  snapshotChunk?: Uint8Array
  snapshotOffset?: number
  snapshotDone?: boolean
  /** ReadIndex and heartbeats: the request context being confirmed. */
  context?: Uint8Array
  /** Vote/PreVote sent because of a leadership transfer (bypasses leader stickiness). */
  force?: boolean
  /** TransferLeader: the node that should become leader (added so `from` always names the sender). */
  transferee?: NodeId
  /**
   * App without entries that a leader sent because its commit index moved, to a follower in replicate
   * state: a follower whose log matches applies the commit and answers nothing, since it answers every
   * append with entries anyway (issue 16: two of a batch's messages). A rejection is still answered.
   */
  commitOnly?: boolean
}

/**
 * The batch of work the core hands its driver. The driver handles it strictly in this order:
 * 1. send `messages` (they do not depend on unpersisted state, e.g. a leader's appends, thesis §10.2.1);
 * 2. persist `hardState`, `entries` and `snapshot` (one fsync when `mustSync`);
 * 3. only AFTER persisting, send `messagesAfterPersist` (votes and append responses);
 * 4. apply `committedEntries` to the state machine;
 * 5. call `advance()`.
 * With `asyncStorageWrites` (RawNode), step 2 only issues the writes, step 5 is `advanceIssued()`, and
 * step 3 waits until the writes are durable, when the driver calls `persisted(ticket)`.
 */
export interface Ready {
  /** Changed hard state to persist, or undefined if unchanged. */
  hardState?: HardState
  /** Entries to append to stable storage (may overwrite a conflicting suffix). */
  entries: Entry[]
  /** A snapshot to persist and install, or undefined. */
  snapshot?: Snapshot
  /** Committed entries to apply, in index order. */
  committedEntries: Entry[]
  /** Messages that may be sent BEFORE persisting. */
  messages: Message[]
  /** Messages that must be sent only AFTER this Ready is persisted. */
  messagesAfterPersist: Message[]
  /** Reads that became safe to serve once the state machine has applied up to their index. */
  readStates: ReadState[]
  /** True when hard state or entries changed in a way that must be fsynced before the messages above. */
  mustSync: boolean
  /** Soft state, for status reporting only (leader may be null while unknown). */
  softState: { leader: NodeId | null, role: 'follower' | 'candidate' | 'pre-candidate' | 'leader' }
}

/** A node's role (the `softState.role` values). */
export type RaftRole = Ready['softState']['role']

/** How a leader replicates to one peer (thesis §10.2.1; etcd tracker/progress.go). */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/** A leader's view of one peer, for status reporting. */
export interface ProgressStatus {
  /** Highest index known replicated on the peer. Invariant: match < next. */
  match: number
  /** Next index to send. */
  next: number
  state: ProgressState
  /** Heard from the peer within the current check-quorum window. */
  recentActive: boolean
  isLearner: boolean
}

/** A snapshot of the core's state for status pages, tests and the simulator's checkers. */
export interface RaftStatus {
  id: NodeId
  term: number
  vote: NodeId | null
  leader: NodeId | null
  role: RaftRole
  commit: number
  applied: number
  /** First index still held in the in-memory log (entries below are compacted). */
  firstIndex: number
  lastIndex: number
  lastTerm: number
  confState: ConfState
  /** Per-peer progress, present only on a leader. */
  progress?: Record<NodeId, ProgressStatus>
  /** The transfer target while a leadership transfer is in progress. */
  leadTransferee: NodeId | null
  /** Network messages dropped because they were invalid, stale or could not be served. */
  droppedMessages: number
  /** Local proposals refused with ProposalDroppedError plus forwarded ones dropped at the leader. */
  droppedProposals: number
  /** Snapshots from the leader refused because the application could not restore them. */
  rejectedSnapshots: number
  /** Snapshots from the leader dropped part way because their chunks went past MAX_SNAPSHOT_BYTES. */
  oversizeSnapshots: number
  /** Bytes of the snapshot being reassembled from the leader's chunks (0 when none), at most MAX_SNAPSHOT_BYTES. */
  snapshotInboxBytes: number
}
