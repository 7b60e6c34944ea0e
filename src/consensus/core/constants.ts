/**
 * @module consensus/core/constants
 * Defaults and hard limits of the pure Raft core. Every limit names its unit and says what happens on
 * overflow (STYLE §13). The defaults follow etcd raft's production settings scaled to our message sizes.
 */

/**
 * Terms a quorum recovery's first campaign leaps over (2^20). A lost leader may have led terms the survivor
 * never heard of, and a live learner may hold that leader's uncommitted entries: campaigning at a term it
 * used would give two entries one (index, term), and the learner would keep the lost one. With pre-vote
 * every such term took an election won by a majority without the survivor: the leap covers 2^20 of them.
 */
export const RECOVERY_TERM_LEAP = 2 ** 20
/** Pre-vote is on unless disabled (thesis §9.6): a rejoining partitioned node cannot bump the term. */
export const PRE_VOTE_DEFAULT = true
/** Check-quorum is on unless disabled (thesis §6.2): an isolated leader steps down. */
export const CHECK_QUORUM_DEFAULT = true
/** Upper bound on the entry bytes in one App message; a single larger entry is still sent alone. */
export const MAX_SIZE_PER_MSG_BYTES_DEFAULT = 1024 * 1024
/** Pipelined App messages per follower in replicate state; the follower is paused when full. */
export const MAX_INFLIGHT_MSGS_DEFAULT = 256
/** Uncommitted entry bytes a leader accepts; beyond it proposals throw ProposalDroppedError. */
export const MAX_UNCOMMITTED_ENTRIES_BYTES_DEFAULT = 64 * 1024 * 1024
/** Bytes of snapshot data per Snap message. */
export const SNAPSHOT_CHUNK_BYTES_DEFAULT = 256 * 1024
/** Committed entry bytes handed out per Ready; the rest wait for the next Ready (at least one entry). */
export const MAX_COMMITTED_BYTES_PER_READY_DEFAULT = 16 * 1024 * 1024
/**
 * Snapshot chunks a leader aims to send per round to one follower: a larger snapshot is cut into bigger
 * chunks, up to MAX_SNAPSHOT_CHUNK_BYTES, and only beyond that into more of them (the whole snapshot is
 * resent on loss).
 */
export const MAX_SNAPSHOT_CHUNKS_PER_SEND = 1024
/** Largest snapshot chunk in one Snap message: with its envelope it stays well inside one frame. */
export const MAX_SNAPSHOT_CHUNK_BYTES = 1024 * 1024
/**
 * Largest snapshot a follower reassembles (1 GiB): the most a leader sends in MAX_SNAPSHOT_CHUNKS_PER_SEND
 * chunks of MAX_SNAPSHOT_CHUNK_BYTES (a larger one only gets more chunks), below the 4 GiB a snapshot
 * file's u32 length holds, and far above a MeshShape snapshot (a few KiB plus the session table). Without
 * it the leader of a term could send chunks that never end and fill the follower's memory. A chunk that
 * would pass it drops the whole inbox (counted in oversizeSnapshots); the leader's retry starts over.
 * NB: a state machine whose snapshot outgrows this can no longer catch a follower up by snapshot.
 */
export const MAX_SNAPSHOT_BYTES = MAX_SNAPSHOT_CHUNKS_PER_SEND * MAX_SNAPSHOT_CHUNK_BYTES
/**
 * ReadIndex requests a leader holds, both before it has committed in its term and while awaiting their
 * heartbeat quorum; more are dropped (counted in droppedMessages; the caller retries).
 */
