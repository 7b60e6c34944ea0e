/**
 * @module membership/core/links
 * Which members a tiered observer stays connected to (issue 16), pure. Every connection costs both ends
 * memory (≈ 1.5 MB) and idle work (pings, gossipsub heartbeats), so an observer does not keep one to every
 * member: it keeps the voters of its configuration (Raft, the digest and its heartbeats travel over those) and
 * its `k` nearest neighbours on each side of a ring of the configuration's other members (they carry content
 * announcements and the heartbeats relayed when it listens again). Both ends of a link compute it from the same
 * configuration and the relation is symmetric, so one end never closes a connection the other keeps redialling;
 * the ring keeps the observers connected among themselves even without the voters.
 */
import { isVoterIn } from './tier.js'
import type { RaftMembers } from './tier.js'

/** The members of `conf` that do not vote (learners of either half), sorted: the observers' ring. */
export function observerRing (conf: RaftMembers): string[] {
  const ring = new Set([...conf.learners, ...conf.learnersNext].filter((id) => !isVoterIn(conf, id)))
  return [...ring].sort()
}

/**
 * The peers observer `self` keeps: every voter of `conf` and the `k` ring neighbours on each side (all other
 * observers when the ring has at most 2k + 1 of them). Undefined when `self` is no observer of `conf`: then
 * this node keeps every connection, as before tiering.
 */
export function keptPeers (conf: RaftMembers, self: string, k: number): Set<string> | undefined {
  if (isVoterIn(conf, self)) return undefined
  const ring = observerRing(conf)
  const at = ring.indexOf(self)
  if (at < 0) return undefined
  const kept = new Set([...conf.voters, ...conf.votersOutgoing])
  const reach = Math.min(Math.max(0, Math.floor(k)), Math.floor((ring.length - 1) / 2))
  for (let step = 1; step <= reach; step++) {
    kept.add(ring[(at + step) % ring.length]!)
    kept.add(ring[(at - step + ring.length) % ring.length]!)
  }
  // An even ring with 2k + 1 ≥ its size: the member opposite is within k on both sides.
  if (2 * reach + 1 < ring.length && 2 * k + 1 >= ring.length) kept.add(ring[(at + ring.length / 2) % ring.length]!)
  kept.delete(self)
  return kept
}

/**
 * Whether a voter must relay a heartbeat that the relay rule (core/relay.ts `needsRelay`) would forward. In
 * tiered mode an observer's `reach` is its few kept peers, below the live member count, so that rule forwards
 * every observer heartbeat — yet while only voters listen, each already has its copy straight from the author
 * (every voter is connected to every member), and the forwarded copies go to the other voters for nothing.
 * False when every known listener (subscriber of the heartbeat topic) but the author is a voter of `conf`;
 * an observer back on heartbeats, a joiner or a node in full mode listening brings the relaying back.
 */
export function voterMustRelay (listeners: readonly string[], author: string, conf: RaftMembers): boolean {
  return listeners.some((peer) => peer !== author && !isVoterIn(conf, peer))
}
