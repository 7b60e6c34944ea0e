/**
 * @module membership/core/constants
 * Defaults and limits of membership. The timing defaults aim at "dead" within about 3 s of a crash at a
 * 500 ms heartbeat (issue 4) while a 1 s pause (a GC or a saturated CPU) stays below suspicion.
 */

/** Heartbeat period (up to HEARTBEAT_FULL_RATE_MEMBERS live members; heartbeat-interval.ts beyond). */
export const HEARTBEAT_INTERVAL_MS_DEFAULT = 500
/**
 * Live members (self included) up to which every node heartbeats at the configured period; beyond, the
 * period grows with the member count so the cluster-wide heartbeat rate stays bounded (issue 16).
 */
export const HEARTBEAT_FULL_RATE_MEMBERS = 16
/** phi above which a member is suspect (Akka's and Cassandra's default). */
export const PHI_THRESHOLD_DEFAULT = 8
/** Inter-arrival samples kept per member. */
export const PHI_WINDOW_SIZE = 200
/** Floor of the standard deviation (a regular sender must still tolerate jitter). */
export const MIN_STD_DEVIATION_MS_DEFAULT = 100
/** Pause added to the expected interval before silence counts. */
export const ACCEPTABLE_PAUSE_MS_DEFAULT = 1000
/** Period at which the membership service ticks the table (its clock for suspicion and death). */
export const TICK_INTERVAL_MS_DEFAULT = 100
/**
 * A tick later than its period by at least this much means this node's own event loop stalled (a starved
 * CPU, a GC pause): the excess is not counted as peers' silence (issue 16: on a saturated machine every
 * member turned suspect at once after each stall of the observer, and the suspicion pings then closed live
 * connections). Cassandra's failure detector ignores the observer's own pauses the same way. Shorter
 * lateness is left to ACCEPTABLE_PAUSE_MS_DEFAULT: excusing every late tick of a busy loop also delays the
 * detection of a member that really died (with 250 ms, kill → dead everywhere took 12–15 s in two 10-node
 * runs at load ≈ 20, against 8–10 s in earlier runs at that load). Not excused for a member with no
 * connection left (member-table.ts excuseOwnStall): nothing of its own can be waiting.
 */
export const LOCAL_STALL_MIN_MS = 1000
/** A suspect member is declared dead after staying suspect this long. */
export const DEAD_AFTER_SUSPECT_MS_DEFAULT = 700
/**
 * How long a node that starts hearing heartbeats itself (an observer promoted to voter, a node back in full
 * mode) waits for a connection to a voter it had none to, or for the first heartbeat of any other member,
 * before judging that member's silence (member-table.ts rebase). A member's heartbeats cannot reach it until
 * it has dialled the member: in
 * 50-node runs a new voter's dials took up to 4 s on 2 cores, and phi then declared 6–96 live members dead
 * at every formation (issue 16, docs/bench/scale.md "…a new voter that judged members it could not hear yet").
 * Below the dial timeout (20 s): a member whose dial is refused is judged at once (nothing listens there).
 */
export const LISTEN_CONNECT_GRACE_MS = 10_000
/**
 * The longest a member is awaited after a rebase (or after a digest added it) while a leader's digests keep
 * vouching for it (member-table.ts vouch): the leader heard it, this node not yet. New voters at 50 nodes heard the
 * last starved observers 10–12 s after their promotion (issue 16, docs/bench/scale.md); past this, a member still
 * unheard is judged on its own silence (suspect at once), whatever the digests say.
 */
export const VOUCHED_AWAIT_MAX_MS = 3 * LISTEN_CONNECT_GRACE_MS
/**
 * An observer turns a live member dead when the digest no longer lists it (the voter removed it after its death)
 * — at once when the digest comes from the voter whose digest last listed it, but only after this long unlisted
 * when another voter sends it (member-table.ts adopt): a new leader's table may not hold a member yet. While a 50-node
 * fleet formed, a voter elected mid-formation had never heard three joiners its predecessor listed (their
 * heartbeats reached the seed only), and 44 observers declared them dead on its first digest (issue 16,
 * docs/bench/scale.md). The wait covers the new leader's own wait for a connection (LISTEN_CONNECT_GRACE_MS).
 */
export const DIGEST_UNLISTED_GRACE_MS = LISTEN_CONNECT_GRACE_MS
/** A dead or left member is forgotten (removed) after this long. */
export const REMOVE_AFTER_MS_DEFAULT = 60_000
/** With a connection-close hint, suspicion starts at this fraction of the threshold. */
export const HINTED_THRESHOLD_FACTOR = 0.5
/** Members tracked; heartbeats from further new nodes are dropped (counted) beyond it. */
export const MAX_MEMBERS = 1024
/** Largest encoded heartbeat accepted. */
export const MAX_HEARTBEAT_BYTES = 8 * 1024
/**
 * Largest protocol level a heartbeat may advertise (a later build's level passes; the leader never raises
 * above its own). Above it, or not an integer from 1: the heartbeat is malformed.
 */
