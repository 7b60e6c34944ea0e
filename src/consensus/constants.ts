/**
 * @module consensus/constants
 * Defaults and limits of the consensus driver (issue 6: 100 ms tick, heartbeat every tick, election
 * timeout 500–1000 ms). Every limit names its unit and its overflow behaviour.
 */

/** Real-time length of one Raft tick. */
export const TICK_MS_DEFAULT = 100
/**
 * A tick that fires this much later than its period means the process did not run meanwhile (a starved CPU,
 * a GC pause). Its Raft tick is then deferred behind the input already waiting in the sockets (setImmediate
 * runs after the poll phase): the timer phase runs first after a stall, so a leader would otherwise judge
 * check-quorum, and a follower its election timeout, before reading the answers and heartbeats that
 * arrived during the stall (issue 16: leaders stepped down on a saturated 2-core machine).
 */
export const LATE_TICK_MS = 100
/**
 * A node logs why it campaigned, or stepped down as leader, at most once per kind in this interval (with a
 * count of the lines skipped): a voter cut off from the others campaigns every election timeout.
 */
export const ELECTION_LOG_INTERVAL_MS = 10_000
/** Election lines a node keeps for readers that start after them (the dashboard's timeline). */
export const ELECTION_LINES_KEPT = 16
/** Heartbeat every tick. */
export const HEARTBEAT_TICKS_DEFAULT = 1
/**
 * Heartbeat toward caught-up learners every 10 ticks (1 s); a lagging one gets one every heartbeat round.
 * Learners never campaign, so no election timeout rests on it; for an idle learner it only stands in for a
 * lost commit broadcast (every commit is sent as an append, at most COMMIT_NOTICE_HOLD_MS_DEFAULT later). At 50 members (3 voters, 47 idle
 * learners) the leader's heartbeats drop from 490 a second each way to 67 (issue 16; docs/bench/scale.md).
 */
export const LEARNER_HEARTBEAT_TICKS_DEFAULT = 10
/**
 * A leader's commit-only append (the new commit index) waits this long for the next append or heartbeat to
 * the same follower, which carries the commit index anyway (src/consensus/commit-notices.ts). At one client
 * the next request's append follows within a few milliseconds, so most commits send one frame per follower
 * instead of two (issue 16). Followers learn an idle commit this much later, except a follower whose own
 * forwarded proposals it commits (told at once) and one that is sent anything else first (a ReadIndex answer).
 */
export const COMMIT_NOTICE_HOLD_MS_DEFAULT = 5
/** Election timeout in ticks: random in [5, 10) ticks = 500–1000 ms at the default tick. */
export const ELECTION_TICKS_DEFAULT = 5
/** Proposals waiting for their result; beyond it propose() throws ConsensusBusyError. */
export const MAX_PENDING_PROPOSALS = 10_000
/** Reads waiting for their ReadIndex; beyond it read() throws ConsensusBusyError. */
export const MAX_PENDING_READS = 10_000
/** A pending proposal or read is re-submitted (same proposal id) after this long without a result. */
export const RETRY_INTERVAL_MS_DEFAULT = 1_000
/** A proposal or read fails with ConsensusTimeoutError after this long. */
export const OPERATION_TIMEOUT_MS_DEFAULT = 10_000
/** Take a snapshot (and compact the log) once this many entries were applied since the last one. */
export const SNAPSHOT_EVERY_ENTRIES_DEFAULT = 10_000
/** Entries kept behind a snapshot for slow followers. */
export const RETAIN_ENTRIES_AFTER_SNAPSHOT_DEFAULT = 1_000
/** Entry bytes per AppendEntries message on the network. */
export const MAX_SIZE_PER_MSG_BYTES = 256 * 1024
/** Pipelined AppendEntries per follower; with the size above, at most 16 MiB in flight to one follower. */
export const MAX_INFLIGHT_MSGS = 64
/**
 * Largest command a node proposes (ProposalTooLargeError above it). With the entry's client id and
 * envelope it stays far inside one Raft frame (MAX_FRAME_BYTES, 3 MiB), so no entry is ever unsendable.
 */
