/**
 * @module test/consensus/sim/constants
 * Every limit of the deterministic simulator, named, with its unit. The seed picks values inside these
 * ranges; nothing else in the simulator hard-codes a number that bounds a run.
 */

/** Safety-phase ticks when `--steps` is not given (faults are injected during these ticks). */
export const DEFAULT_STEPS = 3_000
/** Liveness phase: ticks allowed after healing for a leader to be elected and every proposal to resolve. */
export const LIVENESS_TICKS_MAX = 1_500
/** Voter counts a seed may pick. */
export const VOTER_COUNTS = [3, 5, 7] as const
/** Learners a seed may add at start, at most. */
export const LEARNERS_MAX = 2
/** Extra nodes that membership changes may bring in during a run, at most (bounds the id space). */
export const SPARE_NODES_MAX = 2
/** Concurrent clients, at most (each has one operation outstanding at a time). */
export const CLIENTS_MAX = 5
/** Keys the clients touch; few keys mean many conflicting operations per key. */
export const KEYS_COUNT = 3
/** A client retries an operation not resolved within this many ticks (puts keep their proposal id). */
export const CLIENT_RETRY_TICKS = 40
/** Election timeout base in ticks (the core randomizes in [electionTicks, 2*electionTicks)). */
export const ELECTION_TICKS = 10
/** Heartbeat interval in ticks. */
export const HEARTBEAT_TICKS = 2
/** Heartbeat interval toward learners in ticks (slower, as in production: LEARNER_HEARTBEAT_TICKS_DEFAULT). */
export const LEARNER_HEARTBEAT_TICKS = 20
/** Network delay upper bound a seed may pick, in ticks. */
export const NETWORK_DELAY_TICKS_MAX = 4
/** A delay spike holds a message this many extra ticks, at most. */
export const DELAY_SPIKE_TICKS_MAX = 30
/** Messages in flight at once, at most; beyond it new messages are dropped (a congested network). */
export const NETWORK_IN_FLIGHT_MAX = 20_000
/** Ready batches handled per node per tick, at most (the core must settle; more means a livelock). */
export const READY_ROUNDS_PER_TICK_MAX = 50
/** Mean ticks between two fault events in the safety phase; the seed picks it in [min, max]. */
export const FAULT_INTERVAL_TICKS_MIN = 4
export const FAULT_INTERVAL_TICKS_MAX = 120
/** Share of seeds that run a fault storm (a fault every FAULT_INTERVAL_TICKS_MIN..STORM_MAX ticks). */
export const FAULT_STORM_RATE = 0.3
export const FAULT_STORM_INTERVAL_TICKS_MAX = 15
/** A flapping partition toggles every this many ticks. */
export const FLAP_PERIOD_TICKS = 7
/** A node takes a snapshot once it has applied this many entries past its last snapshot. */
export const SNAPSHOT_INTERVAL_ENTRIES = 60
/** Entries kept behind a snapshot for slow followers. */
export const SNAPSHOT_RETAIN_ENTRIES = 10
/** Trace events kept for a failure report. */
export const TRACE_EVENTS_MAX = 50
/** Operations a run records, at most (bounds the linearizability search). */
export const HISTORY_OPS_MAX = 3_000
/** Share of seeds in which a majority of the voters is lost for good and a survivor recovers the quorum. */
export const QUORUM_LOSS_RATE = 0.22
/**
 * `revoada recover-quorum` gives up after this many ticks without finishing (the product's 60 s, at about
 * one election timeout a second, is some 60 election timeouts; here 30): the node stops and the operator
 * runs it again.
 */
export const RECOVERY_TIMEOUT_TICKS = 300
/**
 * recover-quorum first listens this long for a leader and runs only when none answers (the product's
 * "3 s, at least three election timeouts": three of the longest randomized election timeouts).
 */
export const RECOVERY_LISTEN_TICKS = 3 * 2 * ELECTION_TICKS
/** How long the recovering leader waits for a caught-up learner to promote first (seeds that choose it). */
export const PROMOTE_WAIT_TICKS = 2 * LEARNER_HEARTBEAT_TICKS
/** After a recovery the policy engine promotes live learners until there are this many voters. */
export const RECOVERY_VOTERS_TARGET = 3
/** Mixed into the seed for the quorum-loss choices, so seeds without a loss replay exactly as before. */
export const QUORUM_LOSS_STREAM = 0x5eed10c5
