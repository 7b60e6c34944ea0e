/**
 * @module membership/own-heartbeat
 * A node refuses to start with a heartbeat its peers would drop. Peers drop a heartbeat that fails their
 * validator (core/validate.ts: 32 labels, key and value lengths…) or encodes to more than
 * MAX_HEARTBEAT_BYTES; nothing tells the sender, so a joiner with too many labels waits for admission until
 * its join timeout (and blames the leader), and a member that restarts with them is judged dead by everyone.
 * The config schema holds `membership.labels` to the validator's limits; the size depends on every field
 * together, so it is checked here, once, when membership starts.
 */
import { encodeCanonical } from '../codec/index.js'
import { parseNodeState } from './core/index.js'
import type { NodeState } from './core/index.js'
import { MAX_HEARTBEAT_BYTES, MAX_MEMBERS, MAX_ROLE_CHARS, MAX_ROLES } from './core/constants.js'
import { HeartbeatInvalidError, HeartbeatTooLargeError } from './errors.js'

/**
 * `self` with every field that changes while the node runs at the largest value a peer accepts: counters at
 * 2^53 − 1, `reach` at MAX_MEMBERS, leaving, and MAX_ROLES roles of MAX_ROLE_CHARS (the roles come from the
 * committed shape, which this layer does not read). Labels, versions and the node's identity do not change
 * while it runs; NB: its addresses may (a new listen address), and are taken as they are at start.
 */
export function largestHeartbeat (self: NodeState): NodeState {
  const count = Number.MAX_SAFE_INTEGER
  const roles = Array.from({ length: MAX_ROLES }, (_, i) => String(i).padEnd(MAX_ROLE_CHARS, 'r'))
  return { ...self, roles, uptimeMs: count, generation: count, seq: count, leaving: true, reach: MAX_MEMBERS }
}

/**
 * Checks that every heartbeat this node would send is one its peers accept.
 * @returns the largest encoded size, in bytes
 * @throws HeartbeatInvalidError when the peers' validator refuses it
 * @throws HeartbeatTooLargeError when it may encode to more than MAX_HEARTBEAT_BYTES
 */
export function checkOwnHeartbeat (self: NodeState, bytesMax = MAX_HEARTBEAT_BYTES): number {
  const largest = largestHeartbeat(self)
  if (parseNodeState(largest) === null) throw new HeartbeatInvalidError()
  const bytes = encodeCanonical(largest).length
  if (bytes > bytesMax) throw new HeartbeatTooLargeError(bytes, bytesMax)
  return bytes
}
