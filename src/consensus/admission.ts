/**
 * @module consensus/admission
 * How a node that joined the closed cluster becomes a Raft member (issue 6 item 3): the leader sees a
 * connected peer — it passed the pre-shared-key handshake, so it holds the cluster key — that is not yet in
 * the configuration, and commits one configuration change adding it as a learner together with the
 * MeshShape `add-member` command. Learners replicate the full log; only etcd holders vote.
 *
 * One admission at a time (Raft allows one pending configuration change), the next as soon as it is
 * applied; several joiners waiting at once are admitted by one batch and one configuration change
 * (admission-loop.ts).
 */
import type { ConfState, NodeId, RaftStatus } from './core/types.js'

/**
 * New members admitted in one batch envelope of `add-member` commands (admission-loop.ts). Within the
 * shape's MAX_BATCH_COMMANDS (64) and, at ≈ 90 bytes a command, far inside the batch's byte bound; a
 * larger wave takes several batches.
 */
export const ADMISSION_BATCH_MAX = 32
/** How long a refused admission (or a removed member told so) waits before it is tried again. */
export const ADMISSION_RETRY_MS = 2_500
/**
 * Admission rounds restart this often on the leader. Admissions chain without waiting for it; it only
 * picks up a new leader's duty, newly connected peers, and retries.
 */
export const ADMISSION_ROUND_INTERVAL_MS = 500

/** Peers connected to us that the configuration does not know yet, sorted (deterministic order). */
export function candidatesForAdmission (connected: readonly NodeId[], conf: ConfState, self: NodeId): NodeId[] {
  const known = new Set([...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext, self])
  return connected.filter((id) => !known.has(id)).sort()
}

/** What `mayTalkRaft` needs to know about this node and the peer besides the configuration. */
export interface MayTalkOptions {
  /** This node leads its term. */
  isLeader: boolean
  /** This node is a voter (incoming or outgoing) in its own applied configuration. */
  selfIsVoter: boolean
  /** The peer is connected: it passed the pre-shared-key handshake, so it holds the cluster key. */
  connected: boolean
}

/**
 * True when `peer` may use the Raft protocol with this node.
 *
 * - A peer in this node's configuration always may.
 * - A node that is not a voter in its own configuration (a learner, a node not admitted yet, a member
 *   whose applied configuration lags) accepts any connected peer: its configuration may not know the
 *   leader yet — a voter added after its applied configuration, or one elected after the old leader
 *   died — and refusing that leader would leave it behind for good (issue 16). It gives nothing away: a
 *   non-voter has no vote to grant, the core ignores votes from non-voters, and a stranger's appends only
 *   count if they come from the term's leader.
 * - A voter keeps the configuration rule, except that a leader accepts a connected peer it is admitting.
 */
export function mayTalkRaft (peer: NodeId, conf: ConfState, options: MayTalkOptions): boolean {
  const inConf = conf.voters.includes(peer) || conf.votersOutgoing.includes(peer) || conf.learners.includes(peer) ||
    conf.learnersNext.includes(peer)
  if (inConf) return true
  if (!options.connected) return false
  return !options.selfIsVoter || options.isLeader
}

/**
 * The share of the leader's committed log a member must hold (its match index) to count as caught up:
 * etcd's rule for promoting a learner (`isLearnerReady`, 90 %).
 */
export const CAUGHT_UP_MATCH_RATIO = 0.9

/**
 * The members a leader may give a role (issue 16): the leader itself and every peer whose acknowledged log
 * (match index) holds at least CAUGHT_UP_MATCH_RATIO of the committed log and that is not installing a
 * snapshot. A peer in `probe` state counts, as in etcd's rule: a caught-up learner stays in probe after one
 * failed send until a new entry is appended (a heartbeat answer does not end a probe), so requiring
 * `replicate` could withhold a replacement forever in a cluster where nothing else is proposed; whether the
 * peer is alive is the policy's membership check, not this one. A learner that has applied nothing must not become a voter:
 * in a one-voter cluster that makes the quorum two, and every commit then waits for a node that cannot
 * answer (25 nodes booting together on 2 cores stalled that way, docs/bench/scale.md); nor take any other
 * role, which it only runs once its applied shape says so. Undefined when `status` is not a leader's.
 */
export function caughtUpMembers (status: Pick<RaftStatus, 'id' | 'commit' | 'progress'>): Set<NodeId> | undefined {
  if (status.progress === undefined) return undefined
  const needed = Math.floor(status.commit * CAUGHT_UP_MATCH_RATIO)
  const members = new Set<NodeId>([status.id])
  for (const [id, pr] of Object.entries(status.progress)) {
    if (pr.state !== 'snapshot' && pr.match >= needed) members.add(id)
  }
  return members
}
