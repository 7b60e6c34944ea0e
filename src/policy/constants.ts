/**
 * @module policy/constants
 * Limits of the policy engine's IO edge (decision log, gossip, API), with units in the names.
 */
import { MAX_MEMBERS } from '../consensus/shape/core/constants.js'

/** Decisions kept in each node's log (memory and file); the oldest go first. */
export const MAX_DECISIONS = 500
/** The log file is rewritten with only the kept records once it holds this many lines. */
export const DECISION_FILE_LINES_MAX = 2 * MAX_DECISIONS
/**
 * Longest line of the log file read back (bytes); a longer one is skipped unread. A record gossiped is at most
 * DECISION_MESSAGE_BYTES_MAX of CBOR, and its JSON line a few times that at worst (every character escaped).
 */
export const DECISION_LINE_BYTES_MAX = 1024 * 1024
/**
 * Bytes of the log file read back on start at most, from its end (decision-log.ts `load`). An honest file holds
 * at most DECISION_FILE_LINES_MAX lines of a few hundred bytes to a few KiB; a larger one (a damaged disk, a copy)
 * is read this far and rewritten at the next record.
 */
export const DECISION_FILE_READ_BYTES_MAX = 16 * 1024 * 1024
/** The log file under the data dir. */
export const DECISION_FILE_NAME = 'policy/decisions.jsonl'
/** Bytes of one gossiped decision record; larger ones are rejected unread. */
export const DECISION_MESSAGE_BYTES_MAX = 64 * 1024
/**
 * Decision records accepted from one gossip sender per DECISION_SENDER_WINDOW_MS; more are ignored (drop reason
 * `rate`) before they are parsed, logged or written. A leader records only when what it decides changes (132
 * records in 4.6 min of the churn bench with an operator change every 2 s, docs/bench/churn.md).
 */
export const DECISION_RECORDS_PER_SENDER_MAX = 100
export const DECISION_SENDER_WINDOW_MS = 10_000
/**
 * Senders whose window is tracked; the least recently heard is forgotten beyond it. Only members are budgeted
 * (decision-gossip.ts), and every member of the shape fits: none has its spent window forgotten.
 */
export const DECISION_SENDERS_MAX = MAX_MEMBERS
/**
 * Highest record number (`n`) read back from the file; a line above it is skipped as damaged. Far above any
 * real count (one record a millisecond for 100,000 years), and far enough below 2^53 that numbers after it
 * stay distinct: past 2^53 − 1, n + 1 === n and every later record had one number.
 */
export const DECISION_NUMBER_MAX = 2 ** 52
/** Longest a `GET /v1/decisions?wait=` long-poll is held open (ms). */
export const DECISION_WAIT_MS_MAX = 30_000
/** Decisions one API answer carries at most. */
export const DECISION_PAGE_MAX = 200
/** Long-polls waiting at once; more get an immediate (empty) answer rather than queueing without bound. */
export const DECISION_WAITERS_MAX = 64

/** The gossipsub topic the leader publishes its decisions on (every node logs them). */
export function decisionsTopic (clusterId: string): string {
  return `revoada/${clusterId}/decisions/1`
}