export const MAX_COMMAND_BYTES = 1024 * 1024
/**
 * CBOR data items of an entry payload a leader takes from a follower's forwarded proposal: `{c, t}` is five
 * (its map, two keys, the command's bytes, the time), as every build writes it. More is refused (counted in
 * refusedForwarded) before decoding: a member's 3 MiB Prop of one entry whose payload held one-byte `{}` in an
 * extra key cost the leader ≈ 0.7 s and 220 MB per frame to decode (2026-12-08), the frame's own item bound
 * (FRAME_ITEMS_MAX) counting the payload as one byte string. Apply stays lenient (entry-payload.ts): this
 * bounds intake only.
 */
export const FORWARDED_PAYLOAD_ITEMS_MAX = 5
/** Bad input from one peer (per kind) is logged at most once per this interval; every case is counted. */
export const LOG_INTERVAL_MS_PER_PEER = 60_000
/** Peer-and-kind keys the log limiter remembers; the oldest is forgotten beyond it. */
export const MAX_LOG_LIMITER_KEYS = 4096

/**
 * While the disk cannot take a write (full, EIO), the driver retries the stalled batch this often; it
 * drops inbound messages meanwhile (Raft tolerates loss), so the rest of the cluster carries on.
 */
export const STORAGE_RETRY_INTERVAL_MS = 500

/**
 * A node rejoining after losing its raft directory asks the leader to remove it (so it can be re-added
 * as a learner) at most this often; each request that reaches the leader appends one entry.
 */
export const REJOIN_REQUEST_INTERVAL_MS = 2_000

/**
 * Operator commands one batch envelope carries (issue 16; at most the shape's MAX_BATCH_COMMANDS, which
 * every node enforces on decode). Commands beyond it wait for the next batch.
 */
export const SHAPE_BATCH_COMMANDS_MAX = 64
/**
 * Encoded bytes of one batch's commands (with their reasons). With the envelope's other fields and the
 * signature the signed proposal stays under MAX_PROPOSAL_BYTES (16 KiB), far inside MAX_SIZE_PER_MSG_BYTES.
 * A command that would pass it waits for the next batch.
 */
export const SHAPE_BATCH_BYTES_MAX = 12 * 1024
/**
 * Batches one node has proposed and not yet seen applied. A request that finds fewer in flight is proposed
 * at once (a lone request waits for nothing); the others queue and go out together as the next batch.
 */
export const SHAPE_BATCHES_IN_FLIGHT_MAX = 1
/**
 * How long a node's next batch may wait, after a batch that answered 2+ callers, for those callers' next
 * requests (src/consensus/proposal-batcher.ts, "Linger"); never more than half of the answered batch's
 * flight. A lone request never waits; a caller that does not come back costs the others at most this.
 */
export const SHAPE_BATCH_LINGER_MAX_MS = 20
/**
 * Operator commands waiting for a batch; beyond it a request fails with ConsensusBusyError (503). The
 * leader's own commands and followers' forwarded groups each have this budget: groups never crowd its own out.
 */
export const SHAPE_BATCH_QUEUE_MAX = 4096
/**
 * Followers' commands of one sender waiting in the leader's batcher (4 full batches): a member flooding
 * requests under fresh sessions fills its share, not the queue; its next group is refused with
 * ConsensusBusyError (not answered, logged once per interval per peer) and it retries.
 */
export const SHAPE_BATCH_QUEUE_SENDER_MAX = 256
/**
 * How often one operator command is submitted again after the envelope carrying it was lost with its
 * leader's term (ProposalLostError, src/consensus/proposal-batcher.ts); after that its caller gets the error
 * (503, safe to retry). Bounds a caller's wait under leadership that keeps changing.
 */
export const SHAPE_BATCH_RESUBMITS_MAX = 3
/**
 * How long `remove-member` and `leave` wait, after demoting a hand-over voter whose signature the attestation
 * chain's next seal needs, for a committed seal that covers its departure (member-removal.ts; docs/CHAIN.md §4).
 * A seal normally comes within two seal intervals (1 s each); past the bound the removal is refused and the node
 * stays a member, demoted. The CLI's timeouts for both commands leave room for it.
 */
export const REMOVAL_SEAL_WAIT_MS = 30_000
/** While it waits, the removal logs its progress this often (each wait is one slice of REMOVAL_SEAL_WAIT_MS). */
export const REMOVAL_SEAL_PROGRESS_MS = 5_000
