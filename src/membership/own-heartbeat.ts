/**
 * @module membership/own-heartbeat
 * A node refuses to start with a heartbeat its peers would drop. Peers drop a heartbeat that fails their
 * validator (core/validate.ts: 32 labels, key and value lengths…) or encodes to more than
 * MAX_HEARTBEAT_BYTES; nothing tells the sender, so a joiner with too many labels waits for admission until
 * its join timeout (and blames the leader), and a member that restarts with them is judged dead by everyone.
 * The config schema holds `membership.labels` to the validator's limits; the size depends on every field
 * together, so it is checked here, once, when membership starts. The addresses alone may change while the node
 * runs (a new listen address): each heartbeat carries only those that keep it within the limits
 * (`addressesThatFit`).
 */
import { encodeCanonical } from '../codec/index.js'
import { parseNodeState } from './core/index.js'
import type { NodeState } from './core/index.js'
import { MAX_ADDRESS_CHARS, MAX_ADDRESSES, MAX_HEARTBEAT_BYTES, MAX_MEMBERS, MAX_ROLE_CHARS, MAX_ROLES } from './core/constants.js'
import { HeartbeatInvalidError, HeartbeatTooLargeError } from './errors.js'

/**
 * `self` with every field that changes while the node runs at the largest value a peer accepts: counters at
 * 2^53 − 1, `reach` at MAX_MEMBERS, leaving, and MAX_ROLES roles of MAX_ROLE_CHARS (the roles come from the
 * committed shape, which this layer does not read). Labels, versions and the node's identity do not change
 * while it runs; its addresses may (a new listen address), and are taken as they are (`addressesThatFit`).
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

/**
 * The first of `addresses`, in order, that keep every heartbeat `self` may send acceptable to its peers: none
 * longer than MAX_ADDRESS_CHARS, at most MAX_ADDRESSES, and the largest heartbeat within `bytesMax`. A heartbeat
 * peers drop leaves its sender judged dead by everyone; an address left out only costs a dial path.
 */
export function addressesThatFit (self: NodeState, addresses: readonly string[], bytesMax = MAX_HEARTBEAT_BYTES): string[] {
  const largest = largestHeartbeat(self)
  const fits = (list: readonly string[]): boolean => encodeCanonical({ ...largest, addresses: list }).length <= bytesMax
  const kept = addresses.filter((a) => a.length <= MAX_ADDRESS_CHARS).slice(0, MAX_ADDRESSES)
  let count = kept.length
  while (count > 0 && !fits(kept.slice(0, count))) count--
  return kept.slice(0, count)
}
