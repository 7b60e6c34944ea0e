/**
 * @module policy/core/constants
 * Limits and windows of the pure policy layer, with units in the names.
 */

/** A node must have been alive this long before it is promoted (Consul autopilot uses 10 s). */
export const STABILIZATION_MS_DEFAULT = 10_000

/**
 * A holder that gained a role less than this long ago is not chosen by a scale-down of that role: the node
 * an operator (or the policy) just promoted stays, someone else goes (issue 12 item 3).
 */
export const JUST_PROMOTED_MS = 60_000

/**
 * A node that came back from suspect/dead/left less than this long ago ranks after every other candidate,
 * so a restoration picks a steady node when there is one (the damper still applies to the flapper itself).
 */
export const FLAPPED_RECENTLY_MS = 60_000

/** Re-evaluation delay bounds for withheld proposals (ms): never busier than the lower, never later than the upper. */
export const RETRY_DELAY_MS_MIN = 100
export const RETRY_DELAY_MS_MAX = 30_000

/**
 * A proposal the state machine rejected at apply waits this long before it goes again from the same inputs,
 * twice as long after each further rejection in a row, at most REJECTED_RETRY_MS_MAX (rejections.ts). The
 * minimum is the debounce after a settled proposal, when the engine used to propose it again; the maximum is
 * the audit interval's default, so a stuck proposal costs at most one entry per audit.
 */
export const REJECTED_RETRY_MS_MIN = 250
export const REJECTED_RETRY_MS_MAX = 30_000

/**
 * A promotion withheld because every candidate's log lags the leader's is looked at again after this long:
 * replication progress triggers no evaluation of its own.
 */
export const LAGGING_RETRY_MS = 1_000

/**
 * A new leader waits at most this long, and only while no live learner has answered it yet, before its first
 * evaluation: until a learner answers, the leader knows nothing of its log and counts it as lagging. Deciding at
 * once then demotes a dead voter alone (3 → 2 voters) and promotes its replacement one change later, where
 * waiting one round trip lets both go in one joint change (`promote … replacing`, docs/POLICY.md).
 */
export const NEW_LEADER_SETTLE_MS = 2_000

/** How often a new leader looks again while it waits for its first learner's answer. */
export const NEW_LEADER_SETTLE_POLL_MS = 50

/**
 * A member of the committed shape that the leader's membership view has never listed counts as dead after
 * this long from when the leader first missed it (its clocks start over at each leadership). Membership only
 * tracks nodes it has heard, so a holder that died while the whole cluster was down — or one removed from
 * the view before the policy could act on its death — would otherwise keep its roles for good. A minute:
 * past a forming 50-node fleet's convergence (25–30 s, docs/bench/scale.md) and equal to membership's
 * retention of a dead member (REMOVE_AFTER_MS_DEFAULT), so no node it is still learning of is caught.
 */
export const UNLISTED_DEAD_MS = 60_000

/**
 * Bounds of the configured grace (`policy.unlistedDeadMs`). At least a few seconds: below that a member still
 * starting after a site-wide power cut, or one a new leader has not heard yet, would lose its roles on its way
 * back. At most an hour: longer, a holder lost with its site keeps its roles through a whole outage.
 */
export const UNLISTED_DEAD_MS_MIN = 5_000
export const UNLISTED_DEAD_MS_MAX = 3_600_000
