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
import { isMemberOf } from './core/quorum.js'
import { parseProtocolLevel, PROTOCOL_LEVEL_MIN } from './shape/core/protocol.js'

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

/**
 * Connected peers sorted by the protocol level they advertise (rolling upgrades, docs/OPERATIONS.md), against
 * the level the cluster runs at (the applied shape's): who may be admitted now, who is below the cluster's
 * level, and who has not been heard yet.
 */
export interface LevelSort {
  /** May be admitted: the cluster runs at level 1, or the peer advertised at least the cluster's level. */
  admit: NodeId[]
  /** Advertised a level below the cluster's: admitting it would make it halt at the first entry it cannot apply (a gated build) or diverge (a build before the gate). */
  below: Array<{ peer: NodeId, advertised: number }>
  /** No heartbeat heard from it since this node started: its level is unknown, so it waits for one. */
  unheard: NodeId[]
}

/**
 * Sorts `peers` (in order) by the level each advertised in its latest heartbeat (`advertised`; undefined
 * when not heard since this node started) against the cluster's level `cluster`. Pure.
 *
 * - At level 1 (PROTOCOL_LEVEL_MIN) every peer may join: every build, also one from before the gate,
 *   applies a level-1 log, whose entries are all v1 envelopes.
 * - Above it a peer is admitted only once it advertised at least `cluster`. One not heard from waits (unknown
 *   is not "high enough", as for `protocolRaise`): a build from before the gate advertises no level, which
 *   reads as 1 once heard, and admitting it before its first heartbeat arrives would let it diverge — the
 *   one failure the gate cannot otherwise stop. The wait is about one gossip delivery: a lonely joiner
 *   heartbeats at once to its first subscriber (membership-service.ts), and the leader runs a round when a
 *   new member is first heard (consensus-service.ts).
 * - An advertised value that is not a level (untrusted input) counts as level 1.
 */
export function sortByLevel (peers: readonly NodeId[], cluster: number, advertised: (peer: NodeId) => number | undefined): LevelSort {
  const sorted: LevelSort = { admit: [], below: [], unheard: [] }
  for (const peer of peers) {
    if (cluster <= PROTOCOL_LEVEL_MIN) {
      sorted.admit.push(peer)
      continue
    }
    const raw = advertised(peer)
    if (raw === undefined) {
      sorted.unheard.push(peer)
      continue
    }
    const level = parseProtocolLevel(raw) ?? PROTOCOL_LEVEL_MIN
    if (level >= cluster) sorted.admit.push(peer)
    else sorted.below.push({ peer, advertised: level })
  }
  return sorted
}

/**
 * What `mayTalkRaft` needs to know about the peer besides the configuration, asked only for a peer the
 * configuration does not list: the transport asks again for every open inbound stream whenever the role or
 * configuration changes (`recheckInbound`), and listing the connected peers for each of them was 5 % of a
 * forming 50-node fleet's leader's CPU (docs/bench/scale.md, "The leader alone, profiled while 50 nodes form").
 */
export interface MayTalkOptions {
  /** The peer is connected: it passed the pre-shared-key handshake, so it holds the cluster key. */
  connected: () => boolean
  /** This node's applied shape records the peer as removed (or left). */
  removed: () => boolean
}

/**
 * True when `peer` may use the Raft protocol with this node.
 *
 * - A peer in this node's applied configuration always may.
 * - Any other connected peer (it holds the cluster key) may, unless this node's applied shape says it was
 *   removed: the applied configuration of any node — voter, learner, joiner — can lag the cluster's, and
 *   the peer it does not know may be the leader, or a candidate whose election needs this node's vote. A
 *   voter that refused them could leave the cluster without a quorum although a majority of the newer
 *   configuration runs (issue 16; etcd's transport likewise accepts any peer not removed). It gives
 *   nothing away that Raft does not already handle: a candidate counts only the voters of its own
 *   configuration, a vote is granted by term and log as to anyone, a stranger's appends only count if they
 *   come from the term's leader, and a node forwards proposals only of its own.
 * - A removed member is refused even while connected, so one that has not learnt of its removal cannot
 *   disrupt the cluster with campaigns (etcd refuses removed members' messages the same way).
 */
export function mayTalkRaft (peer: NodeId, conf: ConfState, options: MayTalkOptions): boolean {
  if (isMemberOf(conf, peer)) return true
  return options.connected() && !options.removed()
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

/**
 * The peers a leader has not heard from since it began leading (issue 16): no answer yet to anything it sent
 * (`recentActive` is false until the first answer, and a leader's progress starts from nothing), and no entry
 * acknowledged. Until a peer answers, the leader knows nothing of its log, so `caughtUpMembers` leaves it out
 * — a new leader sees every learner as lagging for its first round trip. Past the first check-quorum window
 * `recentActive` is cleared again, so the set is meaningful only while the leadership is young; the policy
 * engine bounds its use by time. Undefined when `status` is not a leader's.
 */
export function unheardPeers (status: Pick<RaftStatus, 'id' | 'progress'>): Set<NodeId> | undefined {
  if (status.progress === undefined) return undefined
  const unheard = new Set<NodeId>()
  for (const [id, pr] of Object.entries(status.progress)) {
    if (id !== status.id && !pr.recentActive && pr.match === 0) unheard.add(id)
  }
  return unheard
}
