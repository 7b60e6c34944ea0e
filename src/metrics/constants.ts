/**
 * @module metrics/constants
 * Metric names and histogram buckets. Names follow etcd's where the quantity is the same (etcd's
 * `etcd_server_*`, `etcd_disk_*` become `revoada_server_*`, `revoada_disk_*`), so dashboards and alerts
 * written for etcd carry over; quantities etcd has no name for get a `revoada_<layer>_*` name.
 */

export const METRIC_PREFIX = 'revoada_'

/** The current Raft term (etcd exposes it only in its debugging set; same meaning). */
export const TERM = 'revoada_server_term'
/** 1 when this node knows a leader (etcd_server_has_leader). */
export const HAS_LEADER = 'revoada_server_has_leader'
/** 1 when this node is the leader (etcd_server_is_leader). */
export const IS_LEADER = 'revoada_server_is_leader'
/** Leader changes seen by this node (etcd_server_leader_changes_seen_total). */
export const LEADER_CHANGES = 'revoada_server_leader_changes_seen_total'
/** Highest committed index (etcd_server_proposals_committed_total, a gauge in etcd too). */
export const PROPOSALS_COMMITTED = 'revoada_server_proposals_committed_total'
/** Highest applied index (etcd_server_proposals_applied_total). */
export const PROPOSALS_APPLIED = 'revoada_server_proposals_applied_total'
/** Proposals that failed: timeout, no leader, stopped (etcd_server_proposals_failed_total); commands and the attestation layer's seals. */
export const PROPOSALS_FAILED = 'revoada_server_proposals_failed_total'
/** Committed shape commands by outcome (applied / rejected:<code>): no etcd equivalent. */
export const SHAPE_COMMANDS = 'revoada_shape_commands_total'
/** Time to apply one committed command to the state machine (etcd_server_apply_duration_seconds). */
export const APPLY_DURATION = 'revoada_server_apply_duration_seconds'
/** Time of one WAL fsync (etcd_disk_wal_fsync_duration_seconds). */
export const FSYNC_DURATION = 'revoada_disk_wal_fsync_duration_seconds'
/** Gossipsub streams this node reopened to peers that stayed connected after it lost them (net/gossip-streams.ts). */
export const GOSSIP_STREAMS_REOPENED = 'revoada_gossip_streams_reopened_total'
/** Gossipsub streams this node opened itself because gossipsub had not 3 s after the peer connected. */
export const GOSSIP_STREAMS_OPENED_LATE = 'revoada_gossip_streams_opened_late_total'
/** Quiet connections the link monitor pinged (net/link-monitor.ts). */
export const LINK_PINGS = 'revoada_link_pings_total'
/** Connections the link monitor closed because their ping went unanswered: dead links. */
export const LINK_ABORTS = 'revoada_link_aborts_total'
/** Reconnections to a connected voter missing from the heartbeat topic's subscribers (core/voter-subscriptions.ts). */
export const VOTERS_RECONNECTED = 'revoada_membership_voters_reconnected_total'
/** Elections this node started, by cause (consensus/election-log.ts, the `campaigning` line): no etcd equivalent. */
export const CAMPAIGNS = 'revoada_server_campaigns_total'
/** Times this node stopped leading, by reason (the `stepped down as leader` line). */
export const STEP_DOWNS = 'revoada_server_leader_step_downs_total'
/** Raft ticks that fired an election timeout or more late: the process ran nothing for that long (any role). */
export const STALLS = 'revoada_server_stalls_total'
/** Members of this node's membership view by health (alive, suspect, dead, left). */
export const MEMBERS = 'revoada_membership_members'
/** Policy engine outcomes by kind (proposed:<command kind> / withheld:<code>), counted on the leader. */
export const POLICY_DECISIONS = 'revoada_policy_decisions_total'
/** Bytes of content blobs held locally (content layer). */
export const CONTENT_BYTES = 'revoada_content_bytes'
/** Content blobs held locally (content layer). */
export const CONTENT_BLOBS = 'revoada_content_blobs'
/** Height of the attestation chain (attestation layer). */
export const CHAIN_HEIGHT = 'revoada_chain_height'
/** Highest chain height covered by an accepted witness seal (attestation layer); the head minus it is unsealed. */
export const CHAIN_SEALED_HEIGHT = 'revoada_chain_sealed_height'

/** etcd's buckets for the WAL fsync and backend commit histograms: 1 ms to ~8 s, doubling. */
export const FSYNC_BUCKETS_SECONDS = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192]
/** Apply is in-memory work: 10 µs to ~1.3 s, doubling (etcd's apply buckets start at 100 µs). */
export const APPLY_BUCKETS_SECONDS = [0.00001, 0.00002, 0.00004, 0.00008, 0.00016, 0.00032, 0.00064, 0.00128, 0.00256,
  0.00512, 0.01024, 0.02048, 0.04096, 0.08192, 0.16384, 0.32768, 0.65536, 1.31072]

/** Distinct label values a counter may grow to before new ones are folded into `other` (cardinality cap). */
export const LABEL_VALUES_MAX = 64
/** Time the scrape listener gives a connection to send a whole request; one that has not is closed. */
export const SCRAPE_HEADERS_TIMEOUT_MS = 10_000
/**
 * Connections the scrape listener holds at once; one more is closed as it opens. The listener may face the network
 * (`metrics.listen` with a token), and an idle connection is held until SCRAPE_HEADERS_TIMEOUT_MS: without a
 * bound anyone reaching it could hold any number of this process's sockets and file descriptors. A Prometheus
 * server needs one per scrape.
 */
export const SCRAPE_CONNECTIONS_MAX = 16