export const MAX_PENDING_READ_INDEX = 4096
/** Election timeouts a leader waits on an unanswered snapshot before probing (and resending) again. */
export const SNAPSHOT_RETRY_ELECTION_TIMEOUTS = 2
/** Entries a node keeps behind a snapshot by default when compacting (for slow followers). */
export const RETAIN_ENTRIES_DEFAULT = 1024
/** Entries walked back when computing a rejection hint (bounds the work per message). */
export const MAX_REJECT_HINT_WALK_ENTRIES = 1024 * 1024
/** Bytes of per-entry overhead counted toward message and uncommitted sizes (index, term, type). */
export const ENTRY_OVERHEAD_BYTES = 24
/** Log entries (newest first) whose index and term order checkInvariants() re-verifies per call. */
export const INVARIANT_CHECK_TAIL_ENTRIES = 256
/** Clients kept by ProposalSessions by default; the least recently applied is evicted beyond it. */
export const MAX_SESSION_CLIENTS_DEFAULT = 10_000
/**
 * Sessions kept per owner (the node a client id `<NodeId>/…` names) by ProposalSessions; beyond it that
 * owner's least recently applied session is evicted, never another owner's. Without it one key holder
 * forwarding proposals under fresh session ids flushed every honest client from the MAX_SESSION_CLIENTS
 * table, and an honest retry then applied twice. An honest node uses three sessions per process start (the
 * shape proposer's `<NodeId>/<hex>`, its forwarded-request stream `<NodeId>/<hex>.r`, the driver's own), so
 * 64 keeps every session of 21 starts of one node; the oldest evicted belong to stopped processes, which
 * retry nothing. 10,000 / 64 = 156 owners fit before the global bound evicts across owners.
 */
export const MAX_SESSIONS_PER_OWNER_DEFAULT = 64
/** Results kept per client; an older sequence number is then refused as stale (never re-applied). */
export const MAX_SESSION_SEQS_PER_CLIENT_DEFAULT = 64
/**
 * Largest term, index, commit, hint, offset or sequence number accepted from the network (2^48). Far
 * above any real log (2^48 entries at a million per second last nine years) and far below 2^53, so a
 * node that adopts a peer's term can still count up from it: every hard state, WAL record and snapshot
 * it persists stays a safe integer its own decoders accept. A message with a larger value is dropped
 * (counted in droppedMessages); a frame is refused by the transport's decoder.
 */
export const WIRE_NUMBER_MAX = 2 ** 48
/**
 * Largest term, index, commit, hint, offset or sequence number the core takes from a peer (2^47), half
 * the wire's bound: a node that adopts the largest still counts its own terms and indexes up 2^47 times
 * before anything it sends would exceed WIRE_NUMBER_MAX, which its peers' decoders refuse (a node must
 * never send what its peers cannot read: test/fuzz/regressions/raft-step/). A larger value is dropped
 * by the core's message check (counted in droppedMessages).
 */
export const STEP_NUMBER_MAX = WIRE_NUMBER_MAX / 2
/**
 * Entries in one network message (App, Prop). The core builds none with more: a leader's App and a
 * follower's forwarded Props are cut at this count as well as at maxSizePerMsgBytes. A message with more is
 * dropped by the core (counted in droppedMessages) and its frame refused by the transport, whose bound on a
 * frame's CBOR items derives from it (FRAME_ITEMS_MAX, transport/wire.ts). 12,288 is above the 10,922 entries
 * that the node's 256 KiB messages hold at ENTRY_OVERHEAD_BYTES each (the fewest bytes an entry counts), so
 * every App or Prop of a build that cut by bytes alone still decodes; it was 100,000, which let a key holder's
 * 3 MiB frame of one-byte items through to decoding (docs/ENCODING.md, "Readers of untrusted bytes").
 */
export const MAX_ENTRIES_PER_MSG = 12_288
/** Characters of a NodeId on the wire (a PeerId string is about 52). */
export const MAX_NODE_ID_CHARS = 128
/** NodeIds in one list of a configuration on the wire. */
export const MAX_CONF_IDS = 1024
/** Characters of a proposal's client id (the forwarding node's id plus a session suffix). */
export const MAX_CLIENT_ID_CHARS = 256
/** Bytes of a ReadIndex request context (the driver's contexts are about 60). */
export const MAX_READ_CONTEXT_BYTES = 256