export const MAX_PROTOCOL_LEVEL = 65_535
/**
 * Addresses and labels a heartbeat may carry. The config schema checks `membership.labels` against the label
 * limits (config/schema.ts): a node whose labels every peer would drop refuses to start instead.
 */
export const MAX_ADDRESSES = 16
/** Longest address a heartbeat may carry, in UTF-16 code units. */
export const MAX_ADDRESS_CHARS = 256
export const MAX_LABELS = 32
/** Longest label key and value, in UTF-16 code units (JavaScript string length). */
export const MAX_LABEL_KEY_CHARS = 63
export const MAX_LABEL_VALUE_CHARS = 256
/** Roles a heartbeat may list, and the longest role name, in UTF-16 code units. */
export const MAX_ROLES = 8
export const MAX_ROLE_CHARS = 32
/** Events kept for `revoada members` and the API. */
export const MAX_RECENT_EVENTS = 256
/**
 * Members of this node's applied Raft configuration above which membership runs tiered (docs/MEMBERSHIP.md,
 * "Large clusters"): only voters receive heartbeats and detect; the leader publishes a liveness digest that
 * the other members take their view from. At or below it every member receives every heartbeat, as before.
 */
export const TIERED_ABOVE_MEMBERS = HEARTBEAT_FULL_RATE_MEMBERS
/** Period at which the leader of a tiered cluster publishes its liveness digest. */
export const DIGEST_INTERVAL_MS = 1000
/**
 * Every this many digests the leader sends every member's state in full (the others carry a member's state
 * only when it changed: core/tier.ts compactDigest), so a non-voter that missed a full entry catches up.
 */
export const DIGEST_FULL_EVERY = 10
/**
 * Free storage (capacity.storageBytes, the data directory's free bytes) moves with every write on the disk: a
 * drift within this fraction of the value last sent in full is no change for the digest (the periodic full
 * digest still refreshes it).
 */
export const DIGEST_STORAGE_DRIFT = 0.01
/**
 * A tiered non-voter with no digest from a voter for this long listens to heartbeats again and detects on its
 * own (full mode) until digests come back: a dead leader's successor needs an election (≈ 1 s) before it
 * publishes, and the cluster must never go blind.
 */
export const DIGEST_STALE_MS = 3000
/**
 * A joiner (core/joiner.ts) connected for this long without a digest, or this long after the last one, listens
 * to heartbeats again (its dials stay bounded): its seed is a follower (digests go only from the leader to its
 * direct peers) that could not name the leader, or runs an older build. Far longer than DIGEST_STALE_MS: a joiner detects for nobody, and in a
 * fleet of 50 booting together on 2 cores the starved seed's first digest reached a joiner 13–17 s after it
 * connected (docs/bench/scale.md, "Quiet joiners"), so at 10 s a third of the joiners fell back and the seed
 * relayed heartbeats to them again. The price: a joiner whose seeds name no leader (an older build has no leader
 * question, JOINER_LEADER_ASK_MS) waits this long for its fallback.
 */
export const JOINER_DIGEST_STALE_MS = 20_000
/**
 * A joiner connected for this long without a digest, or this long after the last one, asks its connected peers
 * (seeds first) which node leads, over the address lookup (membership/address-lookup.ts), and adds the answer to
 * the peers it dials (core/joiner.ts): a seed that is a follower — a join string naming any member, or a seed
 * deposed while a fleet forms — knows the leader and its addresses, so the joiner need not wait
 * JOINER_DIGEST_STALE_MS for its fallback. Asked again after JOINER_LEADER_ASK_MS, then twice as long each time up
 * to JOINER_LEADER_ASK_MAX_MS, while no digest comes.
 */
export const JOINER_LEADER_ASK_MS = 2000
export const JOINER_LEADER_ASK_MAX_MS = 16_000
/** Largest encoded liveness digest accepted (1024 members of ≈ 500 bytes fit). */
export const MAX_DIGEST_BYTES = 1024 * 1024
/**
 * Digest senders whose newest (generation, seq) a node keeps for the replay check; beyond it the sender heard
 * from least recently is forgotten (its next digest is taken as a first one). Only a joiner takes digests from
 * senders its configuration does not list (core/joiner.ts): any key holder can sign with as many identities as
 * it likes, and each was kept for the life of the process. A node with a configuration keeps only its voters'.
 * Far above any configuration's voter count (etcd runs 3 to 7), so nothing honest is forgotten.
 */
export const MAX_DIGEST_SENDERS = 64

/**
 * Ring neighbours on each side that a tiered observer stays connected to besides the voters (core/links.ts;
 * config `membership.observerRingNeighbours`). 2: four observer links keep the observers' graph connected
 * through any single failure and give gossipsub's content mesh (D = 3) enough peers; measured in
 * docs/bench/scale.md "Bounded connections for observers".
 */
export const OBSERVER_RING_NEIGHBOURS_DEFAULT = 2
